package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/**/*.golden from the current output")

// recv is the receive time of every test event: fixed, as the Kafka record
// timestamp is, so that results do not depend on when tests run.
var recv = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newValidator(t testing.TB, l Limits) *Validator {
	t.Helper()
	v, err := NewValidator(l)
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

// testdataLimits shrink MaxEventBytes so that a too_large sample fits in a
// few kilobytes of testdata.
func testdataLimits() Limits {
	l := DefaultLimits()
	l.MaxEventBytes = 4 << 10
	return l
}

func TestReasons(t *testing.T) {
	rs := Reasons()
	if len(rs) != 10 {
		t.Fatalf("Reasons() has %d reasons, want 10", len(rs))
	}
	seen := map[Reason]bool{}
	for _, r := range rs {
		if seen[r] {
			t.Errorf("Reasons() lists %q twice", r)
		}
		seen[r] = true
	}
	rs[0] = "mutated"
	if Reasons()[0] == "mutated" {
		t.Error("Reasons() returns shared state")
	}
}

// TestDecodeReasons pins the Reason of at least one input per Reason.
func TestDecodeReasons(t *testing.T) {
	valid := `{"event_id":"e1","type":"track","event":"X","user_id":"u"}`
	tests := []struct {
		name   string
		raw    string
		limits func(*Limits)
		want   Reason
	}{
		{name: "empty input", raw: ``, want: ReasonNotJSON},
		{name: "truncated", raw: `{"event_id":"e1"`, want: ReasonNotJSON},
		{name: "trailing value", raw: valid + ` {}`, want: ReasonNotJSON},
		{name: "single quotes", raw: `{'event_id':'e1'}`, want: ReasonNotJSON},
		{name: "byte order mark", raw: "\ufeff" + valid, want: ReasonNotJSON},
		{name: "latin-1 byte", raw: "{\"event_id\":\"e1\",\"type\":\"track\",\"event\":\"Caf\xe9\",\"user_id\":\"u\"}", want: ReasonNotUTF8},
		{name: "encoded surrogate", raw: "{\"event_id\":\"\xed\xa0\x80\"}", want: ReasonNotUTF8},
		{name: "over size limit", raw: valid, limits: func(l *Limits) { l.MaxEventBytes = len(valid) - 1 }, want: ReasonTooLarge},
		{name: "33 levels", raw: `{"properties":{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}}`, want: ReasonTooDeep},
		{name: "deep garbage is too deep before not json", raw: strings.Repeat("[", 100000), want: ReasonTooDeep},
		{name: "no event_id", raw: `{"type":"track","event":"X","user_id":"u"}`, want: ReasonMissingID},
		{name: "empty event_id", raw: `{"event_id":"","type":"track","event":"X","user_id":"u"}`, want: ReasonMissingID},
		{name: "no customer id", raw: `{"event_id":"e1","type":"track","event":"X"}`, want: ReasonMissingID},
		{name: "empty customer ids", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"","anonymous_id":""}`, want: ReasonMissingID},
		{name: "missing ids win over a later bad field", raw: `{"type":"nope","user_id":7}`, want: ReasonMissingID},
		{name: "event_id number", raw: `{"event_id":1,"type":"track","event":"X","user_id":"u"}`, want: ReasonWrongType},
		{name: "user_id number", raw: `{"event_id":"e1","type":"track","event":"X","user_id":42}`, want: ReasonWrongType},
		{name: "properties array", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","properties":[]}`, want: ReasonWrongType},
		{name: "traits null", raw: `{"event_id":"e1","type":"identify","user_id":"u","traits":null}`, want: ReasonWrongType},
		{name: "campaign string", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","context":{"campaign":"spring"}}`, want: ReasonWrongType},
		{name: "timestamp not rfc 3339", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"2025-03-01 12:00:00"}`, want: ReasonWrongType},
		{name: "timestamp month 13", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"2025-13-01T12:00:00Z"}`, want: ReasonWrongType},
		{name: "sent_at unix seconds", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","sent_at":1740830400}`, want: ReasonWrongType},
		{name: "top level array", raw: `[` + valid + `]`, want: ReasonWrongType},
		{name: "top level string", raw: `"event"`, want: ReasonWrongType},
		{name: "number beyond float64", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","properties":{"n":-1e309}}`, want: ReasonWrongType},
		{name: "type screen", raw: `{"event_id":"e1","type":"screen","user_id":"u"}`, want: ReasonUnknownType},
		{name: "type upper case", raw: `{"event_id":"e1","type":"Track","event":"X","user_id":"u"}`, want: ReasonUnknownType},
		{name: "type empty", raw: `{"event_id":"e1","type":"","user_id":"u"}`, want: ReasonUnknownType},
		{name: "before 1970", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"1969-12-31T23:59:59Z"}`, want: ReasonPastTimestamp},
		{name: "year 1 after skew correction", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"0001-01-01T00:00:00Z","sent_at":"2025-03-01T00:00:00Z"}`, want: ReasonPastTimestamp},
		{name: "two days ahead", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"2025-03-03T12:00:00Z"}`, want: ReasonFutureTimestamp},
		{name: "ahead after skew correction", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"2025-03-03T12:00:00Z","sent_at":"2025-03-01T00:00:00Z"}`, want: ReasonFutureTimestamp},
		{name: "zero tolerance", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"2025-03-01T12:00:00.001Z"}`, limits: func(l *Limits) { l.FutureTolerance = 0 }, want: ReasonFutureTimestamp},
		{name: "track without event", raw: `{"event_id":"e1","type":"track","user_id":"u"}`, want: ReasonSchema},
		{name: "track with empty event", raw: `{"event_id":"e1","type":"track","event":"","user_id":"u"}`, want: ReasonSchema},
		{name: "no type", raw: `{"event_id":"e1","event":"X","user_id":"u"}`, want: ReasonSchema},
		{name: "event_id of 129", raw: `{"event_id":"` + strings.Repeat("e", 129) + `","type":"track","event":"X","user_id":"u"}`, want: ReasonSchema},
		{name: "user_id of 257 runes", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"` + strings.Repeat("é", 257) + `"}`, want: ReasonSchema},
		{name: "schema_version v2", raw: `{"event_id":"e1","type":"track","event":"X","user_id":"u","schema_version":"v2"}`, want: ReasonSchema},
	}
	seen := map[Reason]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultLimits()
			if tt.limits != nil {
				tt.limits(&l)
			}
			_, inv := decode(t, newValidator(t, l), []byte(tt.raw), recv)
			if inv == nil {
				t.Fatalf("Decode accepted %q, want %s", truncate(tt.raw, 80), tt.want)
			}
			if inv.Reason != tt.want {
				t.Fatalf("Reason = %s (%s), want %s", inv.Reason, inv.Detail, tt.want)
			}
			checkInvalid(t, inv)
			seen[inv.Reason] = true
		})
	}
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("no test input gives %s", r)
		}
	}
}

