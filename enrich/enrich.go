package enrich

import (
	"github.com/journeys-analytics/journeys/schemas"
)

// Enrich tags one valid event with its customer, persona and touchpoint, and
// updates s: identity stitching and persona assignment. See the package
// documentation for the rules. s must have been made by NewState(m); Enrich
// panics otherwise, as that is a programming error that would silently
// mislabel personas.
func (m *Map) Enrich(s *State, ev *schemas.Event, src schemas.Source) schemas.Enriched {
	out := schemas.Enriched{Event: *ev, Source: src}
	m.EnrichRow(s, &out)
	return out
}

// EnrichRow is Enrich in place: e's Event and Source are the input, and
// every other field of e is set. A row of several hundred bytes is thus
// written once, where it will be stored, rather than copied per event.
func (m *Map) EnrichRow(s *State, e *schemas.Enriched) {
	ev := &e.Event
	if s.m != m {
		// Persona indexes would silently mean other personas.
		panic("enrich: State used with a Map other than the one it was made for")
	}
	s.envSet = false
	defer s.release()

	// 1. The customer, resolved before this event's own link: an identify
	// event carries its user id anyway.
	customer, rec := s.customer(ev.UserID, ev.AnonymousID)

	// 2. Identity stitching. The customer is the user, whom a new link
	// stores.
	if ev.Type == schemas.TypeIdentify && ev.AnonymousID != "" && ev.UserID != "" {
		if u, ok := s.link(ev.AnonymousID, ev.UserID); ok {
			rec = int(u)
		}
	}

	// 3. Persona: only rules of higher priority than the current persona
	// can change it, so an assigned customer runs fewer rules.
	current, assigned := s.persona(rec)
	limit := len(m.personas)
	if assigned {
		limit = int(current)
	}
	for i := range limit {
		if r := m.personas[i].rule; r != nil && m.eval(s, ev, r) {
			s.assign(rec, customer, uint8(i))
			current, assigned = uint8(i), true
			break
		}
	}

	e.CustomerID, e.MapVersion = customer, m.version
	e.Persona, e.PersonaIndex = m.defaultPersona, -1
	if assigned {
		e.Persona, e.PersonaIndex = m.personas[current].def.Name, int32(current)
	}
	e.Journey, e.Stage, e.StageIndex, e.Touchpoint, e.Negative = "", "", 0, "", false
	e.JourneyIndex, e.TouchpointIndex = -1, -1

	// 4. Touchpoint: the first match in file order among the candidates
	// for this event name.
	candidates, ok := m.byEvent[ev.Event]
	if !ok {
		candidates = m.anyEvent
	}
	for _, i := range candidates {
		t := &m.touchpoints[i]
		if t.typ != "" && t.typ != ev.Type {
			continue
		}
		if t.rule != nil && !m.eval(s, ev, t.rule) {
			continue
		}
		e.Journey, e.JourneyIndex = t.journey, t.journeyIndex
		e.Stage = t.stage
		e.StageIndex = t.stageIndex
		e.Touchpoint, e.TouchpointIndex = t.name, i
		e.Negative = t.negative
		break
	}
}

// eval runs r on ev, filling the rule environment on first use so that
// events that need no rule do not pay for it.
func (m *Map) eval(s *State, ev *schemas.Event, r *rule) bool {
	if !s.envSet {
		s.env.set(ev)
		s.envSet = true
	}
	return r.eval(s)
}

// release drops the State's references to the event's maps so that an idle
// partition does not keep its last event alive.
func (s *State) release() {
	if s.envSet {
		s.env = Env{}
		s.envSet = false
	}
}
