package enrich

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/journeys-analytics/journeys/schemas"
)

func track(name string, props map[string]any) schemas.Event {
	ev := schemas.Event{Type: schemas.TypeTrack, Event: name, AnonymousID: "anon"}
	ev.SetProperties(props)
	return ev
}

// identify is an identify event of user u with traits.
func identify(u string, traits map[string]any) schemas.Event {
	ev := schemas.Event{Type: schemas.TypeIdentify, UserID: u}
	ev.SetTraits(traits)
	return ev
}

func page(name, path string) schemas.Event {
	return schemas.Event{Type: schemas.TypePage, Event: name, AnonymousID: "anon",
		Context: schemas.Context{Page: schemas.Page{Path: path}}}
}

// tag is what a touchpoint test checks of an Enriched row.
type tag struct {
	journey, stage string
	index          uint8
	touchpoint     string
	negative       bool
}

func tagOf(e schemas.Enriched) tag {
	return tag{e.Journey, e.Stage, e.StageIndex, e.Touchpoint, e.Negative}
}

func TestExampleTouchpoints(t *testing.T) {
	m := loadExample(t)
	tests := []struct {
		name string
		ev   schemas.Event
		want tag
	}{
		{"ad_click", track("Ad Clicked", nil), tag{"lifecycle", "awareness", 0, "ad_click", false}},
		{"blog_visit", page("Blog", "/blog/how-to"), tag{"lifecycle", "awareness", 0, "blog_visit", false}},
		{"docs_visit", page("Docs", "/docs/start"), tag{"lifecycle", "awareness", 0, "docs_visit", false}},
		{"pricing_page", page("Pricing", "/pricing"), tag{"lifecycle", "consideration", 1, "pricing_page", false}},
		{"demo_request", track("Demo Requested", nil), tag{"lifecycle", "consideration", 1, "demo_request", false}},
		{"trial_start", track("Trial Started", nil), tag{"lifecycle", "consideration", 1, "trial_start", false}},
		{"checkout order", track("Order Completed", nil), tag{"lifecycle", "purchase", 2, "checkout", false}},
		{"checkout subscription", track("Subscription Started", nil), tag{"lifecycle", "purchase", 2, "checkout", false}},
		{"feature_use", track("Feature Used", nil), tag{"lifecycle", "retention", 3, "feature_use", false}},
		{"renewal", track("Subscription Renewed", nil), tag{"lifecycle", "retention", 3, "renewal", false}},
		{"support_ticket", track("Support Ticket Opened", nil), tag{"lifecycle", "retention", 3, "support_ticket", true}},
		{"payment_failed", track("Payment Failed", nil), tag{"lifecycle", "retention", 3, "payment_failed", true}},
		{"cancel_page", page("Cancel", "/account/cancel"), tag{"lifecycle", "retention", 3, "cancel_page", true}},
		{"referral", track("Referral Sent", nil), tag{"lifecycle", "advocacy", 4, "referral", false}},
		{"review float64", track("Review Posted", map[string]any{"rating": 4.0}), tag{"lifecycle", "advocacy", 4, "review", false}},
		{"review json.Number", track("Review Posted", map[string]any{"rating": json.Number("5")}), tag{"lifecycle", "advocacy", 4, "review", false}},
		{"account_created", track("Signed Up", nil), tag{"onboarding", "signup", 0, "account_created", false}},
		{"profile_completed", track("Profile Completed", nil), tag{"onboarding", "setup", 1, "profile_completed", false}},
		{"integration_connected", track("Integration Connected", nil), tag{"onboarding", "setup", 1, "integration_connected", false}},
		{"first_report", track("Report Created", nil), tag{"onboarding", "first_value", 2, "first_report", false}},

		// First match in file order, through the event-name index.
		{"event name beats a later page rule", page("Ad Clicked", "/docs/x"), tag{"lifecycle", "awareness", 0, "ad_click", false}},
		{"type filters rules without event", track("Demo Requested", nil), tag{"lifecycle", "consideration", 1, "demo_request", false}},
		{"page rules apply to any page name", page("Demo Requested", "/pricing"), tag{"lifecycle", "consideration", 1, "pricing_page", false}},

		// Unmatched events are still rows, with an empty tag.
		{"unknown event", track("Newsletter Opened", nil), tag{}},
		{"page nowhere in the map", page("Home", "/"), tag{}},
		{"page without a path", page("", ""), tag{}},
		{"low rating", track("Review Posted", map[string]any{"rating": 2.0}), tag{}},
		{"rating missing", track("Review Posted", nil), tag{}},
		{"identify", schemas.Event{Type: schemas.TypeIdentify, UserID: "u"}, tag{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := schemas.Source{Topic: "events", Partition: 3, Offset: 42}
			tt.ev.EventID = "e-" + tt.name
			got := m.Enrich(NewState(m), &tt.ev, src)
			if tagOf(got) != tt.want {
				t.Errorf("tag = %+v, want %+v", tagOf(got), tt.want)
			}
			if got.Source != src || got.EventID != tt.ev.EventID || got.Event.Event != tt.ev.Event {
				t.Errorf("row does not carry the event and source: %+v", got)
			}
			if got.MapVersion != m.Version() {
				t.Errorf("MapVersion = %q, want %q", got.MapVersion, m.Version())
			}
		})
	}
	for _, r := range m.Stats().Rules {
		if r.Errors != 0 {
			t.Errorf("rule %s %s failed %d times: %s", r.Kind, r.Name, r.Errors, r.LastError)
		}
	}
}

