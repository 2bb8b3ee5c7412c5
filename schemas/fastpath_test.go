package schemas

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/internal/gen"
)

// checkFastPath decodes raw with both decoders and fails t if the fast path
// accepted what the reference rejects, or decoded it differently. It
// reports whether the fast path accepted.
func checkFastPath(t testing.TB, v *Validator, raw []byte, at time.Time) bool {
	t.Helper()
	if v.precheck(raw) != nil {
		return false
	}
	var fast, owned Event
	ok := v.decodeFast(raw, at, &fast, false)
	// The owned variant over its own copy, as DecodeOwned is used.
	okOwned := v.decodeFast(append([]byte(nil), raw...), at, &owned, true)
	if okOwned != ok || !reflect.DeepEqual(decoded(owned), decoded(fast)) {
		t.Errorf("owned fast path differs on %s: accepted %v vs %v\nowned: %#v\n copy: %#v",
			truncate(string(raw), 300), okOwned, ok, owned, fast)
	}
	ref, inv := v.decodeReference(raw, at)
	switch {
	case !ok:
		if !reflect.DeepEqual(fast, Event{}) {
			t.Errorf("fast path declined %s but left %+v", truncate(string(raw), 300), fast)
		}
	case inv != nil:
		t.Errorf("fast path accepted %s; the reference rejects it: %v", truncate(string(raw), 300), inv)
	case !reflect.DeepEqual(decoded(fast), decoded(ref)):
		t.Errorf("fast path and reference decode %s differently:\nfast: %#v\n ref: %#v",
			truncate(string(raw), 300), decoded(fast), decoded(ref))
	default:
		// The reference's maps are what every read of the fast path's
		// event must give, key by key too.
		checkLookups(t, fast, ref.Properties(), ref.Traits())
		checkLookups(t, owned, ref.Properties(), ref.Traits())
	}
	return ok
}

// decoded returns e with its properties and traits decoded, so that
// reflect.DeepEqual compares their values whether or not anything had
// read them: an event of the fast path decodes them on first use, one of
// the reference path comes with them.
func decoded(e Event) Event {
	e.Properties()
	e.Traits()
	return e
}

// checkLookups checks that Property and Trait read from e, before any
// decoding, the values of the maps props and traits, key by key, and
// report a missing key as missing.
func checkLookups(t testing.TB, e Event, props, traits map[string]any) {
	t.Helper()
	for _, o := range []struct {
		name   string
		want   map[string]any
		lookup func(e *Event, key string) (any, bool)
	}{
		{"Property", props, (*Event).Property},
		{"Trait", traits, (*Event).Trait},
	} {
		keys := []string{"", "missing key", "\ufffd"}
		for k := range o.want {
			keys = append(keys, k)
		}
		for _, k := range keys {
			fresh := e // each key read from the text, as the first read is
			got, ok := o.lookup(&fresh, k)
			want, wantOK := o.want[k]
			if ok != wantOK || !reflect.DeepEqual(got, want) {
				t.Errorf("%s(%q) of %s, %s = %#v, %v; the map holds %#v, %v",
					o.name, k, e.RawProperties, e.RawTraits, got, ok, want, wantOK)
			}
		}
	}
}

// decode is Decode with the two decoders compared, so that every test that
// decodes through it is also a differential test of the fast path.
func decode(t testing.TB, v *Validator, raw []byte, at time.Time) (Event, *Invalid) {
	t.Helper()
	checkFastPath(t, v, raw, at)
	return v.Decode(raw, at)
}

// TestFastPathTakesGeneratedEvents feeds the stream the benchmark harness
// and the end-to-end tests use, defects included. Every valid event must take
// the fast path, or the fast path is not what production runs; no invalid
// one may.
func TestFastPathTakesGeneratedEvents(t *testing.T) {
	const n = 20_000
	cfg := gen.DefaultConfig()
	v := newValidator(t, DefaultLimits())
	g := gen.New(cfg)
	var valid, fallbacks, invalid int
	for range n {
		m, ok := g.Next()
		if !ok {
			t.Fatalf("the generator ended before %d messages", n)
		}
		fast := checkFastPath(t, v, m.Value, m.Time)
		switch {
		case m.Invalid != "":
			invalid++
			if fast {
				t.Errorf("fast path accepted a %s defect: %s", m.Invalid, truncate(string(m.Value), 300))
			}
		case !fast:
			fallbacks++
			if fallbacks <= 5 {
				_, inv := v.Decode(m.Value, m.Time)
				t.Errorf("valid event took the reference path (Decode: %v): %s", inv, m.Value)
			}
		default:
			valid++
		}
	}
	t.Logf("%d valid events on the fast path, %d on the reference path, %d invalid", valid, fallbacks, invalid)
	if fallbacks > 0 {
		t.Errorf("%d of %d valid events took the reference path", fallbacks, valid+fallbacks)
	}
	if invalid == 0 || valid == 0 {
		t.Errorf("stream had %d valid and %d invalid events; want both", valid, invalid)
	}
}

