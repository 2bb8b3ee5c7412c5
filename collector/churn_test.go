package collector

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/schemas"
)

const churnTestMap = `
name: churn-test
default_persona: nobody
personas:
  - name: alpha
    priority: 20
    when: context.campaign.source == "alpha"
  - name: beta
    priority: 10
    when: context.campaign.source == "beta"
journeys:
  - name: life
    stages:
      - name: s0
        touchpoints:
          - name: t0
            event: E0
      - name: s1
        touchpoints:
          - name: t1
            event: E1
          - name: complaint
            event: Complaint
            negative: true
      - name: s2
        touchpoints:
          - name: t2
            event: E2
  - name: other
    stages:
      - name: o0
        touchpoints:
          - name: u0
            event: U0
`

const day = 24 * time.Hour

// t0 is the test epoch: well inside the uint32 seconds of customer times.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testMap(t testing.TB) *enrich.Map {
	t.Helper()
	jm, err := enrich.Parse([]byte(churnTestMap), "churn-test")
	if err != nil {
		t.Fatal(err)
	}
	return jm
}

// testChurnConfig is config.Default()'s churn section, with a fixed clock.
func testChurnConfig(now *time.Time) ChurnConfig {
	return ChurnConfig{
		SweepInterval:    time.Minute,
		KPIWindow:        7 * day,
		ShortHalfLife:    3 * day,
		LongHalfLife:     30 * day,
		NegativeHalfLife: 14 * day,
		PriorGap:         3 * day,
		PriorStageTime:   7 * day,
		InactivityScale:  3,
		StallScale:       2,
		Weights:          ChurnWeights{Inactivity: 0.55, Decline: 0.2, Stall: 0.1, Negative: 0.3},
		MediumBand:       0.4,
		HighBand:         0.7,
		MaxCustomers:     1000000,
		WriteMinDelta:    0.05,
		Clock:            func() time.Time { return *now },
	}
}

// newTestTable returns an empty churn table over the test map, and the
// maker of the events it observes.
func newTestTable(t testing.TB, mutate func(*ChurnConfig)) (*churnTable, eventMaker) {
	t.Helper()
	now := t0
	cfg := testChurnConfig(&now)
	if mutate != nil {
		mutate(&cfg)
	}
	jm := testMap(t)
	return newChurnTable(newChurnModel(cfg, jm), enrich.NewState(jm)), tagger(jm)
}

// eventMaker returns an enriched event as the enricher would tag it;
// journey "" and stage < 0 for none.
type eventMaker func(id, persona, journey string, stage int, negative bool, at time.Time) *schemas.Enriched

// tagger returns the eventMaker of jm: it sets the persona and journey
// indexes from the names as jm numbers them, as EnrichRow does, so that
// the events observed in tests cannot drift from what Write observes. A
// name jm does not have is a mistake of the test and panics.
func tagger(jm *enrich.Map) eventMaker {
	personas, journeys := jm.Personas(), jm.Journeys()
	return func(id, persona, journey string, stage int, negative bool, at time.Time) *schemas.Enriched {
		e := &schemas.Enriched{CustomerID: id, Persona: persona, Journey: journey, Negative: negative,
			PersonaIndex: -1, JourneyIndex: -1, TouchpointIndex: -1}
		e.Timestamp = at
		if stage >= 0 {
			e.StageIndex = uint8(stage)
		}
		for i := range personas {
			if personas[i].Name == persona {
				e.PersonaIndex = int32(i)
			}
		}
		for i := range journeys {
			if journeys[i].Name == journey {
				e.JourneyIndex = int32(i)
			}
		}
		if (e.PersonaIndex < 0 && persona != "" && persona != jm.DefaultPersona()) || (e.JourneyIndex < 0 && journey != "") {
			panic(fmt.Sprintf("the test map has no persona %q or no journey %q", persona, journey))
		}
		return e
	}
}

func scoreOf(t *churnTable, id string, at time.Time) factors {
	return t.score(int(posOf(t, id)), at.Unix())
}

