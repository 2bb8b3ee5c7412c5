package gen

import (
	"cmp"
	"slices"
	"time"
)

// Truth is what the pipeline must report for the stream, computed from what
// the generator meant each message to be, never by the pipeline's code.
//
// Definitions, as the ClickHouse views compute them. For customer c and
// journey j: S is the set of stage indexes where c has at least one unique
// valid event tagged to j; first_at(s) is the earliest (clock-skew
// corrected) timestamp of those events at stage s; persona(c, j) is the
// persona of c's latest event in j; a day is a UTC date, YYYY-MM-DD.
type Truth struct {
	// Produced = Valid + Duplicates + the sum of Invalid.
	Produced int
	// Valid counts unique valid events: the rows of the events table.
	Valid int
	// Duplicates counts the extra copies of valid events.
	Duplicates int
	// Invalid counts invalid messages by the reason the validator must give.
	Invalid map[string]int
	// OutOfOrder counts unique valid events delivered after an event of the
	// same key with a later timestamp.
	OutOfOrder int

	// People is Config.Customers; Customers counts distinct customer ids
	// among valid events (a person who signs up is two: its anonymous id
	// before the identify, its user id from the identify on).
	People    int
	Customers int

	// StageReach is keyed by the persona each event carried and the day of
	// that event: distinct customers with at least one touchpoint event
	// there, and the number of such events.
	StageReach map[ReachKey]ReachValue
	// Conversion is per persona(c, j) and stage s in S: Reached counts
	// customers with s in S, Progressed those with a higher index in S too,
	// DroppedOff the rest. ConversionDaily splits it by the day of
	// first_at(s).
	Conversion      map[ConvKey]ConvValue
	ConversionDaily map[ConvDayKey]ConvValue

	seqs []journeySeq // per customer and journey, for Funnel
}

// ReachKey identifies a StageReach cell.
type ReachKey struct {
	Journey, Stage string
	StageIndex     uint8
	Persona        string
	Day            string
}

// ReachValue is a StageReach cell.
type ReachValue struct{ Customers, Events uint64 }

// ConvKey identifies a Conversion cell.
type ConvKey struct {
	Journey, Persona string
	StageIndex       uint8
}

// ConvDayKey identifies a ConversionDaily cell.
type ConvDayKey struct {
	Journey, Persona string
	StageIndex       uint8
	Day              string
}

// ConvValue is a Conversion cell.
type ConvValue struct{ Reached, Progressed, DroppedOff uint64 }

// FunnelKey identifies a Funnel cell.
type FunnelKey struct {
	Journey, Persona string
	Level            uint8
}

// Funnel counts, per journey, persona(c, j) and level L (1 to the number of
// stages), the customers whose windowFunnel(window) level over their events
// in the journey is at least L. Cells of zero customers are absent. See
// WindowFunnel for the algorithm; timestamps are in milliseconds.
func (t *Truth) Funnel(window time.Duration) map[FunnelKey]uint64 {
	out := map[FunnelKey]uint64{}
	w := window.Milliseconds()
	for _, s := range t.seqs {
		level := windowFunnel(s.events, w, len(s.journey.stages()))
		for l := 1; l <= level; l++ {
			out[FunnelKey{s.journey.String(), s.persona.String(), uint8(l)}]++
		}
	}
	return out
}

// tagged is one unique valid event tagged to a journey, as the truth keeps
// it.
type tagged struct {
	ts      int64 // Unix ms, corrected
	stage   uint8
	persona persona
}

// journeySeq is one customer's events in one journey, sorted by (ts, stage).
type journeySeq struct {
	journey journey
	persona persona // persona(c, j)
	events  []tagged
}

type customerEvents [numJourneys - 1][]tagged

// truthBuilder follows the stream as the pipeline must: customer ids are
// resolved in delivery order, with the first identify link of an anonymous
// id winning and applying only to later events.
type truthBuilder struct {
	t         Truth
	links     map[string]string
	customers map[string]*customerEvents
}

func newTruthBuilder() *truthBuilder {
	return &truthBuilder{
		t:         Truth{Invalid: map[string]int{}},
		links:     map[string]string{},
		customers: map[string]*customerEvents{},
	}
}