const firstMatchMap = `
name: first-match
default_persona: nobody
journeys:
  - name: a
    stages:
      - name: s0
        touchpoints:
          - name: x_page
            type: page
            when: context.page.path startsWith "/x"
      - name: s1
        touchpoints:
          - name: viewed
            event: Viewed
          - name: viewed_again
            event: [Viewed, Other, Viewed]
  - name: b
    stages:
      - name: s0
        touchpoints:
          - name: later_journey
            event: Viewed
          - name: any_track
            type: track
          - name: any_identify
            type: identify
            when: traits.plan == "pro"
`

func TestFirstMatch(t *testing.T) {
	m := mustParse(t, firstMatchMap)
	tests := []struct {
		name string
		ev   schemas.Event
		want string
	}{
		{"earlier stage wins over event name", page("Viewed", "/x/1"), "x_page"},
		{"earlier touchpoint in the stage wins", page("Viewed", "/y"), "viewed"},
		{"any listed event name", track("Other", nil), "viewed_again"},
		{"touchpoint without event takes unknown names", track("Unknown", nil), "any_track"},
		{"type must equal", page("Unknown", "/y"), ""},
		{"all conditions must hold", schemas.Event{Type: schemas.TypeIdentify, UserID: "u"}, ""},
		{"all conditions hold", identify("u", map[string]any{"plan": "pro"}), "any_identify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Enrich(NewState(m), &tt.ev, schemas.Source{}).Touchpoint; got != tt.want {
				t.Errorf("touchpoint = %q, want %q", got, tt.want)
			}
		})
	}
}

// tierMap has one persona per value of properties.tier, plus a rule that
// fails at run time when properties.n is missing.
const tierMap = `
name: tiers
default_persona: nobody
personas:
  - name: low
    priority: 10
    when: properties.tier == "low" || properties.n > 100
  - name: high
    priority: 30
    when: properties.tier == "high"
  - name: mid
    priority: 20
    when: properties.tier == "mid"
journeys:
  - name: j
    stages:
      - name: s
        touchpoints:
          - name: t
            event: E
`

// tiered is an event of the tier map for a user, an anonymous visitor, or
// both; tier "" matches no persona.
func tiered(typ, userID, anonymousID, tier string) *schemas.Event {
	props := map[string]any{"n": 1.0}
	if tier != "" {
		props["tier"] = tier
	}
	ev := &schemas.Event{Type: typ, Event: "E", UserID: userID, AnonymousID: anonymousID}
	ev.SetProperties(props)
	return ev
}