// checkInvalid asserts what every rejection promises.
func checkInvalid(t testing.TB, inv *Invalid) {
	t.Helper()
	if !slices.Contains(Reasons(), inv.Reason) {
		t.Errorf("Reason %q is not in Reasons()", inv.Reason)
	}
	if inv.Detail == "" || !utf8.ValidString(inv.Detail) {
		t.Errorf("Detail %q is empty or not UTF-8", inv.Detail)
	}
	// About 200 bytes of input at most, plus fixed text and schema locations.
	if len(inv.Detail) > 400 {
		t.Errorf("Detail is %d bytes: %q", len(inv.Detail), inv.Detail)
	}
	if got := inv.Error(); !strings.Contains(got, string(inv.Reason)) || !strings.Contains(got, inv.Detail) {
		t.Errorf("Error() = %q, want reason and detail", got)
	}
}

func TestInvalidDetailNamesFieldAndRule(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	tests := []struct {
		raw  string
		want []string
	}{
		{`{"event_id":"e1","type":"track","event":"X","user_id":42}`, []string{"/user_id", "want string", "#/properties/user_id/type"}},
		{`{"event_id":"e1","type":"trak","event":"X","user_id":"u"}`, []string{"/type", "'track'", "#/properties/type/enum"}},
		{`{"event_id":"e1","type":"track","event":"X"}`, []string{"(root)", "user_id or anonymous_id", "#/anyOf"}},
		{`{"event_id":"e1","type":"track","user_id":"u"}`, []string{"(root)", "'event'", "#/then/required"}},
		{`{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"soon"}`, []string{"/timestamp", "date-time", `"soon"`, "#/properties/timestamp/format"}}, // asserted by the schema, not only by time.Parse
		{`{"event_id":"e1","type":"track","event":"X","user_id":"u","context":{"device":{"os":false}}}`, []string{"/context/device/os", "#/properties/context/properties/device/properties/os/type"}},
	}
	for _, tt := range tests {
		_, inv := decode(t, v, []byte(tt.raw), recv)
		if inv == nil {
			t.Errorf("Decode(%s) accepted", tt.raw)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(inv.Detail, w) {
				t.Errorf("Decode(%s).Detail = %q, want it to contain %q", tt.raw, inv.Detail, w)
			}
		}
	}
}

