package schemas

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"testing"
)

// FuzzDecode checks that Decode is total and keeps its promises on any
// input: it never panics, it rejects with a Reason from Reasons(), and what it
// accepts is usable downstream (ids to count the customer under, raw objects
// that match the decoded ones, a timestamp within tolerance). Seeds are the
// testdata samples.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s.raw, s.clamp)
	}
	l := testdataLimits()
	v := newValidator(f, l)
	l.ClampFuture = true
	clamping := newValidator(f, l)

	f.Fuzz(func(t *testing.T, raw []byte, clamp bool) {
		dec := v
		if clamp {
			dec = clamping
		}
		e, inv := dec.Decode(raw, recv)

		// Pure: the same input gives the same result, whatever the map
		// iteration order inside the validator.
		e2, inv2 := dec.Decode(raw, recv)
		if !reflect.DeepEqual(e, e2) || !reflect.DeepEqual(inv, inv2) {
			t.Fatalf("two decodes differ: %+v %v / %+v %v", e, inv, e2, inv2)
		}

		if inv != nil {
			checkInvalid(t, inv)
			if !reflect.DeepEqual(e, Event{}) {
				t.Errorf("rejected with %v but returned an Event", inv)
			}
			// Our byte scans must not reject valid JSON as not JSON, nor let
			// invalid JSON through to a schema reason.
			prescan := slices.Contains([]Reason{ReasonTooLarge, ReasonNotUTF8, ReasonTooDeep}, inv.Reason)
			if !prescan && (inv.Reason == ReasonNotJSON) == json.Valid(raw) {
				t.Errorf("reason %s for input with json.Valid = %v", inv.Reason, json.Valid(raw))
			}
			if inv.Reason == ReasonTooDeep && json.Valid(raw) {
				if d := jsonDepth(t, raw); d <= l.MaxDepth {
					t.Errorf("too_deep for JSON of depth %d", d)
				}
			}
			return
		}

		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON")
		}
		if e.EventID == "" {
			t.Error("accepted an event without EventID")
		}
		if e.UserID == "" && e.AnonymousID == "" {
			t.Error("accepted an event without a customer id")
		}
		if !slices.Contains([]string{TypeTrack, TypeIdentify, TypePage}, e.Type) {
			t.Errorf("accepted type %q", e.Type)
		}
		if e.Type == TypeTrack && e.Event == "" {
			t.Error("accepted a track event without a name")
		}
		if e.Timestamp.After(recv.Add(l.FutureTolerance)) {
			t.Errorf("Timestamp %v is beyond tolerance", e.Timestamp)
		}
		// Read key by key before the maps are decoded, then whole.
		d := decoded(e)
		checkLookups(t, e, d.Properties(), d.Traits())
		checkRaw(t, "properties", e.RawProperties, e.Properties())
		checkRaw(t, "traits", e.RawTraits, e.Traits())
	})
}

type decodeSeed struct {
	raw   []byte
	clamp bool
}

// decodeSeeds are the seeds of FuzzDecode, which FuzzFastPathAgrees shares:
// the testdata samples, the benchmark event, and shapes the samples lack.
func decodeSeeds(t testing.TB) []decodeSeed {
	var seeds []decodeSeed
	for _, in := range testdataInputs(t) {
		seeds = append(seeds, decodeSeed{in.raw, false})
	}
	return append(seeds,
		decodeSeed{[]byte(benchEvent), true},
		// Duplicate and escaped top-level keys, which topLevelValues must
		// resolve as encoding/json does.
		decodeSeed{[]byte(`{"event_id":"e","type":"identify","user_id":"u","traits":{"a":1},"tr\u0061its":{"b":[2,"]"]},"properties":{},"properties":{"c":{"d":null}}}`), false},
		// Timestamps at the edges of RFC 3339.
		decodeSeed{[]byte(`{"event_id":"e","type":"page","anonymous_id":"a","timestamp":"9999-12-31T23:59:60.999999999+23:59","sent_at":"0000-01-01t00:00:00z"}`), true},
	)
}

// jsonDepth measures nesting with encoding/json's tokenizer, as a reference
// for depthExceeded.
func jsonDepth(t *testing.T, raw []byte) int {
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth, maxDepth := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return maxDepth
		}
		if err != nil {
			t.Fatalf("tokenizing valid JSON: %v", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			maxDepth = max(maxDepth, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// checkRaw asserts that the raw text decodes to the decoded map, which also
// tests topLevelValues against encoding/json on every accepted input.
func checkRaw(t *testing.T, name string, raw []byte, decoded map[string]any) {
	t.Helper()
	var fromRaw map[string]any
	if err := json.Unmarshal(raw, &fromRaw); err != nil {
		t.Fatalf("Raw %s %q is not a JSON object: %v", name, raw, err)
	}
	if decoded == nil {
		decoded = map[string]any{}
	}
	if !reflect.DeepEqual(fromRaw, decoded) {
		t.Errorf("Raw %s %s decodes to %v, want %v", name, raw, fromRaw, decoded)
	}
}
