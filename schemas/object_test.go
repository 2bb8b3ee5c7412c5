package schemas

import (
	"encoding/json"
	"reflect"
	"testing"
)

// objectTexts are JSON object texts that separate a key scan from a map:
// duplicate and escaped keys, escapes the two JSON libraries decode
// differently, values of every kind, and texts that are not objects.
func objectTexts() []string {
	return []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":"x"}`, `{"a":{"a":2},"b":[{"a":3}]}`,
		`{"\u0061":1,"a":2,"\u0061":3}`, `{"a\"b":1,"a\\b":2,"a/b":3,"a\/b":4}`,
		`{"s":"caf\u00e9 \ud83d\ude00","t":"a\tb","u":"\""}`,
		`{"lone":"\ud800","\udc00":1,"\ufffd":2,"�":3}`, `{"x":["\ud800"],"a":1}`,
		`{"\ufffd":1,"\udc00":2}`, `{"�":1,"\ud800\ud800":2}`, `{"\udc00":1,"\ufffd":2}`,
		// jx reads a lone surrogate before a pair as three U+FFFD,
		// encoding/json as one and the pair.
		`{"\ufffd😀":1,"\ud800\ud83d\ude00":2}`, `{"a":"\ud800\ud83d\ude00"}`,
		`{"n":null,"t":true,"f":false,"z":-0,"e":1e-400,"big":12345678901234567890,"x":1.5E+3}`,
		`{"a":[],"b":{},"c":[[],{}],"d":""}`,
		`{"over":1e309,"a":1}`, `{"a":1} {}`, `{"a":1`, `{"a":01}`, `[{"a":1}]`, `null`, `"a"`, ``,
		"{\"a\":\"\xff\"}", "{\"\xff\":1,\"a\":2}",
	}
}

// checkObjectReads checks that an event whose properties are text reads
// them, whole and key by key, as encoding/json decodes the text: nil for a
// text encoding/json refuses or that is not an object.
func checkObjectReads(t *testing.T, text string, keys ...string) {
	t.Helper()
	var want map[string]any
	if json.Unmarshal([]byte(text), &want) != nil {
		want = nil
	}
	e := Event{RawProperties: []byte(text)}
	for k := range want {
		keys = append(keys, k)
	}
	for _, k := range append(keys, "", "a", "\ufffd", "no such key") {
		fresh := e
		got, ok := fresh.Property(k)
		w, wok := want[k]
		if ok != wok || !reflect.DeepEqual(got, w) {
			t.Errorf("Property(%q) of %q = %#v, %v; encoding/json gives %#v, %v", k, text, got, ok, w, wok)
		}
	}
	if got := e.Properties(); !reflect.DeepEqual(got, want) {
		t.Errorf("Properties() of %q = %#v; encoding/json gives %#v", text, got, want)
	}
	// Decoded, the map answers.
	for k, w := range want {
		if got, ok := e.Property(k); !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("Property(%q) of decoded %q = %#v, %v; want %#v", k, text, got, ok, w)
		}
	}
}

func TestObjectReads(t *testing.T) {
	for _, text := range objectTexts() {
		checkObjectReads(t, text)
	}
}

// FuzzObjectReads is TestObjectReads for any text and key, set by hand
// rather than by Decode, so that the scan is held to encoding/json even
// on texts Decode would never leave.
func FuzzObjectReads(f *testing.F) {
	for _, text := range objectTexts() {
		f.Add(text, "a")
	}
	f.Fuzz(func(t *testing.T, text, key string) {
		checkObjectReads(t, text, key)
	})
}

