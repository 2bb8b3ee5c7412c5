package docs

import (
	"cmp"
	"slices"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
)

// customer is what the expectations need of one customer in the journey,
// computed straight from the seeded events.
type customer struct {
	id       string
	persona  string // of its latest journey event
	events   []ev   // journey events, by time
	firstAt  map[int]time.Time
	furthest int
	lastSeen time.Time
}

func customers(evs []ev) []*customer {
	by := map[string]*customer{}
	var out []*customer
	for _, e := range evs {
		if e.stage < 0 {
			continue
		}
		c := by[e.customer]
		if c == nil {
			c = &customer{id: e.customer, firstAt: map[int]time.Time{}, furthest: -1}
			by[e.customer] = c
			out = append(out, c)
		}
		c.events = append(c.events, e)
	}
	for _, c := range out {
		slices.SortFunc(c.events, func(a, b ev) int { return a.ts.Compare(b.ts) })
		for _, e := range c.events {
			if f, ok := c.firstAt[e.stage]; !ok || e.ts.Before(f) {
				c.firstAt[e.stage] = e.ts
			}
			c.furthest = max(c.furthest, e.stage)
		}
		last := c.events[len(c.events)-1]
		c.persona, c.lastSeen = last.persona, last.ts
	}
	slices.SortFunc(out, func(a, b *customer) int { return cmp.Compare(a.id, b.id) })
	return out
}

// level is how far the customer gets through stages 0, 1, 2, ... in order
// within window of a stage-0 event: from each stage-0 event, take the
// earliest event of the next stage not before the current step and within
// the window, as long as there is one.
func (c *customer) level(window time.Duration) int {
	best := 0
	for _, start := range c.events {
		if start.stage != 0 {
			continue
		}
		cur, lvl := start.ts, 1
		for next := 1; next < len(stages); next++ {
			found := false
			for _, e := range c.events {
				if e.stage == next && !e.ts.Before(cur) && !e.ts.After(start.ts.Add(window)) {
					cur, found = e.ts, true
					break
				}
			}
			if !found {
				break
			}
			lvl++
		}
		best = max(best, lvl)
	}
	return best
}

// secondsToNext is, for stage s reached, the time to the earliest first
// arrival in any higher stage; ok false when there is none.
func (c *customer) secondsToNext(s int) (float64, bool) {
	var next time.Time
	for h, at := range c.firstAt {
		if h > s && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if next.IsZero() {
		return 0, false
	}
	return next.Sub(c.firstAt[s]).Seconds(), true
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// quantileExact is ClickHouse's: the element at index floor(level * n) of
// the sorted values.
func quantileExact(xs []float64, level float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	i := int(level * float64(len(s)))
	return s[min(i, len(s)-1)]
}

// expectations returns, per example name, the rows its query must return,
// as TabSeparated lines, for the parameters written in analysts.md.
func expectations(evs []ev) map[string][]string {
	cs := customers(evs)
	personaSet := map[string]bool{}
	for _, c := range cs {
		personaSet[c.persona] = true
	}
	present := slices.Sorted(func(yield func(string) bool) {
		for p := range personaSet {
			if !yield(p) {
				return
			}
		}
	})
	out := map[string][]string{}

	// funnel_window: window=86400.
	for _, p := range present {
		for lvl := 1; lvl <= len(stages); lvl++ {
			n := 0
			for _, c := range cs {
				if c.persona == p && c.level(24*time.Hour) >= lvl {
					n++
				}
			}
			out["funnel_window"] = append(out["funnel_window"], row(p, lvl, lvl-1, n))
		}
	}

	// drop_off_by_persona: from=2024-03-01 to=2024-03-03.
	from, to := day("2024-03-01"), day("2024-03-03").Add(24*time.Hour)
	for _, p := range present {
		for s := range stages {
			reached, dropped := 0, 0
			for _, c := range cs {
				at, ok := c.firstAt[s]
				if c.persona != p || !ok || at.Before(from) || !at.Before(to) {
					continue
				}
				reached++
				if c.furthest == s {
					dropped++
				}
			}
			if reached > 0 {
				out["drop_off_by_persona"] = append(out["drop_off_by_persona"],
					row(p, s, stages[s].name, reached, dropped, float64(dropped)/float64(reached)))
			}
		}
	}

	// time_to_convert_percentiles.
	for _, p := range present {
		for s := range stages {
			var secs []float64
			for _, c := range cs {
				if _, ok := c.firstAt[s]; ok && c.persona == p {
					if d, ok := c.secondsToNext(s); ok {
						secs = append(secs, d)
					}
				}
			}
			if len(secs) > 0 {
				out["time_to_convert_percentiles"] = append(out["time_to_convert_percentiles"],
					row(p, stages[s].name, len(secs), quantileExact(secs, 0.25)/3600,
						quantileExact(secs, 0.5)/3600, quantileExact(secs, 0.9)/3600))
			}
		}
	}

	// stalled_customers: as_of=2024-03-05 idle_days=2 before_stage=2.
	asOf := day("2024-03-05")
	var stalled []*customer
	for _, c := range cs {
		if c.furthest < 2 && c.lastSeen.Before(asOf.Add(-2*24*time.Hour)) {
			stalled = append(stalled, c)
		}
	}
	slices.SortFunc(stalled, func(a, b *customer) int {
		return cmp.Or(a.lastSeen.Compare(b.lastSeen), cmp.Compare(a.id, b.id))
	})
	for _, c := range stalled {
		days := int(asOf.Sub(c.lastSeen.Truncate(24*time.Hour)).Hours() / 24)
		out["stalled_customers"] = append(out["stalled_customers"],
			row(c.id, c.persona, stages[c.furthest].name, c.lastSeen, days))
	}

	// at_risk_customers: persona=smb_owner, bands high and medium, from the
	// latest of the two sweeps that scored each customer.
	type scored struct {
		s  aggregate.ChurnScore
		at time.Time
	}
	latest := map[string]scored{}
	for sweep := range 2 {
		at := churnAsOf.Add(time.Duration(sweep-1) * time.Hour)
		for _, s := range churnScores(sweep) {
			if l, ok := latest[s.CustomerID]; !ok || at.After(l.at) {
				latest[s.CustomerID] = scored{s, at}
			}
		}
	}
	var risky []scored
	for _, l := range latest {
		if l.s.Persona == "smb_owner" && (l.s.Band == "high" || l.s.Band == "medium") {
			risky = append(risky, l)
		}
	}
	slices.SortFunc(risky, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.s.Risk, a.s.Risk), cmp.Compare(a.s.CustomerID, b.s.CustomerID))
	})
	for _, l := range risky {
		s := l.s
		out["at_risk_customers"] = append(out["at_risk_customers"], row(s.CustomerID, s.FurthestStage, s.Risk,
			s.Band, s.Inactivity, s.Decline, s.Stall, s.Negative, s.IdleSeconds, l.at))
	}

	// touchpoint_effectiveness.
	for s, st := range stages {
		for _, tp := range slices.Sorted(slices.Values(st.touchpoints)) {
			hit, further := 0, 0
			for _, c := range cs {
				if slices.ContainsFunc(c.events, func(e ev) bool { return e.touchpoint == tp }) {
					hit++
					if c.furthest > s {
						further++
					}
				}
			}
			if hit > 0 {
				out["touchpoint_effectiveness"] = append(out["touchpoint_effectiveness"],
					row(s, tp, hit, further, float64(further)/float64(hit)))
			}
		}
	}
	return out
}