// TestInvalidDetailIsBounded feeds megabyte values to every rule that might
// quote them.
func TestInvalidDetailIsBounded(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	big := strings.Repeat("ü", 100000)
	for _, raw := range []string{
		`{"event_id":"e1","type":"` + big + `","user_id":"u"}`,
		`{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"` + big + `"}`,
		`{"event_id":"e1","type":"track","event":"X","user_id":"u","schema_version":"` + big + `"}`,
		`{"event_id":"` + big + `","type":"track","event":"X","user_id":"u"}`,
		`{"event_id":"e1","type":"track","event":"X","user_id":"u","properties":{"n":1` + strings.Repeat("0", 100000) + `}}`,
		`{"event_id":"e1","type":"track","event":"X","user_id":"u"}` + big,
	} {
		_, inv := decode(t, v, []byte(raw), recv)
		if inv == nil {
			t.Fatalf("Decode accepted %q", truncate(raw, 80))
		}
		checkInvalid(t, inv)
	}
}

// TestDecodeChoosesDeterministically guards against the validator's map
// ordering leaking into which error is reported.
func TestDecodeChoosesDeterministically(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	raw := []byte(`{"event_id":1,"type":"nope","user_id":2,"anonymous_id":3,"timestamp":"x","sent_at":4,"properties":[],"traits":"t","context":{"channel":1,"locale":2,"page":3,"device":{"os":4,"type":5}}}`)
	_, first := decode(t, v, raw, recv)
	if first == nil {
		t.Fatal("Decode accepted")
	}
	// Root errors first; none here, so the first pointer in order is
	// /anonymous_id.
	if first.Reason != ReasonWrongType || !strings.HasPrefix(first.Detail, "/anonymous_id:") {
		t.Errorf("got %s %q, want wrong_type at /anonymous_id", first.Reason, first.Detail)
	}
	for range 200 {
		if _, inv := v.Decode(raw, recv); *inv != *first {
			t.Fatalf("Decode gave %+v, earlier %+v", *inv, *first)
		}
	}
}