// TestDecodeLeavesObjectsUndecoded: the fast path builds no map, a key
// read builds none either, and an absent object is nil without decoding
// its "{}".
func TestDecodeLeavesObjectsUndecoded(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	e, inv := v.Decode([]byte(benchEvent), recv)
	if inv != nil {
		t.Fatal(inv)
	}
	if e.properties.decoded || e.properties.m != nil {
		t.Fatalf("Decode decoded the properties: %+v", e.properties)
	}
	if got, ok := e.Property("revenue"); !ok || got != 129.9 {
		t.Errorf("Property(revenue) = %v, %v", got, ok)
	}
	if e.properties.decoded {
		t.Error("Property decoded the whole object")
	}
	if got := e.Properties(); !reflect.DeepEqual(got, map[string]any{"order_id": "o_1001", "revenue": 129.9}) {
		t.Errorf("Properties() = %v", got)
	}
	if !e.traits.decoded || e.Traits() != nil || string(e.RawTraits) != "{}" {
		t.Errorf("absent traits: %+v, text %s", e.traits, e.RawTraits)
	}
}

// TestSetObjects: SetRawProperties replaces a decoded value with the new
// text's; SetProperties gives the value without text.
func TestSetObjects(t *testing.T) {
	var e Event
	if e.Properties() != nil || e.Traits() != nil {
		t.Error("an Event without text has properties")
	}
	e.SetRawProperties([]byte(`{"a":1}`))
	if got := e.Properties()["a"]; got != 1.0 {
		t.Errorf("a = %v", got)
	}
	e.SetRawProperties([]byte(`{"a":2}`))
	if got, _ := e.Property("a"); got != 2.0 {
		t.Errorf("after SetRawProperties, a = %v", got)
	}
	if got := e.Properties()["a"]; got != 2.0 {
		t.Errorf("after SetRawProperties, Properties()[a] = %v", got)
	}
	e.SetTraits(map[string]any{"b": "x"})
	if got, ok := e.Trait("b"); !ok || got != "x" {
		t.Errorf("Trait(b) = %v, %v", got, ok)
	}
	e.SetRawTraits([]byte(`{}`))
	if got, ok := e.Trait("b"); ok {
		t.Errorf("after SetRawTraits, Trait(b) = %v", got)
	}
}

// TestObjectValuesDoNotAliasText: what Property and Properties return
// stays as it is when the text's memory is reused, as RawProperties may be
// by its owner.
func TestObjectValuesDoNotAliasText(t *testing.T) {
	text := []byte(`{"s":"value","a":["value"]}`)
	e := Event{RawProperties: text}
	s, _ := e.Property("s")
	a, _ := e.Property("a")
	fresh := e
	m := fresh.Properties()
	for i := range text {
		text[i] = ' '
	}
	want := map[string]any{"s": "value", "a": []any{"value"}}
	if s != "value" || !reflect.DeepEqual(a, want["a"]) || !reflect.DeepEqual(m, want) {
		t.Errorf("after the text changed: Property(s) = %q, Property(a) = %q, Properties() = %v", s, a, m)
	}
}

// BenchmarkObjectLookup compares what a rule's read of one key costs:
// scanning the text for the key (Property before any decoding, what rules
// do), decoding the object into a map first (Properties, what every event
// paid before), and reading the map once decoded.
func BenchmarkObjectLookup(b *testing.B) {
	// Objects as internal/gen writes them, read by the keys the example
	// journey map's rules read.
	for _, tc := range []struct{ name, text, key string }{
		{"review/rating", `{"rating":5,"site":"g2"}`, "rating"},
		{"identify/company_size", `{"email":"user-000042@example.com","company_size":120,"industry":"software"}`, "company_size"},
		{"order/missing", `{"order_id":"o_1a2b3c4d5e","revenue":1299.5,"currency":"USD","plan":"pro"}`, "rating"},
		{"order/string", `{"order_id":"o_1a2b3c4d5e","revenue":1299.5,"currency":"USD","plan":"pro"}`, "plan"},
		{"absent/missing", `{}`, "company_size"},
	} {
		text := []byte(tc.text)
		b.Run(tc.name+"/scan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := Event{RawProperties: text}
				e.Property(tc.key)
			}
		})
		b.Run(tc.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := Event{RawProperties: text}
				_ = e.Properties()[tc.key]
			}
		})
		b.Run(tc.name+"/decoded", func(b *testing.B) {
			e := Event{RawProperties: text}
			e.Properties()
			b.ReportAllocs()
			for b.Loop() {
				e.Property(tc.key)
			}
		})
	}
}