func TestPersonaPriority(t *testing.T) {
	m := mustParse(t, tierMap)
	s := NewState(m)
	steps := []struct {
		tier, want string
	}{
		{"", "nobody"},      // never matched: the default
		{"low", "low"},      // first match
		{"", "low"},         // kept without a match
		{"mid", "mid"},      // higher overrides lower
		{"low", "mid"},      // lower never overrides higher
		{"high", "high"},    // highest
		{"mid", "high"},     // ...and stays
		{"low", "high"},     // ...and stays
		{"nothing", "high"}, // an unknown value changes nothing
	}
	for i, st := range steps {
		got := m.Enrich(s, tiered(schemas.TypeTrack, "u1", "", st.tier), schemas.Source{})
		if got.Persona != st.want {
			t.Fatalf("step %d (tier %q): persona %q, want %q", i, st.tier, got.Persona, st.want)
		}
	}
	// Another customer is unaffected.
	if got := m.Enrich(s, tiered(schemas.TypeTrack, "u2", "", ""), schemas.Source{}); got.Persona != "nobody" {
		t.Errorf("other customer has persona %q", got.Persona)
	}
	if links, customers := s.Len(); links != 0 || customers != 1 {
		t.Errorf("Len = %d links, %d customers; want 0, 1", links, customers)
	}
}

func TestPersonaRulesBelowCurrentAreNotRun(t *testing.T) {
	m := mustParse(t, tierMap)
	s := NewState(m)
	noN := func(user, tier string) *schemas.Event {
		ev := &schemas.Event{Type: schemas.TypeTrack, Event: "E", UserID: user}
		ev.SetProperties(map[string]any{"tier": tier})
		return ev
	}
	// "high" matches first, so the failing "low" rule is never reached.
	m.Enrich(s, noN("u1", "high"), schemas.Source{})
	// u1 is high: no persona rule runs at all.
	m.Enrich(s, noN("u1", "none"), schemas.Source{})
	if st := ruleStat(m, "persona", "low"); st.Errors != 0 {
		t.Fatalf("low rule ran for a customer above it: %+v", st)
	}
	// An unassigned customer runs every rule; the low rule fails on the
	// missing n, which counts as no match and is counted.
	got := m.Enrich(s, noN("u2", "none"), schemas.Source{})
	if got.Persona != "nobody" {
		t.Errorf("persona = %q after a failing rule, want the default", got.Persona)
	}
	st := ruleStat(m, "persona", "low")
	if st.Errors != 1 || !strings.Contains(st.LastError, "invalid operation") {
		t.Errorf("low rule stats = %+v, want 1 error comparing nil", st)
	}
}

func ruleStat(m *Map, kind, name string) RuleStat {
	for _, r := range m.Stats().Rules {
		if r.Kind == kind && r.Name == name {
			return r
		}
	}
	return RuleStat{}
}