// posOf returns the position of a tracked customer.
func posOf(t *churnTable, id string) uint32 {
	i, ok := t.find(id)
	if !ok {
		panic("no customer " + id)
	}
	return i
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestChurnInactivityGrowsWithIdleTime(t *testing.T) {
	tb, ev := newTestTable(t, nil)
	tb.observe(ev("c", "nobody", "", -1, false, t0))
	prev := factors{}
	for h := 0; h <= 60*24; h += 6 {
		f := scoreOf(tb, "c", t0.Add(time.Duration(h)*time.Hour))
		if f.inactivity < prev.inactivity || f.risk < prev.risk {
			t.Fatalf("after %dh: inactivity %v risk %v fell from %v %v", h, f.inactivity, f.risk, prev.inactivity, prev.risk)
		}
		if f.inactivity < 0 || f.inactivity > 1 || f.risk < 0 || f.risk > 1 {
			t.Fatalf("after %dh: out of [0,1]: %+v", h, f)
		}
		prev = f
	}
	if f := scoreOf(tb, "c", t0); f.inactivity != 0 {
		t.Errorf("inactivity at the last event = %v, want 0", f.inactivity)
	}
	// Nothing learned: the prior gap (3d), so idle k·gap = 9 days gives 1 − 1/e.
	if f := scoreOf(tb, "c", t0.Add(9*day)); !near(f.inactivity, 1-math.Exp(-1), 1e-9) {
		t.Errorf("inactivity after 9 days = %v, want %v", f.inactivity, 1-math.Exp(-1))
	}
	if prev.band != bandHigh {
		t.Errorf("after 60 silent days band = %s (risk %v), want high", bandNames[prev.band], prev.risk)
	}
}

func TestChurnLearnsTypicalGapPerPersona(t *testing.T) {
	tb, ev := newTestTable(t, nil)
	alpha := tb.m.personaIndex("alpha")
	for c := range 20 {
		id := string(rune('a' + c))
		at := t0
		for range 10 {
			tb.observe(ev(id, "alpha", "", -1, false, at))
			// A burst within one visit teaches nothing.
			tb.observe(ev(id, "alpha", "", -1, false, at.Add(5*time.Minute)))
			at = at.Add(12 * time.Hour)
		}
	}
	// Gaps between visits: 12h − 5min.
	want := (12*time.Hour - 5*time.Minute).Seconds()
	if got := tb.gap[alpha].or(-1); !near(got, want, 1) {
		t.Errorf("alpha's typical gap = %vs, want %vs", got, want)
	}
	if got := tb.gap[tb.m.personaIndex("beta")].or(-1); got != -1 {
		t.Errorf("beta learned a gap (%v) from alpha's customers", got)
	}
	// Half a day is alpha's typical gap: 1.5 days idle is k = 3 gaps.
	last := t0.Add(9*12*time.Hour + 5*time.Minute)
	if f := scoreOf(tb, "a", last.Add(time.Duration(3*want)*time.Second)); !near(f.inactivity, 1-math.Exp(-1), 1e-6) {
		t.Errorf("inactivity after 3 typical gaps = %v, want %v", f.inactivity, 1-math.Exp(-1))
	}
}

func TestChurnDecline(t *testing.T) {
	tb, ev := newTestTable(t, nil)
	at := t0
	for range 120 { // daily, steady
		tb.observe(ev("steady", "nobody", "", -1, false, at))
		tb.observe(ev("slowing", "nobody", "", -1, false, at))
		at = at.Add(day)
	}
	for range 8 { // then "slowing" comes every 4 days, "steady" stays daily
		for range 4 {
			tb.observe(ev("steady", "nobody", "", -1, false, at))
			at = at.Add(day)
		}
		tb.observe(ev("slowing", "nobody", "", -1, false, at.Add(-day)))
	}
	now := at.Add(-day)
	steady, slowing := scoreOf(tb, "steady", now), scoreOf(tb, "slowing", now)
	if steady.decline > 0.1 {
		t.Errorf("steady customer's decline = %v, want about 0", steady.decline)
	}
	// The long rate still remembers the daily months; the short one has
	// mostly forgotten them.
	if slowing.decline < 0.25 {
		t.Errorf("slowing customer's decline = %v, want well above 0", slowing.decline)
	}
	if slowing.inactivity != 0 {
		t.Errorf("slowing customer was active now: inactivity %v", slowing.inactivity)
	}
}

func TestChurnStall(t *testing.T) {
	tb, ev := newTestTable(t, nil)
	tb.observe(ev("c", "nobody", "life", 1, false, t0))
	// Prior time to next stage 7d, stall scale 2: 14 days gives 1 − 1/e.
	if f := scoreOf(tb, "c", t0.Add(14*day)); !near(f.stall, 1-math.Exp(-1), 1e-9) {
		t.Errorf("stall after 14 days at s1 = %v, want %v", f.stall, 1-math.Exp(-1))
	}
	// Activity in another journey or an earlier stage does not reset it.
	tb.observe(ev("c", "nobody", "other", 0, false, t0.Add(13*day)))
	tb.observe(ev("c", "nobody", "life", 0, false, t0.Add(13*day)))
	if f := scoreOf(tb, "c", t0.Add(14*day)); !near(f.stall, 1-math.Exp(-1), 1e-9) {
		t.Errorf("stall after other activity = %v", f.stall)
	}
	// Reaching the last stage ends the stall, and teaches s1 → next = 20 days.
	tb.observe(ev("c", "nobody", "life", 2, false, t0.Add(20*day)))
	if f := scoreOf(tb, "c", t0.Add(100*day)); f.stall != 0 {
		t.Errorf("stall at the last stage = %v, want 0", f.stall)
	}
	if got := tb.ttn[0*3+1].or(-1); got != (20 * day).Seconds() {
		t.Errorf("learned time s1 → next = %v, want %v", got, (20 * day).Seconds())
	}
	tb.observe(ev("d", "nobody", "", -1, false, t0))
	if f := scoreOf(tb, "d", t0.Add(100*day)); f.stall != 0 {
		t.Errorf("stall without a stage = %v, want 0", f.stall)
	}
}

func TestChurnNegativeTouchpoints(t *testing.T) {
	tb, ev := newTestTable(t, nil)
	tb.observe(ev("c", "nobody", "life", 1, true, t0))
	if f := scoreOf(tb, "c", t0); !near(f.negative, 1-math.Exp(-1), 1e-6) {
		t.Errorf("one negative now: %v, want %v", f.negative, 1-math.Exp(-1))
	}
	if f := scoreOf(tb, "c", t0.Add(14*day)); !near(f.negative, 1-math.Exp(-0.5), 1e-6) {
		t.Errorf("one negative a half-life ago: %v, want %v", f.negative, 1-math.Exp(-0.5))
	}
	tb.observe(ev("c", "nobody", "life", 1, true, t0))
	if f := scoreOf(tb, "c", t0); !near(f.negative, 1-math.Exp(-2), 1e-6) {
		t.Errorf("two negatives now: %v, want %v", f.negative, 1-math.Exp(-2))
	}
}

func TestChurnWeightsAndBands(t *testing.T) {
	tb, ev := newTestTable(t, func(c *ChurnConfig) {
		c.Weights = ChurnWeights{Negative: 1}
		c.MediumBand, c.HighBand = 0.5, 0.8
	})
	tb.observe(ev("calm", "nobody", "life", 0, false, t0))
	for range 2 { // 1 − e⁻² = 0.86
		tb.observe(ev("angry", "nobody", "life", 1, true, t0))
	}
	tb.observe(ev("upset", "nobody", "life", 1, true, t0)) // 0.63
	for id, want := range map[string]uint8{"calm": bandLow, "upset": bandMedium, "angry": bandHigh} {
		f := scoreOf(tb, id, t0.Add(10*day))
		// Only the negative factor weighs: long silence does not count.
		if want := 1 - math.Exp(-float64(tb.cust[posOf(tb, id)].neg)*math.Exp(-tb.m.kNeg*10*86400)); !near(f.risk, want, 1e-9) {
			t.Errorf("%s: risk %v, want the negative factor %v", id, f.risk, want)
		}
		if id != "calm" {
			f = scoreOf(tb, id, t0)
		}
		if f.band != want {
			t.Errorf("%s: band %s (risk %v), want %s", id, bandNames[f.band], f.risk, bandNames[want])
		}
	}
	fresh, _ := newTestTable(t, nil)
	m := fresh.m
	for _, tc := range []struct {
		risk float64
		want uint8
	}{{0, bandLow}, {0.399, bandLow}, {0.4, bandMedium}, {0.699, bandMedium}, {0.7, bandHigh}, {1, bandHigh}} {
		if got := m.band(tc.risk); got != tc.want {
			t.Errorf("band(%v) = %s, want %s", tc.risk, bandNames[got], bandNames[tc.want])
		}
	}
}

func TestChurnOrderIndependent(t *testing.T) {
	a, ev := newTestTable(t, nil)
	b, _ := newTestTable(t, nil)
	events := []*schemas.Enriched{
		ev("c", "alpha", "life", 0, false, t0),
		ev("c", "alpha", "life", 1, true, t0.Add(2*day)),
		ev("c", "alpha", "", -1, false, t0.Add(5*day)),
		ev("c", "alpha", "life", 2, false, t0.Add(9*day)),
	}
	for _, e := range events {
		a.observe(e)
	}
	for _, k := range []int{3, 0, 2, 1} {
		b.observe(events[k])
	}
	ca, cb := a.cust[0], b.cust[0]
	if ca.firstSeen != cb.firstSeen || ca.lastSeen != cb.lastSeen || ca.events != cb.events ||
		!near(float64(ca.short), float64(cb.short), 1e-5) || !near(float64(ca.long), float64(cb.long), 1e-5) ||
		!near(float64(ca.neg), float64(cb.neg), 1e-5) || a.stages[0] != b.stages[0] {
		t.Errorf("in order %+v stage %d\nshuffled %+v stage %d", ca, a.stages[0], cb, b.stages[0])
	}
}

func TestChurnEvictsLeastRecentlyActive(t *testing.T) {
	tb, ev := newTestTable(t, func(c *ChurnConfig) { c.MaxCustomers = 100 })
	for i := range 1000 {
		tb.observe(ev("customer-"+strconv.Itoa(i), "nobody", "life", i%3, false, t0.Add(time.Duration(i)*time.Minute)))
	}
	if n := tb.len(); n > 100 || n < 90 {
		t.Fatalf("tracking %d customers, want at most 100 and not far fewer", n)
	}
	if tb.evicted != uint64(1000-tb.len()) {
		t.Errorf("evicted %d, tracking %d of 1000", tb.evicted, tb.len())
	}
	for i := range tb.cust {
		c := &tb.cust[i]
		if got, _ := tb.find(string(tb.id(c))); got != uint32(i) {
			t.Fatalf("customer %s at %d indexed at %d", tb.id(c), i, got)
		}
		if c.lastSeen < unixSeconds(t0.Add(900*time.Minute)) {
			t.Errorf("customer %s (last seen %d) kept although older than the newest 100", tb.id(c), c.lastSeen)
		}
		if want := uint8(1 + (int(c.lastSeen-unixSeconds(t0))/60)%3); tb.stages[i*2] != want {
			t.Errorf("customer %s: stage %d, want %d (stages moved with the wrong customer)", tb.id(c), tb.stages[i*2], want)
		}
	}
	if n := tb.st.Stored(); n != tb.len() {
		t.Errorf("the State stores %d customers for %d tracked: evicted ones not released", n, tb.len())
	}
	if _, ok := tb.find("customer-999"); !ok {
		t.Error("the most recent customer was evicted")
	}
}

func TestChurnRestoreApproximatesRates(t *testing.T) {
	tb, _ := newTestTable(t, nil)
	tb.restore(&aggregate.ChurnState{
		Customers: []aggregate.ChurnCustomer{
			{CustomerID: "c", Persona: "beta", FirstSeen: t0, LastSeen: t0.Add(30 * day), Events: 31, NegativeEvents: 1},
			{CustomerID: "d", Persona: "gone-from-map", FirstSeen: t0, LastSeen: t0, Events: 3},
		},
		Stages: []aggregate.ChurnStage{
			{Journey: "life", CustomerID: "c", StageIndex: 1, ReachedAt: t0.Add(day)},
			{Journey: "other", CustomerID: "c", StageIndex: 0, ReachedAt: t0},
			{Journey: "life", CustomerID: "c", StageIndex: 9, ReachedAt: t0}, // stage no longer in the map
		},
		Scores: map[string]aggregate.ChurnLastScore{"c": {Risk: 0.5, Band: "medium"}},
	})
	c := tb.cust[posOf(tb, "c")]
	d := tb.cust[posOf(tb, "d")]
	if c.persona != tb.m.personaIndex("beta") || d.persona != 0 {
		t.Errorf("personas %d %d", c.persona, d.persona)
	}
	// One event a day for 30 days: the long count is close to what daily
	// events would have left, n·(1−e^(−k·span))/(k·span).
	kl := tb.m.kLong * (30 * day).Seconds()
	if want := 31 * (1 - math.Exp(-kl)) / kl; !near(float64(c.long), want, 1e-3) {
		t.Errorf("long count %v, want %v", c.long, want)
	}
	if d.short != 3 || d.long != 3 {
		t.Errorf("all events at one instant: counts %v %v, want 3", d.short, d.long)
	}
	if c.lastBand != bandMedium+1 || c.lastRisk != 0.5 {
		t.Errorf("last written %v band %d", c.lastRisk, c.lastBand)
	}
	i := posOf(tb, "c")
	if tb.stages[i*2] != 2 || tb.stages[i*2+1] != 1 || c.stageAt != unixSeconds(t0.Add(day)) {
		t.Errorf("stages %v reached at %d", tb.stages[i*2:i*2+2], c.stageAt)
	}
}

func TestHistQuantile(t *testing.T) {
	hist := make([]uint32, histBins)
	if !math.IsNaN(histQuantile(hist, 0.5)) {
		t.Error("quantile of nothing is not NaN")
	}
	for i := range 100 { // risks 0.000 .. 0.990
		hist[i*10]++
	}
	for _, tc := range []struct{ q, want float64 }{{0.5, 0.4905}, {0.9, 0.8905}, {0.99, 0.9805}} {
		if got := histQuantile(hist, tc.q); !near(got, tc.want, 1e-9) {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// TestChurnObservesEnrichedIndexes holds enrich and churn to one numbering:
// rows the map enriches reach the persona and the journey stage that
// their names say.
func TestChurnObservesEnrichedIndexes(t *testing.T) {
	now := t0
	jm := testMap(t)
	cs := NewCustomers(testChurnConfig(&now), jm)
	tb := cs.churn
	for k, tc := range []struct{ source, event string }{
		{"alpha", "E0"}, {"beta", "U0"}, {"", "E2"}, {"beta", "E1"}, {"alpha", "Complaint"},
	} {
		ev := schemas.Event{Type: schemas.TypeTrack, Event: tc.event, UserID: fmt.Sprint("u", k), Timestamp: t0}
		ev.Context.Campaign.Source = tc.source
		e := jm.Enrich(cs.state, &ev, schemas.Source{})
		tb.observe(&e)
		i := posOf(tb, e.CustomerID)
		if got, want := tb.cust[i].persona, tb.m.personaIndex(e.Persona); got != want {
			t.Errorf("%s: persona %d, want %d (%s)", tc.event, got, want, e.Persona)
		}
		j := tb.m.journeyIndex(e.Journey)
		if j < 0 {
			t.Fatalf("%s: tagged with no journey of the map: %q", tc.event, e.Journey)
		}
		if got := tb.stages[int(i)*len(tb.m.journeys)+j]; got != e.StageIndex+1 {
			t.Errorf("%s: journey %s at stage %d, want %d", tc.event, e.Journey, got, e.StageIndex+1)
		}
	}
}