// TestFastPathTestdata: each valid sample takes the fast path unless it is
// one of the rarities left to the reference.
func TestFastPathTestdata(t *testing.T) {
	reference := map[string]string{
		"identify_anonymous_only_leap_second.json": "a leap second",
	}
	v := newValidator(t, testdataLimits())
	for _, in := range testdataInputs(t) {
		fast := checkFastPath(t, v, in.raw, recv)
		base := in.name[strings.LastIndexByte(in.name, '/')+1:]
		why, slow := reference[base]
		switch {
		case strings.Contains(in.name, "invalid"):
			if fast {
				t.Errorf("%s: invalid sample took the fast path", in.name)
			}
		case slow && fast:
			t.Errorf("%s has %s, which the fast path should leave to the reference", in.name, why)
		case !slow && !fast:
			t.Errorf("%s took the reference path", in.name)
		}
	}
}

type fastPathEdge struct {
	name string
	raw  string
	fast bool // whether the fast path takes it
}

// fastPathEdges are the traps of equivalence between the two decoders.
func fastPathEdges() []fastPathEdge {
	const id = `"event_id":"e","type":"identify","user_id":"u"`
	return []fastPathEdge{
		{"whitespace around", " \t\r\n{" + id + "} \n", true},
		{"escaped key is the key", `{"event_id":"e","type":"identify","user\u005fid":"u"}`, true},
		{"escaped values", `{` + id + `,"properties":{"url":"https:\/\/x\/y","q":"\"\\\b\f\n\r\t","e":"caf\u00e9"}}`, true},
		{"surrogate pair", `{` + id + `,"properties":{"s":"\ud83d\ude00"}}`, true},
		// Properties and traits are checked, not decoded, on the fast path:
		// escapes the two libraries decode differently are left to
		// decodeObject, which decodes them as encoding/json does.
		{"lone surrogate", `{` + id + `,"properties":{"s":"\ud800"}}`, true},
		{"surrogate then pair", `{` + id + `,"properties":{"s":"\ud800\ud83d\ude00"}}`, true},
		{"lone surrogate in a key", `{` + id + `,"properties":{"\udc00":1,"\ufffd":2}}`, true},
		{"lone surrogate nested", `{` + id + `,"traits":{"a":[{"\udc00":"\udc00"}]}}`, true},
		{"lone surrogate in a known string", `{` + id + `,"event":"\ud800"}`, false},
		{"lone surrogate in context", `{` + id + `,"context":{"page":{"path":"\ud800"}}}`, false},
		{"literal replacement character", `{` + id + `,"properties":{"s":"�"}}`, true},
		{"escaped replacement character", `{` + id + `,"properties":{"s":"\uFFFD"}}`, true},
		{"escaped key in properties", `{` + id + `,"properties":{"\u0061":1,"b\"":2}}`, true},
		{"duplicate known key", `{` + id + `,"user_id":"v"}`, false},
		{"duplicate context key", `{` + id + `,"context":{"locale":"a","locale":"b"}}`, false},
		{"duplicate unknown key", `{` + id + `,"x":1,"x":[2]}`, true},
		{"duplicate key in properties", `{` + id + `,"properties":{"a":1,"a":{"b":2}}}`, true},
		{"duplicate key in properties, escaped", `{` + id + `,"properties":{"a":1,"\u0061":"x","b":2}}`, true},
		{"properties not an object", `{` + id + `,"properties":[]}`, false},
		{"traits not an object", `{` + id + `,"traits":"t"}`, false},
		{"numbers", `{` + id + `,"properties":{"a":-0,"b":1e-400,"c":12345678901234567890,"d":1.5E+3,"e":[0.1,-2]}}`, true},
		{"number beyond float64 in properties", `{` + id + `,"properties":{"a":1e309}}`, false},
		{"number beyond float64 under an unknown key", `{` + id + `,"x":{"y":[-1e400]}}`, false},
		{"number beyond float64 in context", `{` + id + `,"context":{"x":1e999}}`, false},
		{"empty containers", `{` + id + `,"properties":{"a":[],"b":{}},"traits":{}}`, true},
		{"literals", `{` + id + `,"properties":{"t":true,"f":false,"n":null}}`, true},
		{"leading zero", `{` + id + `,"x":01}`, false},
		{"bare dot", `{` + id + `,"x":1.}`, false},
		{"trailing value", `{` + id + `} {}`, false},
		{"trailing comma", `{` + id + `,}`, false},
		{"control character in a string", "{" + id + ",\"event\":\"a\x01b\"}", false},
		{"invalid escape", `{` + id + `,"event":"\x"}`, false},
		{"short unicode escape", `{` + id + `,"event":"\u12"}`, false},
		{"top-level array", `[{` + id + `}]`, false},
		{"timestamp with offset and nanoseconds", `{` + id + `,"timestamp":"2025-03-01T12:30:00.123456789+01:00","sent_at":"2025-03-01T12:30:01-00:30"}`, true},
		{"timestamp lower case", `{` + id + `,"timestamp":"2025-03-01t11:00:00z"}`, true},
		{"timestamp with ten fraction digits", `{` + id + `,"timestamp":"2025-03-01T11:00:00.1234567891Z"}`, true},
		{"leap second", `{` + id + `,"timestamp":"2016-12-31T23:59:60Z"}`, false},
		{"31 February", `{` + id + `,"timestamp":"2025-02-31T11:00:00Z"}`, false},
		{"hour 24", `{` + id + `,"timestamp":"2025-03-01T24:00:00Z"}`, false},
		{"offset hour 24", `{` + id + `,"timestamp":"2025-03-01T11:00:00+24:00"}`, false},
		{"space for T", `{` + id + `,"timestamp":"2025-03-01 11:00:00Z"}`, false},
		{"future", `{` + id + `,"timestamp":"2026-03-01T11:00:00Z"}`, false},
		{"before 1970", `{` + id + `,"timestamp":"1969-03-01T11:00:00Z"}`, false},
		{"256 runes", `{"event_id":"e","type":"identify","user_id":"` + strings.Repeat("é", 256) + `"}`, true},
		{"257 runes", `{"event_id":"e","type":"identify","user_id":"` + strings.Repeat("é", 257) + `"}`, false},
		{"empty user_id, anonymous_id", `{"event_id":"e","type":"identify","user_id":"","anonymous_id":"a"}`, true},
		{"page name", `{"event_id":"e","type":"page","event":"","name":"Pricing","anonymous_id":"a"}`, true},
		{"schema_version v1", `{"schema_version":"v1",` + id + `}`, true},
		{"track without event", `{"event_id":"e","type":"track","user_id":"u"}`, false},
		{"depth 32", `{` + id + `,"properties":{"a":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}}`, true},
		{"depth 33", `{` + id + `,"properties":{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}}`, false},
		{"depth 33 under an unknown key", `{` + id + `,"x":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`, false},
		{"deep trailing garbage", `{` + id + `}` + strings.Repeat("[", 100_000), false},
		{"deep unterminated properties", `{` + id + `,"properties":{"a":` + strings.Repeat("[", 100_000), false},
	}
}