func TestStitching(t *testing.T) {
	m := mustParse(t, tierMap)
	const (
		track    = schemas.TypeTrack
		identify = schemas.TypeIdentify
	)
	type step struct {
		ev                *schemas.Event
		customer, persona string
	}
	tests := []struct {
		name  string
		steps []step
		links int
	}{
		{
			name: "link, not retroactive",
			steps: []step{
				{tiered(track, "", "a1", ""), "a1", "nobody"},
				{tiered(identify, "u1", "a1", ""), "u1", "nobody"},
				{tiered(track, "", "a1", ""), "u1", "nobody"},
				{tiered(track, "u1", "", ""), "u1", "nobody"},
				{tiered(track, "u1", "a1", ""), "u1", "nobody"},
			},
			links: 1,
		},
		{
			name: "first link wins",
			steps: []step{
				{tiered(identify, "u1", "a1", ""), "u1", "nobody"},
				{tiered(identify, "u2", "a1", ""), "u2", "nobody"},
				{tiered(track, "", "a1", ""), "u1", "nobody"},
			},
			links: 1,
		},
		{
			name: "user inherits the visitor's persona",
			steps: []step{
				{tiered(track, "", "a1", "mid"), "a1", "mid"},
				{tiered(identify, "u1", "a1", ""), "u1", "mid"},
				{tiered(track, "u1", "", ""), "u1", "mid"},
				{tiered(track, "", "a1", "low"), "u1", "mid"},
			},
			links: 1,
		},
		{
			name: "user with a persona keeps it",
			steps: []step{
				{tiered(track, "u1", "", "low"), "u1", "low"},
				{tiered(track, "", "a1", "high"), "a1", "high"},
				{tiered(identify, "u1", "a1", ""), "u1", "low"},
				{tiered(track, "", "a1", ""), "u1", "low"},
			},
			links: 1,
		},
		{
			// Stitching comes before persona rules, so the identify
			// event's own rules run against the inherited persona.
			name: "inherit, then only higher rules",
			steps: []step{
				{tiered(track, "", "a1", "high"), "a1", "high"},
				{tiered(identify, "u1", "a1", "low"), "u1", "high"},
			},
			links: 1,
		},
		{
			name: "identify event's persona applies to the user",
			steps: []step{
				{tiered(track, "", "a1", "low"), "a1", "low"},
				{tiered(identify, "u1", "a1", "high"), "u1", "high"},
				{tiered(track, "", "a1", ""), "u1", "high"},
			},
			links: 1,
		},
		{
			name: "user id only events",
			steps: []step{
				{tiered(track, "u1", "", "mid"), "u1", "mid"},
				{tiered(identify, "u1", "", ""), "u1", "mid"},
				{tiered(track, "u1", "", ""), "u1", "mid"},
			},
			links: 0,
		},
		{
			name: "only identify links",
			steps: []step{
				{tiered(track, "u1", "a1", "mid"), "u1", "mid"},
				{tiered("page", "u1", "a1", ""), "u1", "mid"},
				{tiered(track, "", "a1", ""), "a1", "nobody"},
			},
			links: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState(m)
			for i, st := range tt.steps {
				got := m.Enrich(s, st.ev, schemas.Source{})
				if got.CustomerID != st.customer || got.Persona != st.persona {
					t.Fatalf("step %d: customer %q persona %q, want %q %q", i, got.CustomerID, got.Persona, st.customer, st.persona)
				}
			}
			if links, _ := s.Len(); links != tt.links {
				t.Errorf("links = %d, want %d", links, tt.links)
			}
		})
	}
}

func TestRestore(t *testing.T) {
	m := mustParse(t, tierMap)
	s := NewState(m)
	s.RestoreLink("a1", "u1")
	s.RestoreLink("a1", "u2") // first link wins here too
	s.RestoreLink("", "u3")
	s.RestorePersona("u1", "mid")
	s.RestorePersona("u2", "retired") // no longer in the map
	s.RestorePersona("u3", "nobody")  // the default is no assignment
	if links, customers := s.Len(); links != 1 || customers != 1 {
		t.Fatalf("Len = %d, %d; want 1, 1", links, customers)
	}
	got := m.Enrich(s, tiered(schemas.TypeTrack, "", "a1", "low"), schemas.Source{})
	if got.CustomerID != "u1" || got.Persona != "mid" {
		t.Errorf("restored customer %q persona %q, want u1 mid", got.CustomerID, got.Persona)
	}
	got = m.Enrich(s, tiered(schemas.TypeTrack, "u2", "", "low"), schemas.Source{})
	if got.Persona != "low" {
		t.Errorf("customer with a retired persona: %q, want a fresh assignment", got.Persona)
	}
}

// TestNumbers checks that rules see float64 whether the validator decoded
// numbers as float64 or as json.Number.
func TestNumbers(t *testing.T) {
	const src = `
name: numbers
default_persona: nobody
journeys:
  - name: j
    stages:
      - name: s
        touchpoints:
          - name: compare
            event: Compare
            when: properties.n >= 4 && properties.n == 4.5 && properties.n != "4.5"
          - name: arithmetic
            event: Arithmetic
            when: properties.n * 2 == 9 && -properties.n < 0
          - name: nested
            event: Nested
            when: properties.items[0].price > 3 && any(properties.items, .price > 3)
          - name: membership
            event: Membership
            when: properties.n in [1.5, 4.5]
          - name: builtin
            event: Builtin
            when: max(properties.n, 1) == 4.5 && abs(properties.n) == 4.5
          - name: variable
            event: Variable
            when: let x = properties.n; x > 4
          - name: optional
            event: Optional
            when: properties?.missing?.n == nil && (properties.n ?? 0) > 4
          - name: index
            event: Index
            when: properties["n"] < 5 && properties.items[0]["price"] < 5
`
	m := mustParse(t, src)
	for _, num := range []any{4.5, json.Number("4.5")} {
		props := map[string]any{
			"n":     num,
			"items": []any{map[string]any{"price": num}},
		}
		for _, tp := range []string{"compare", "arithmetic", "nested", "membership", "builtin", "variable", "optional", "index"} {
			name := strings.ToUpper(tp[:1]) + tp[1:]
			ev := track(name, props)
			if got := m.Enrich(NewState(m), &ev, schemas.Source{}).Touchpoint; got != tp {
				t.Errorf("%T: event %s tagged %q, want %q (stats %+v)", num, name, got, tp, ruleStat(m, "touchpoint", tp))
			}
		}
	}
}

