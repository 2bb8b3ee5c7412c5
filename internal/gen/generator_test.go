package gen

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// testConfig is the default configuration at a size the race detector runs
// in seconds, with the small MaxEventBytes the end-to-end test uses.
func testConfig(people int) Config {
	cfg := DefaultConfig()
	cfg.Customers = people
	cfg.MaxEventBytes = 8 << 10
	return cfg
}

func collect(t testing.TB, cfg Config) ([]Message, *Truth) {
	t.Helper()
	g := New(cfg)
	var msgs []Message
	for {
		m, ok := g.Next()
		if !ok {
			break
		}
		msgs = append(msgs, m)
	}
	if _, ok := g.Next(); ok {
		t.Fatal("Next returned a message after the end")
	}
	return msgs, g.Truth()
}

func TestDeterministic(t *testing.T) {
	cfg := testConfig(300)
	a, ta := collect(t, cfg)
	b, tb := collect(t, cfg)
	if len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].Key, b[i].Key) || !bytes.Equal(a[i].Value, b[i].Value) ||
			!a[i].Time.Equal(b[i].Time) || a[i].Invalid != b[i].Invalid || a[i].Duplicate != b[i].Duplicate {
			t.Fatalf("message %d differs:\n%s\n%s", i, a[i].Value, b[i].Value)
		}
	}
	if ta.Produced != tb.Produced || ta.Valid != tb.Valid || len(ta.StageReach) != len(tb.StageReach) {
		t.Error("truths differ")
	}

	cfg.Seed++
	c, _ := collect(t, cfg)
	if len(c) == len(a) && bytes.Equal(c[0].Value, a[0].Value) {
		t.Error("another seed gave the same stream")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no customers", func(c *Config) { c.Customers = 0 }, "customers"},
		{"no start", func(c *Config) { c.Start = time.Time{} }, "start"},
		{"too many days", func(c *Config) { c.Days = 60 }, "days"},
		{"negative rate", func(c *Config) { c.InvalidRate = -0.1 }, "invalid rate"},
		{"NaN rate", func(c *Config) { c.OutOfOrderRate = math.NaN() }, "out-of-order rate"},
		{"tiny limit", func(c *Config) { c.MaxEventBytes = 100 }, "max event bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tt.want)
			}
		})
	}
	// Every problem is reported, not just the first.
	err := Config{}.Validate()
	for _, want := range []string{"customers", "start", "days", "max event bytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() of the zero Config = %v, want it to mention %q", err, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New accepted an invalid config")
		}
	}()
	New(Config{})
}

// event is the part of a message the tests read.
type event struct {
	EventID     string         `json:"event_id"`
	Type        string         `json:"type"`
	Event       string         `json:"event"`
	Name        string         `json:"name"`
	UserID      string         `json:"user_id"`
	AnonymousID string         `json:"anonymous_id"`
	Timestamp   string         `json:"timestamp"`
	SentAt      string         `json:"sent_at"`
	Properties  map[string]any `json:"properties"`
	Traits      map[string]any `json:"traits"`
	Context     struct {
		Channel  string `json:"channel"`
		Campaign struct {
			Name, Source, Medium, Term, Content string
		} `json:"campaign"`
		Page struct {
			Path, URL, Title string
		} `json:"page"`
		Referrer string `json:"referrer"`
		Device   struct {
			Type, OS, Manufacturer string
		} `json:"device"`
		Locale string `json:"locale"`
	} `json:"context"`

	corrected time.Time // timestamp + (record time - sent_at)
}

const rfc3339Milli = "2006-01-02T15:04:05.000Z"

func decode(t testing.TB, m Message) event {
	t.Helper()
	var e event
	if err := json.Unmarshal(m.Value, &e); err != nil {
		t.Fatalf("valid message does not decode: %v\n%s", err, m.Value)
	}
	ts, err1 := time.Parse(rfc3339Milli, e.Timestamp)
	sent, err2 := time.Parse(rfc3339Milli, e.SentAt)
	if err1 != nil || err2 != nil {
		t.Fatalf("timestamps not RFC 3339 UTC with milliseconds: %q, %q", e.Timestamp, e.SentAt)
	}
	e.corrected = ts.Add(m.Time.Sub(sent))
	return e
}

