package schemas

import (
	"strings"
	"testing"
)

func TestDepthExceeded(t *testing.T) {
	tests := []struct {
		raw  string
		max  int
		want int
	}{
		{`{}`, 1, -1},
		{`{"a":{}}`, 1, 5},
		{`{"a":[{}]}`, 3, -1},
		{`{"a":[{}]}`, 2, 6},
		{`{"a":"[[[[{{{{"}`, 1, -1},      // brackets in strings do not nest
		{`{"a":"\"[[[[","b":[]}`, 1, 18}, // an escaped quote does not end the string
		{`{"a":"\\","b":[]}`, 1, 14},     // an escaped backslash does not escape the quote
		{`]]]]`, 1, -1},                  // garbage is the parser's business
		{`"unterminated [[[`, 1, -1},     // so is an unterminated string
		{strings.Repeat("[", 32) + strings.Repeat("]", 32), 32, -1},
		{strings.Repeat("[", 33), 32, 32},
	}
	for _, tt := range tests {
		if got := depthExceeded([]byte(tt.raw), tt.max); got != tt.want {
			t.Errorf("depthExceeded(%q, %d) = %d, want %d", tt.raw, tt.max, got, tt.want)
		}
	}
}

func TestTopLevelValues(t *testing.T) {
	tests := []struct {
		raw, props, traits string
		ok                 bool
	}{
		{` { } `, "", "", true},
		{`{"properties":{"a":1}}`, `{"a":1}`, "", true},
		{`{"x":1,"traits":{},"y":true,"z":null,"w":-1.5e3}`, "", `{}`, true},
		{"{\t\"properties\"\r\n:\n{ \"a\" : [ ] }\n}", `{ "a" : [ ] }`, "", true},
		{`{"properties":"{\"a\":1}"}`, `"{\"a\":1}"`, "", true},
		{`{"traits":{"a":{"b":{"c":"}}}"}}},"properties":[]}`, `[]`, `{"a":{"b":{"c":"}}}"}}}`, true},
		{`[]`, "", "", false},
		{`{"a"}`, "", "", false},
		{`{"a":1`, "", "", false},
	}
	for _, tt := range tests {
		p, tr, ok := topLevelValues([]byte(tt.raw))
		if string(p) != tt.props || string(tr) != tt.traits || ok != tt.ok {
			t.Errorf("topLevelValues(%q) = %q, %q, %v; want %q, %q, %v", tt.raw, p, tr, ok, tt.props, tt.traits, tt.ok)
		}
	}
}