func TestEnrichDoesNotMutateEvent(t *testing.T) {
	m := loadExample(t)
	ev := track("Review Posted", map[string]any{"rating": json.Number("5")})
	m.Enrich(NewState(m), &ev, schemas.Source{})
	v, _ := ev.Property("rating")
	if _, ok := v.(json.Number); !ok {
		t.Errorf("rating became %T", v)
	}
}

func TestStateOfAnotherMapPanics(t *testing.T) {
	a, b := loadExample(t), loadExample(t)
	defer func() {
		if recover() == nil {
			t.Error("Enrich accepted a State made for another Map")
		}
	}()
	ev := track("Ad Clicked", nil)
	a.Enrich(NewState(b), &ev, schemas.Source{})
}

func TestRuleFailuresAreCountedNonMatches(t *testing.T) {
	const src = `
name: failures
default_persona: nobody
journeys:
  - name: j
    stages:
      - name: s
        touchpoints:
          - name: not_bool
            event: E
            when: properties.plan
          - name: nil_compare
            event: E
            when: traits.seats > 10
          - name: fallback
            event: E
`
	m := mustParse(t, src)
	s := NewState(m)
	for range 3 {
		// Traits is nil: a nil map reads as nil like a missing key.
		ev := track("E", map[string]any{"plan": "pro"})
		ev.UserID, ev.AnonymousID = "u", ""
		if got := m.Enrich(s, &ev, schemas.Source{}).Touchpoint; got != "fallback" {
			t.Fatalf("touchpoint = %q, want fallback past two failing rules", got)
		}
	}
	if st := ruleStat(m, "touchpoint", "not_bool"); st.Errors != 3 || st.LastError == "" {
		t.Errorf("not_bool stats = %+v, want 3 errors", st)
	}
	if st := ruleStat(m, "touchpoint", "nil_compare"); st.Errors != 3 || !strings.Contains(st.LastError, "<nil> > int") {
		t.Errorf("nil_compare stats = %+v, want 3 errors comparing nil", st)
	}
}

func TestRulesCannotReadTheClock(t *testing.T) {
	const src = `
name: clock
default_persona: nobody
journeys:
  - name: j
    stages:
      - name: s
        touchpoints:
          - name: t
            when: now() > date("2024-01-01")
`
	_, err := Parse([]byte(src), "clock.yaml")
	assertProblems(t, problems(t, err), []string{"journeys[0].stages[0].touchpoints[0].when: line 10: unknown name now"})
}

// TestConcurrentPartitions runs one State per goroutine over one Map, as
// the collector does with partitions, while metrics are scraped.
func TestConcurrentPartitions(t *testing.T) {
	m := loadExample(t)
	events := benchEvents(2000, 300)
	var wg sync.WaitGroup
	results := make([][]schemas.Enriched, 4)
	for p := range results {
		wg.Go(func() {
			s := NewState(m)
			for i := range events {
				results[p] = append(results[p], m.Enrich(s, &events[i], schemas.Source{Partition: int32(p)}))
				if i%100 == 0 {
					_ = m.Stats()
				}
			}
		})
	}
	wg.Wait()
	// Deterministic: every partition saw the same events and tagged them
	// the same way.
	for p := 1; p < len(results); p++ {
		for i := range results[p] {
			a, b := results[0][i], results[p][i]
			if tagOf(a) != tagOf(b) || a.Persona != b.Persona || a.CustomerID != b.CustomerID {
				t.Fatalf("event %d: partition %d tagged %+v, partition 0 %+v", i, p, b, a)
			}
		}
	}
}