// TestFastPathEdges pins which side of the line each trap falls on;
// checkFastPath holds both sides to the reference's result.
func TestFastPathEdges(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	for _, tt := range fastPathEdges() {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFastPath(t, v, []byte(tt.raw), recv); got != tt.fast {
				_, inv := v.Decode([]byte(tt.raw), recv)
				t.Errorf("fast path = %v, want %v (Decode: %v)", got, tt.fast, inv)
			}
		})
	}
}

// FuzzFastPathAgrees: whatever the input, an event that the fast path
// accepts is one that the reference accepts, decoded identically.
func FuzzFastPathAgrees(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s.raw, s.clamp, false)
	}
	for _, e := range fastPathEdges() {
		f.Add([]byte(e.raw), false, false)
	}
	g := gen.New(gen.DefaultConfig())
	for range 30 {
		m, _ := g.Next()
		f.Add(m.Value, false, false)
	}
	l := testdataLimits()
	var validators [2][2]*Validator // [clamp][shallow]
	for _, clamp := range []bool{false, true} {
		for _, shallow := range []bool{false, true} {
			l.ClampFuture = clamp
			l.MaxDepth = 32
			if shallow {
				l.MaxDepth = 3
			}
			validators[b2i(clamp)][b2i(shallow)] = newValidator(f, l)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, clamp, shallow bool) {
		checkFastPath(t, validators[b2i(clamp)][b2i(shallow)], raw, recv)
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFastPathNearValid is a seeded mutation fuzzer with a JSON
// vocabulary: it edits valid events with the pieces that separate the two
// decoders (escapes, surrogates, duplicate keys, extreme numbers, odd
// whitespace, other value types), which byte-level fuzzing rarely
// assembles, and holds the fast path to the reference on every mutant.
func TestFastPathNearValid(t *testing.T) {
	pieces := []string{
		`\u0041`, `\u005f`, `\/`, `\"`, `\\`, `\b`, `\u0000`, `\ud83d\ude00`, `\ud800`, `\udc00`, `\ud800\ud83d\ude00`,
		`\uFFFD`, "\uFFFD", `\x`, `\u12`, "é", "\x01", "\x7f",
		` `, "\t", "\n", "\r", "\v", "\u00a0", "\ufeff",
		`"`, `,`, `:`, `{`, `}`, `[`, `]`, `{}`, `[]`,
		`1e309`, `-1e400`, `1e-400`, `-0`, `01`, `1.`, `.5`, `+1`, `1e+2`, `123456789012345678901234567890`,
		`null`, `true`, `false`, `nul`, `"s"`, `1`,
		`"user_id":"x",`, `"user_id":1,`, `"event_id":"y",`, `"type":"track",`, `"type":"page",`, `"event":"",`,
		`"name":"N",`, `"properties":{"a":1},`, `"traits":[],`, `"context":{"page":{"path":"/p"}},`,
		`"timestamp":"2025-03-01T11:00:00Z",`, `"timestamp":"2016-12-31T23:59:60Z",`, `"sent_at":"2025-03-01t11:00:00.5+01:00",`,
		`"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],`,
	}
	var bases [][]byte
	bases = append(bases, []byte(benchEvent))
	for _, in := range testdataInputs(t) {
		bases = append(bases, in.raw)
	}
	g := gen.New(gen.DefaultConfig())
	for range 200 {
		m, _ := g.Next()
		bases = append(bases, m.Value)
	}
	v := newValidator(t, DefaultLimits())
	r := rand.New(rand.NewPCG(1, 2))
	const n = 30_000
	var fast int
	for range n {
		raw := slices.Clone(bases[r.IntN(len(bases))])
		for range 1 + r.IntN(3) {
			i := r.IntN(len(raw) + 1)
			switch r.IntN(4) {
			case 0: // delete a few bytes
				j := min(len(raw), i+1+r.IntN(4))
				raw = slices.Delete(raw, min(i, j), j)
			case 1: // escape a letter as \u00XX
				if i < len(raw) && raw[i] >= 'a' && raw[i] <= 'z' {
					raw = slices.Replace(raw, i, i+1, []byte(fmt.Sprintf(`\u%04x`, raw[i]))...)
				}
			default:
				raw = slices.Insert(raw, i, []byte(pieces[r.IntN(len(pieces))])...)
			}
		}
		if checkFastPath(t, v, raw, recv) {
			fast++
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d of %d mutants took the fast path", fast, n)
}

// FuzzCanonicalDateTime: whatever canonicalDateTime accepts, the general way
// (isPlainDateTime, then parseRFC3339) accepts too, as the same instant in
// UTC; and the general way's canonical-form answers are not refused.
func FuzzCanonicalDateTime(f *testing.F) {
	for _, s := range []string{
		"2025-03-01T12:00:00Z", "2025-03-01T12:00:00.123Z", "2025-03-01T12:00:00.123456789Z",
		"2025-03-01T12:00:00.1234567890Z", "2024-02-29T23:59:59.9Z", "2023-02-29T00:00:00Z",
		"2025-04-31T00:00:00Z", "2025-12-31T24:00:00Z", "2025-06-30T23:59:60Z", "2025-03-01t12:00:00z",
		"2025-03-01T12:00:00+01:00", "0000-01-01T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"2025-03-01T12:00:00.Z", "2025-03-01T12:00:00,5Z", "2025-3-01T12:00:00Z", "+025-03-01T12:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := canonicalDateTime(s)
		var want time.Time
		general := isPlainDateTime(s)
		if general {
			var err error
			want, err = parseRFC3339(s)
			general = err == nil
		}
		if ok && (!general || !fast.Equal(want) || fast.Location() != time.UTC) {
			t.Fatalf("canonicalDateTime(%q) = %v; general way: %v, ok %v", s, fast, want, general)
		}
		// A canonical string the general way reads must not need it.
		if general && !ok && len(s) >= 20 && len(s) <= 30 && s[len(s)-1] == 'Z' && s[10] == 'T' &&
			(len(s) == 20 || s[19] == '.') && s[17:19] != "60" {
			t.Fatalf("canonicalDateTime(%q) refused what the general way reads as %v", s, want)
		}
	})
}