func TestDecodeValidTypes(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	tests := []struct {
		raw           string
		want          Event
		props, traits map[string]any // decoded; nil when absent
	}{
		{
			raw: `{"event_id":"t1","type":"track","event":"Demo Requested","user_id":"u1","context":{"channel":"web","campaign":{"name":"n","source":"linkedin","medium":"social","term":"t","content":"c"},"page":{"path":"/demo","url":"https://x/demo","title":"Demo"},"referrer":"https://ref/","device":{"type":"mobile","os":"iOS","manufacturer":"Apple"},"locale":"en-GB"}}`,
			want: Event{
				EventID: "t1", Type: TypeTrack, Event: "Demo Requested", UserID: "u1",
				Timestamp: recv, ReceivedAt: recv,
				RawProperties: []byte("{}"), RawTraits: []byte("{}"),
				Context: Context{
					Channel:  "web",
					Campaign: Campaign{Name: "n", Source: "linkedin", Medium: "social", Term: "t", Content: "c"},
					Page:     Page{Path: "/demo", URL: "https://x/demo", Title: "Demo"},
					Referrer: "https://ref/",
					Device:   Device{Type: "mobile", OS: "iOS", Manufacturer: "Apple"},
					Locale:   "en-GB",
				},
			},
		},
		{
			raw: `{"event_id":"i1","type":"identify","user_id":"u1","anonymous_id":"a1","traits":{"plan":"pro"}}`,
			want: Event{
				EventID: "i1", Type: TypeIdentify, UserID: "u1", AnonymousID: "a1",
				Timestamp: recv, ReceivedAt: recv,
				RawProperties: []byte("{}"), RawTraits: []byte(`{"plan":"pro"}`),
			},
			traits: map[string]any{"plan": "pro"},
		},
		{
			// A page event's name is its event name unless event is given.
			raw: `{"event_id":"p1","type":"page","name":"Pricing","anonymous_id":"a1","properties":{"path":"/pricing"}}`,
			want: Event{
				EventID: "p1", Type: TypePage, Event: "Pricing", AnonymousID: "a1",
				Timestamp: recv, ReceivedAt: recv,
				RawProperties: []byte(`{"path":"/pricing"}`), RawTraits: []byte("{}"),
			},
			props: map[string]any{"path": "/pricing"},
		},
		{
			raw: `{"event_id":"p2","type":"page","event":"Pricing Viewed","name":"Pricing","anonymous_id":"a1"}`,
			want: Event{
				EventID: "p2", Type: TypePage, Event: "Pricing Viewed", AnonymousID: "a1",
				Timestamp: recv, ReceivedAt: recv,
				RawProperties: []byte("{}"), RawTraits: []byte("{}"),
			},
		},
	}
	for _, tt := range tests {
		got, inv := decode(t, v, []byte(tt.raw), recv)
		if inv != nil {
			t.Errorf("Decode(%s): %v", tt.raw, inv)
			continue
		}
		tt.want.SetProperties(tt.props)
		tt.want.SetTraits(tt.traits)
		if got := decoded(got); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%s)\n got %+v\nwant %+v", tt.raw, got, tt.want)
		}
	}
}