func (b *truthBuilder) observe(p *person, s *spec) {
	b.t.Produced++
	switch {
	case s.bad != valid:
		b.t.Invalid[s.bad.reason()]++
		return
	case s.dup:
		b.t.Duplicates++
		return
	}
	b.t.Valid++
	if s.ts < p.maxTS {
		b.t.OutOfOrder++
	} else {
		p.maxTS = s.ts
	}

	var user, anon string
	if s.ids != idAnon {
		user = p.user
	}
	if s.ids != idUser {
		anon = p.anon
	}
	if s.kind == kIdentify && user != "" && anon != "" {
		if _, ok := b.links[anon]; !ok {
			b.links[anon] = user
		}
	}
	id := user
	if id == "" {
		id = anon
		if u, ok := b.links[anon]; ok {
			id = u
		}
	}
	c := b.customers[id]
	if c == nil {
		c = new(customerEvents)
		b.customers[id] = c
	}
	// The persona is the person's hidden one: the stream is built so that
	// the map's persona rules give exactly that on every event (see
	// TestStreamMatchesJourneyMap).
	if j, st := s.kind.tag(); j != noJourney {
		c[j-1] = append(c[j-1], tagged{ts: s.ts, stage: st, persona: p.persona})
	}
}

// finish computes the aggregates. It does not change the builder, so it
// can run before the stream ends.
func (b *truthBuilder) finish(people int) *Truth {
	t := b.t
	t.Invalid = make(map[string]int, len(b.t.Invalid))
	for k, v := range b.t.Invalid {
		t.Invalid[k] = v
	}
	t.People = people
	t.Customers = len(b.customers)
	t.StageReach = map[ReachKey]ReachValue{}
	t.Conversion = map[ConvKey]ConvValue{}
	t.ConversionDaily = map[ConvDayKey]ConvValue{}

	days := map[int64]string{}
	day := func(ms int64) string {
		d := ms / 86_400_000
		if ms < 0 && ms%86_400_000 != 0 {
			d--
		}
		s, ok := days[d]
		if !ok {
			s = time.UnixMilli(d * 86_400_000).UTC().Format(time.DateOnly)
			days[d] = s
		}
		return s
	}

	// Map iteration order does not matter: every aggregate is a sum.
	seen := map[ReachKey]bool{}
	for _, c := range b.customers {
		for ji, evs := range c {
			if len(evs) == 0 {
				continue
			}
			j := journey(ji + 1)
			names := j.stages()
			evs = slices.Clone(evs)
			slices.SortStableFunc(evs, func(a, b tagged) int {
				return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.stage, b.stage))
			})

			clear(seen)
			for _, e := range evs {
				k := ReachKey{j.String(), names[e.stage], e.stage, e.persona.String(), day(e.ts)}
				v := t.StageReach[k]
				v.Events++
				if !seen[k] {
					seen[k] = true
					v.Customers++
				}
				t.StageReach[k] = v
			}

			// The latest event is last after the sort; no two events of a
			// person share a timestamp, so ties cannot arise.
			who := evs[len(evs)-1].persona
			var first [32]int64
			var in [32]bool
			top := -1
			for _, e := range evs {
				if !in[e.stage] {
					in[e.stage], first[e.stage] = true, e.ts
				}
				top = max(top, int(e.stage))
			}
			for s := range names {
				if !in[s] {
					continue
				}
				var v ConvValue
				v.Reached = 1
				if s < top {
					v.Progressed = 1
				} else {
					v.DroppedOff = 1
				}
				ck := ConvKey{j.String(), who.String(), uint8(s)}
				t.Conversion[ck] = addConv(t.Conversion[ck], v)
				dk := ConvDayKey{j.String(), who.String(), uint8(s), day(first[s])}
				t.ConversionDaily[dk] = addConv(t.ConversionDaily[dk], v)
			}
			t.seqs = append(t.seqs, journeySeq{journey: j, persona: who, events: evs})
		}
	}
	return &t
}

func addConv(a, b ConvValue) ConvValue {
	return ConvValue{a.Reached + b.Reached, a.Progressed + b.Progressed, a.DroppedOff + b.DroppedOff}
}