// depth is the nesting depth of JSON text, the top-level object being 1.
func depth(b []byte) int {
	d, top, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			top = max(top, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return top
}

// reasonOf judges a message as the contract does (schemas/event.v1.json and
// the checks around it, in the validator's order), so that every defect is
// seen to be exactly the one its Message claims.
func reasonOf(m Message, maxBytes int) string {
	raw := m.Value
	switch {
	case len(raw) > maxBytes:
		return ReasonTooLarge
	case !utf8.Valid(raw):
		return ReasonNotUTF8
	case depth(raw) > 32:
		return ReasonTooDeep
	case !json.Valid(raw):
		return ReasonNotJSON
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "schema_violation"
	}
	nonEmpty := func(k string) bool { s, ok := doc[k].(string); return ok && s != "" }
	isType := func(k string, want func(any) bool) bool { v, ok := doc[k]; return !ok || want(v) }
	isString := func(v any) bool { _, ok := v.(string); return ok }
	isObject := func(v any) bool { _, ok := v.(map[string]any); return ok }
	switch {
	case !nonEmpty("event_id"), !nonEmpty("user_id") && !nonEmpty("anonymous_id"):
		return ReasonMissingID
	case !isType("user_id", isString), !isType("anonymous_id", isString), !isType("type", isString),
		!isType("properties", isObject), !isType("traits", isObject), !isType("context", isObject):
		return ReasonWrongType
	}
	switch doc["type"] {
	case "track":
		if !nonEmpty("event") {
			return "schema_violation"
		}
	case "page", "identify":
	default:
		return ReasonUnknownType
	}
	ts, err1 := time.Parse(time.RFC3339Nano, doc["timestamp"].(string))
	sent, err2 := time.Parse(time.RFC3339Nano, doc["sent_at"].(string))
	if err1 != nil || err2 != nil {
		return ReasonWrongType
	}
	if ts.Add(m.Time.Sub(sent)).After(m.Time.Add(24 * time.Hour)) {
		return ReasonFutureTimestamp
	}
	return ""
}

func TestMessages(t *testing.T) {
	cfg := testConfig(2000)
	msgs, truth := collect(t, cfg)

	type keyState struct {
		last    time.Time
		user    string
		valid   []int // indexes into msgs of the key's valid messages
		maxTime time.Time
	}
	keys := map[string]*keyState{}
	userKey := map[string]string{}
	eventIDs := map[string]int{}
	var size, count, late int
	for i, m := range msgs {
		if got := reasonOf(m, cfg.MaxEventBytes); got != m.Invalid {
			t.Fatalf("message %d: judged %q, generator says %q:\n%s", i, got, m.Invalid, m.Value)
		}
		k := string(m.Key)
		ks := keys[k]
		if ks == nil {
			ks = &keyState{}
			keys[k] = ks
		}
		if !m.Time.After(ks.last) {
			t.Fatalf("message %d: record time %v not after the key's previous %v", i, m.Time, ks.last)
		}
		ks.last = m.Time
		if m.Invalid != "" {
			continue
		}
		e := decode(t, m)
		if m.Time.Before(e.corrected) {
			t.Fatalf("message %d: record time %v before event time %v", i, m.Time, e.corrected)
		}
		size += len(m.Value)
		count++

		// One key per person: the anonymous id when present, and the same
		// key for every event of a user id.
		if e.AnonymousID != "" && e.AnonymousID != k {
			t.Fatalf("message %d: key %s, anonymous_id %s", i, k, e.AnonymousID)
		}
		if e.UserID != "" {
			if prev, ok := userKey[e.UserID]; ok && prev != k {
				t.Fatalf("user %s under keys %s and %s", e.UserID, prev, k)
			}
			userKey[e.UserID] = k
		}
		if e.EventID == "" || e.Type == "" || e.Properties == nil || e.Context.Channel == "" {
			t.Fatalf("message %d lacks a field: %s", i, m.Value)
		}
		switch e.Type {
		case "track":
			if e.Event == "" {
				t.Fatalf("track without event: %s", m.Value)
			}
		case "page":
			if e.Name == "" || e.Context.Page.Path == "" {
				t.Fatalf("page without name or path: %s", m.Value)
			}
		case "identify":
			if e.UserID == "" || e.AnonymousID == "" || e.Traits["company_size"] == nil {
				t.Fatalf("identify without both ids or company_size: %s", m.Value)
			}
		}

		// Duplicates repeat an earlier valid message of the key, byte for
		// byte, with at most three other valid messages in between.
		if prev, ok := eventIDs[e.EventID]; ok {
			if !m.Duplicate {
				t.Fatalf("message %d reuses event id %s of message %d but is not a duplicate", i, e.EventID, prev)
			}
			if !bytes.Equal(msgs[prev].Value, m.Value) {
				t.Fatalf("duplicate %d differs from its original %d", i, prev)
			}
			between := 0
			for _, j := range ks.valid {
				if j > prev {
					between++
				}
			}
			if between > 3 {
				t.Fatalf("duplicate %d comes %d valid messages after its original", i, between)
			}
			if d := m.Time.Sub(msgs[prev].Time); d > 15*time.Minute {
				t.Fatalf("duplicate %d re-sent %v after its original", i, d)
			}
			ks.valid = append(ks.valid, i)
			continue
		}
		if m.Duplicate {
			t.Fatalf("message %d is marked duplicate but its event id is new", i)
		}
		eventIDs[e.EventID] = i
		ks.valid = append(ks.valid, i)
		if e.corrected.Before(ks.maxTime) {
			late++
		} else {
			ks.maxTime = e.corrected
		}
	}

	if truth.Produced != len(msgs) {
		t.Errorf("Produced = %d, stream has %d", truth.Produced, len(msgs))
	}
	if truth.Valid != len(eventIDs) {
		t.Errorf("Valid = %d, stream has %d unique valid events", truth.Valid, len(eventIDs))
	}
	if truth.OutOfOrder != late {
		t.Errorf("OutOfOrder = %d, stream has %d late events", truth.OutOfOrder, late)
	}
	if len(keys) != cfg.Customers {
		t.Errorf("%d keys for %d people", len(keys), cfg.Customers)
	}
	t.Logf("%d messages, %d valid bytes on average, %d customer ids", len(msgs), size/count, truth.Customers)
}

func TestDefectRates(t *testing.T) {
	cfg := testConfig(8000)
	cfg.Seed = 7
	msgs, truth := collect(t, cfg)
	n := float64(len(msgs))

	var invalid, dups int
	byReason := map[string]int{}
	for _, m := range msgs {
		if m.Invalid != "" {
			invalid++
			byReason[m.Invalid]++
		}
		if m.Duplicate {
			dups++
		}
	}
	// The binomial spread at these sizes is under 5%; 20% leaves room for
	// any seed without hiding a wrong formula.
	near := func(name string, got int, rate float64) {
		t.Helper()
		if want := rate * n; math.Abs(float64(got)-want) > 0.2*want {
			t.Errorf("%s: %d of %d messages, want about %.0f (rate %g)", name, got, len(msgs), want, rate)
		}
	}
	near("invalid", invalid, cfg.InvalidRate)
	near("duplicates", dups, cfg.DuplicateRate)
	near("out of order", truth.OutOfOrder, cfg.OutOfOrderRate)

	// Variants rotate, so each reason gets its exact share: two variants
	// each for missing_id and wrong_type, one for the others.
	perVariant := float64(invalid) / float64(numVariants-1)
	for _, r := range []string{ReasonNotJSON, ReasonNotUTF8, ReasonTooLarge, ReasonTooDeep, ReasonMissingID,
		ReasonWrongType, ReasonUnknownType, ReasonFutureTimestamp} {
		want := perVariant
		if r == ReasonMissingID || r == ReasonWrongType {
			want *= 2
		}
		if math.Abs(float64(byReason[r])-want) > 2 {
			t.Errorf("%s: %d messages, want %.1f", r, byReason[r], want)
		}
		if truth.Invalid[r] != byReason[r] {
			t.Errorf("Truth.Invalid[%s] = %d, stream has %d", r, truth.Invalid[r], byReason[r])
		}
	}
	if truth.Duplicates != dups {
		t.Errorf("Truth.Duplicates = %d, stream has %d", truth.Duplicates, dups)
	}

	// The rates can be turned off.
	cfg = testConfig(500)
	cfg.InvalidRate, cfg.DuplicateRate, cfg.OutOfOrderRate = 0, 0, 0
	_, truth = collect(t, cfg)
	if truth.Valid != truth.Produced || truth.OutOfOrder != 0 {
		t.Errorf("defects without rates: %+v", truth)
	}
}

func TestTruthSanity(t *testing.T) {
	_, truth := collect(t, testConfig(4000))

	sum := truth.Valid + truth.Duplicates
	for _, n := range truth.Invalid {
		sum += n
	}
	if sum != truth.Produced {
		t.Errorf("Valid + Duplicates + Invalid = %d, Produced = %d", sum, truth.Produced)
	}
	if truth.Customers <= truth.People {
		t.Errorf("%d customer ids for %d people: sign-ups should add user ids", truth.Customers, truth.People)
	}

	daily := map[ConvKey]ConvValue{}
	for k, v := range truth.ConversionDaily {
		ck := ConvKey{k.Journey, k.Persona, k.StageIndex}
		daily[ck] = addConv(daily[ck], v)
	}
	for k, v := range truth.Conversion {
		if v.Reached < v.Progressed || v.Reached != v.Progressed+v.DroppedOff {
			t.Errorf("%v: %+v", k, v)
		}
		if daily[k] != v {
			t.Errorf("%v: daily cells sum to %+v, total is %+v", k, daily[k], v)
		}
	}
	if len(daily) != len(truth.Conversion) {
		t.Errorf("%d daily conversion keys, %d total", len(daily), len(truth.Conversion))
	}

	// Drop-off differs per persona, as the profiles say.
	progress := func(p persona, stage uint8) float64 {
		v := truth.Conversion[ConvKey{"lifecycle", p.String(), stage}]
		if v.Reached == 0 {
			t.Fatalf("nobody of %v reached lifecycle stage %d", p, stage)
		}
		return float64(v.Progressed) / float64(v.Reached)
	}
	if a, b := progress(developer, stAwareness), progress(unassigned, stAwareness); a-b < 0.2 {
		t.Errorf("awareness progression: developer %.2f, unassigned %.2f; want them well apart", a, b)
	}
	if a, b := progress(enterpriseBuyer, stConsideration), progress(developer, stConsideration); a-b < 0.05 {
		t.Errorf("consideration progression: enterprise %.2f, developer %.2f; want them apart", a, b)
	}

	// Reach: per stage, the customers of the day cells add up to at least
	// the customers who reached it.
	reachCustomers := map[ConvKey]uint64{}
	for k, v := range truth.StageReach {
		if v.Customers == 0 || v.Events < v.Customers {
			t.Errorf("%v: %+v", k, v)
		}
		if k.Stage != journeyByName(k.Journey).stages()[k.StageIndex] {
			t.Errorf("%v: stage name does not match its index", k)
		}
		reachCustomers[ConvKey{k.Journey, k.Persona, k.StageIndex}] += v.Customers
	}
	for k, v := range truth.Conversion {
		if reachCustomers[k] < v.Reached {
			t.Errorf("%v: reach has %d customer-days, conversion %d customers", k, reachCustomers[k], v.Reached)
		}
	}

	// The funnel never gains customers with the level, and with the map's
	// window (longer than any journey here) the deep levels are reached.
	f := truth.Funnel(720 * time.Hour)
	for k, v := range f {
		if k.Level > 1 {
			if up := f[FunnelKey{k.Journey, k.Persona, k.Level - 1}]; up < v {
				t.Errorf("%v: %d customers, but %d at the level below", k, v, up)
			}
		}
		// Level 1 is everyone with an event at stage 0.
		if k.Level == 1 {
			if c := truth.Conversion[ConvKey{k.Journey, k.Persona, 0}].Reached; c != v {
				t.Errorf("%v: %d customers, %d reached stage 0", k, v, c)
			}
		}
	}
	for p := range numPersonas {
		// Unassigned people rarely go far (about 1 in 500 buys and
		// advocates); the others all complete the funnel at this size.
		want := uint8(5)
		if p == unassigned {
			want = 3
		}
		if f[FunnelKey{"lifecycle", p.String(), want}] == 0 {
			t.Errorf("no %v reaches lifecycle funnel level %d", p, want)
		}
	}
	short := truth.Funnel(time.Hour)
	for k, v := range short {
		if v > f[k] {
			t.Errorf("%v: %d with a 1h window, %d with 720h", k, v, f[k])
		}
	}
}

func journeyByName(name string) journey {
	for j := range numJourneys {
		if j.String() == name {
			return j
		}
	}
	return noJourney
}

func TestTruthBeforeEnd(t *testing.T) {
	g := New(testConfig(50))
	for range 100 {
		g.Next()
	}
	if tr := g.Truth(); tr.Produced != 100 {
		t.Errorf("snapshot after 100 messages has Produced = %d", tr.Produced)
	}
}

// People are planned as they arrive, so a huge stream starts at once and
// holds only the people currently delivering.
func TestLazy(t *testing.T) {
	cfg := testConfig(1_000_000)
	g := New(cfg)
	for range 20_000 {
		if _, ok := g.Next(); !ok {
			t.Fatal("stream ended early")
		}
	}
	if g.planned > 20_000 || len(g.active) > g.planned {
		t.Errorf("after 20,000 messages: %d people planned, %d active", g.planned, len(g.active))
	}
}