func TestDecodeTimestamps(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts.UTC()
	}
	tests := []struct {
		name          string
		fields        string // JSON members added to a valid event
		clamp         bool
		want          time.Time
		wantOriginal  time.Time
		wantSentAt    time.Time
		wantRejection bool
	}{
		{name: "absent: receive time", want: recv},
		{name: "no sent_at: as sent", fields: `"timestamp":"2025-03-01T11:00:00Z"`, want: at("2025-03-01T11:00:00Z"), wantOriginal: at("2025-03-01T11:00:00Z")},
		{name: "offset is normalised to UTC", fields: `"timestamp":"2025-03-01T12:30:00+02:00"`, want: at("2025-03-01T10:30:00Z"), wantOriginal: at("2025-03-01T10:30:00Z")},
		{
			// The device clock is 1h slow: it sent at 10:59:59 device time,
			// we received at 12:00:00, so the event really happened 1h01s
			// after its device time.
			name:         "slow device clock corrected",
			fields:       `"timestamp":"2025-03-01T10:59:00Z","sent_at":"2025-03-01T10:59:59Z"`,
			want:         at("2025-03-01T11:59:01Z"),
			wantOriginal: at("2025-03-01T10:59:00Z"),
			wantSentAt:   at("2025-03-01T10:59:59Z"),
		},
		{
			// A clock three days fast would be rejected uncorrected; sent_at
			// brings it back.
			name:         "fast device clock corrected",
			fields:       `"timestamp":"2025-03-04T11:59:30Z","sent_at":"2025-03-04T12:00:00Z"`,
			want:         at("2025-03-01T11:59:30Z"),
			wantOriginal: at("2025-03-04T11:59:30Z"),
			wantSentAt:   at("2025-03-04T12:00:00Z"),
		},
		{name: "sent_at alone: receive time", fields: `"sent_at":"2025-03-01T11:59:59Z"`, want: recv, wantSentAt: at("2025-03-01T11:59:59Z")},
		{name: "exactly at tolerance is accepted", fields: `"timestamp":"2025-03-02T12:00:00Z"`, want: at("2025-03-02T12:00:00Z"), wantOriginal: at("2025-03-02T12:00:00Z")},
		{name: "past tolerance is rejected", fields: `"timestamp":"2025-03-02T12:00:00.000000001Z"`, wantRejection: true},
		{name: "past tolerance is clamped", fields: `"timestamp":"2025-03-09T00:00:00Z"`, clamp: true, want: recv, wantOriginal: at("2025-03-09T00:00:00Z")},
		{name: "far past is kept", fields: `"timestamp":"1999-12-31T23:59:59Z"`, want: at("1999-12-31T23:59:59Z"), wantOriginal: at("1999-12-31T23:59:59Z")},
		{name: "lower-case t and z", fields: `"timestamp":"2025-03-01t11:00:00z"`, want: at("2025-03-01T11:00:00Z"), wantOriginal: at("2025-03-01T11:00:00Z")},
		{name: "leap second is the next minute", fields: `"timestamp":"2016-12-31T23:59:60.5Z"`, want: at("2017-01-01T00:00:00.5Z"), wantOriginal: at("2017-01-01T00:00:00.5Z")},
		{name: "extreme years do not overflow", fields: `"timestamp":"9999-12-31T23:59:59Z","sent_at":"0000-01-01T00:00:00Z"`, clamp: true, want: recv, wantOriginal: at("9999-12-31T23:59:59Z"), wantSentAt: at("0000-01-01T00:00:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultLimits()
			l.ClampFuture = tt.clamp
			raw := `{"event_id":"e1","type":"track","event":"X","user_id":"u"`
			if tt.fields != "" {
				raw += "," + tt.fields
			}
			raw += "}"
			got, inv := decode(t, newValidator(t, l), []byte(raw), recv)
			if tt.wantRejection {
				if inv == nil || inv.Reason != ReasonFutureTimestamp {
					t.Fatalf("Decode = %+v, %v; want future_timestamp", got, inv)
				}
				return
			}
			if inv != nil {
				t.Fatalf("Decode: %v", inv)
			}
			if !got.Timestamp.Equal(tt.want) || got.Timestamp.Location() != time.UTC {
				t.Errorf("Timestamp = %v, want %v UTC", got.Timestamp, tt.want)
			}
			if !got.OriginalTimestamp.Equal(tt.wantOriginal) {
				t.Errorf("OriginalTimestamp = %v, want %v", got.OriginalTimestamp, tt.wantOriginal)
			}
			if !got.SentAt.Equal(tt.wantSentAt) {
				t.Errorf("SentAt = %v, want %v", got.SentAt, tt.wantSentAt)
			}
			if !got.ReceivedAt.Equal(recv) {
				t.Errorf("ReceivedAt = %v, want %v", got.ReceivedAt, recv)
			}
		})
	}
}

// TestDecodeIsPure: the same record decodes the same whatever the host's
// time zone or the location attached to receivedAt (kafka clients use Local).
func TestDecodeIsPure(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	raw := []byte(`{"event_id":"e1","type":"track","event":"X","user_id":"u","timestamp":"2025-03-01T12:30:00+01:00","sent_at":"2025-03-01T12:30:01+01:00"}`)
	a, inv := decode(t, v, raw, recv)
	if inv != nil {
		t.Fatal(inv)
	}
	b, inv := decode(t, v, raw, recv.In(time.FixedZone("CET", 3600)))
	if inv != nil {
		t.Fatal(inv)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("receivedAt's location changed the Event:\n%+v\n%+v", a, b)
	}
}

func TestDecodeUnicode(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	raw := `{"event_id":"ü-1","type":"track","event":"Bestellung ✓","user_id":"用户","properties":{"emoji":"🎉","escaped":"caf\u00e9 \ud83d\ude00","lone":"\ud800"},"context":{"page":{"title":"注文"}}}`
	e, inv := decode(t, v, []byte(raw), recv)
	if inv != nil {
		t.Fatal(inv)
	}
	if e.EventID != "ü-1" || e.Event != "Bestellung ✓" || e.UserID != "用户" || e.Context.Page.Title != "注文" {
		t.Errorf("strings garbled: %+v", e)
	}
	want := map[string]any{"emoji": "🎉", "escaped": "café 😀", "lone": "\ufffd"}
	if got := e.Properties(); !reflect.DeepEqual(got, want) {
		t.Errorf("Properties = %#v, want %#v", got, want)
	}
	// Raw text is the producer's, escapes included.
	if !bytes.Contains(e.RawProperties, []byte(`caf\u00e9`)) {
		t.Errorf("RawProperties = %s, want the original escapes", e.RawProperties)
	}

	// maxLength counts characters, not bytes: 256 two-byte runes fit.
	ok := `{"event_id":"e1","type":"track","event":"X","user_id":"` + strings.Repeat("é", 256) + `"}`
	if _, inv := decode(t, v, []byte(ok), recv); inv != nil {
		t.Errorf("256 runes rejected: %v", inv)
	}
}

// Numbers are float64, not json.Number, because journey-map rules are
// expr-lang expressions that compare them with number literals, which works
// for float64 and fails for json.Number (a string type). Precision is not
// lost where it matters: RawProperties and RawTraits keep the producer's
// digits for storage.
func TestDecodeNumbersAreFloat64(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	raw := `{"event_id":"e1","type":"identify","user_id":"u","properties":{"int":3,"neg":-2.5,"exp":1e3,"big":12345678901234567890,"list":[1,{"x":0.1}]},"traits":{"company_size":750}}`
	e, inv := decode(t, v, []byte(raw), recv)
	if inv != nil {
		t.Fatal(inv)
	}
	want := map[string]any{
		"int": 3.0, "neg": -2.5, "exp": 1000.0, "big": 12345678901234567890.0,
		"list": []any{1.0, map[string]any{"x": 0.1}},
	}
	if got := e.Properties(); !reflect.DeepEqual(got, want) {
		t.Errorf("Properties = %#v, want %#v", got, want)
	}
	if got, _ := e.Trait("company_size"); got != 750.0 {
		t.Errorf("traits.company_size = %#v, want float64 750", got)
	}
	if !bytes.Contains(e.RawProperties, []byte("12345678901234567890")) {
		t.Errorf("RawProperties = %s lost the exact digits", e.RawProperties)
	}
}

func TestDecodeRawObjects(t *testing.T) {
	v := newValidator(t, DefaultLimits())
	tests := []struct {
		name, raw, props, traits string
	}{
		{"absent", `{"event_id":"e","type":"identify","user_id":"u"}`, `{}`, `{}`},
		{"empty", `{"event_id":"e","type":"identify","user_id":"u","properties":{},"traits":{ }}`, `{}`, `{ }`},
		{"original text", "{\"properties\" :\n {\"b\": 1.50, \"a\": [1, \"}\"]} ,\"event_id\":\"e\",\"type\":\"identify\",\"user_id\":\"u\"}", `{"b": 1.50, "a": [1, "}"]}`, `{}`},
		{"last duplicate wins, as in encoding/json", `{"event_id":"e","type":"identify","user_id":"u","traits":{"x":1},"traits":{"x":2}}`, `{}`, `{"x":2}`},
		{"escaped key", `{"event_id":"e","type":"identify","user_id":"u","tr\u0061its":{"y":1}}`, `{}`, `{"y":1}`},
		{"quotes and braces in strings", `{"event_id":"e\"}{","type":"identify","user_id":"u","properties":{"s":"\\\"{"},"traits":{"t":"]"}}`, `{"s":"\\\"{"}`, `{"t":"]"}`},
		{"nested keys of the same name are not top level", `{"event_id":"e","type":"identify","user_id":"u","context":{"properties":{"no":1}},"properties":{"yes":1}}`, `{"yes":1}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			e, inv := decode(t, v, raw, recv)
			if inv != nil {
				t.Fatal(inv)
			}
			if string(e.RawProperties) != tt.props || string(e.RawTraits) != tt.traits {
				t.Errorf("raw = %s, %s; want %s, %s", e.RawProperties, e.RawTraits, tt.props, tt.traits)
			}
			// The Event must not alias the caller's buffer, which a consumer
			// may reuse.
			eventID, userID := strings.Clone(e.EventID), strings.Clone(e.UserID)
			for i := range raw {
				raw[i] = 'x'
			}
			if string(e.RawProperties) != tt.props || string(e.RawTraits) != tt.traits {
				t.Errorf("raw changed with the input buffer: %s, %s", e.RawProperties, e.RawTraits)
			}
			if e.EventID != eventID || e.UserID != userID {
				t.Errorf("ids changed with the input buffer: %q, %q", e.EventID, e.UserID)
			}
			e.RawProperties = append(e.RawProperties, '!')
			if string(e.RawTraits) != tt.traits {
				t.Errorf("appending to RawProperties changed RawTraits to %s", e.RawTraits)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Errorf("DefaultLimits().Validate() = %v", err)
	}
	bad := Limits{MaxEventBytes: 0, MaxDepth: maxParserDepth + 1, FutureTolerance: -time.Second}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad limits")
	}
	// All problems at once, so that one deploy fixes them all.
	for _, w := range []string{"max event bytes", "max depth", "future tolerance"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %q, want it to mention %q", err, w)
		}
	}
	if _, err := NewValidator(bad); err == nil {
		t.Error("NewValidator accepted bad limits")
	}
	if _, err := NewValidator(Limits{}); err == nil {
		t.Error("NewValidator accepted zero limits")
	}
}

// TestDecodeConcurrent shares one Validator between goroutines, as the
// consumer does between partitions; run with -race.
func TestDecodeConcurrent(t *testing.T) {
	v := newValidator(t, testdataLimits())
	inputs := testdataInputs(t)
	type result struct {
		e   Event
		inv *Invalid
	}
	want := make([]result, len(inputs))
	for i, in := range inputs {
		want[i].e, want[i].inv = decode(t, v, in.raw, recv)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 50 {
				i := (g + n) % len(inputs)
				e, inv := v.Decode(inputs[i].raw, recv)
				if !reflect.DeepEqual(e, want[i].e) || !reflect.DeepEqual(inv, want[i].inv) {
					t.Errorf("%s decoded differently under concurrency", inputs[i].name)
					return
				}
			}
		})
	}
	wg.Wait()
}

type testdataInput struct {
	name string // path under testdata
	raw  []byte
}

func testdataInputs(t testing.TB) []testdataInput {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no testdata")
	}
	var inputs []testdataInput
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, testdataInput{p, raw})
	}
	return inputs
}

// goldenEvent shows the raw objects as the exact text they are, rather than
// base64, and the decoded ones.
type goldenEvent struct {
	Event
	RawProperties string
	RawTraits     string
	Properties    map[string]any
	Traits        map[string]any
}

// TestTestdata decodes every sample: testdata/valid/*.json must be accepted,
// testdata/invalid/REASON.*.json rejected with REASON, and the result must
// match the .golden file next to it (go test -run TestTestdata -update
// rewrites them).
func TestTestdata(t *testing.T) {
	v := newValidator(t, testdataLimits())
	for _, in := range testdataInputs(t) {
		t.Run(in.name, func(t *testing.T) {
			e, inv := decode(t, v, in.raw, recv)
			var got []byte
			switch filepath.Base(filepath.Dir(in.name)) {
			case "valid":
				if inv != nil {
					t.Fatalf("rejected: %v", inv)
				}
				var err error
				got, err = json.MarshalIndent(goldenEvent{e, string(e.RawProperties), string(e.RawTraits), e.Properties(), e.Traits()}, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
			case "invalid":
				want := Reason(strings.SplitN(filepath.Base(in.name), ".", 2)[0])
				if inv == nil {
					t.Fatalf("accepted, want %s", want)
				}
				if inv.Reason != want {
					t.Fatalf("Reason = %s (%s), want %s", inv.Reason, inv.Detail, want)
				}
				checkInvalid(t, inv)
				got = []byte(string(inv.Reason) + ": " + inv.Detail)
			default:
				t.Fatalf("sample outside testdata/valid and testdata/invalid")
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(in.name, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (rerun with -update if intended)\n got: %s\nwant: %s", golden, got, want)
			}
		})
	}
}

func TestNewValidatorErrorsWrap(t *testing.T) {
	_, err := NewValidator(Limits{MaxDepth: 1})
	if err == nil || !strings.HasPrefix(err.Error(), "schemas: limits:") {
		t.Errorf("NewValidator(bad) = %v, want a schemas: limits: error", err)
	}
	var inv *Invalid
	if errors.As(err, &inv) {
		t.Error("a configuration error must not look like an invalid event")
	}
}
