package enrich

import (
	"strings"

	"github.com/journeys-analytics/journeys/schemas"
)

// Enrich tags one valid event with its customer, persona and touchpoint, and
// updates s: identity stitching and persona assignment. See the package
// documentation for the rules. s must have been made by NewState(m); Enrich
// panics otherwise, as that is a programming error that would silently
// mislabel personas.
func (m *Map) Enrich(s *State, ev *schemas.Event, src schemas.Source) schemas.Enriched {
	if s.m != m {
		// Persona indexes would silently mean other personas.
		panic("enrich: State used with a Map other than the one it was made for")
	}
	s.envSet = false
	defer s.release()

	// 1. The customer, resolved before this event's own link: an identify
	// event carries its user id anyway.
	customer := s.customer(ev.UserID, ev.AnonymousID)

	// 2. Identity stitching.
	if ev.Type == schemas.TypeIdentify && ev.AnonymousID != "" && ev.UserID != "" {
		s.link(ev.AnonymousID, ev.UserID)
	}

	// 3. Persona: only rules of higher priority than the current persona
	// can change it, so an assigned customer runs fewer rules.
	current, assigned := s.personas[customer]
	limit := len(m.personas)
	if assigned {
		limit = int(current)
	}
	for i := range limit {
		if r := m.personas[i].rule; r != nil && m.eval(s, ev, r) {
			// Clone: the map may keep the key of this assignment, and
			// the id may point into a large decoded message.
			s.personas[strings.Clone(customer)] = uint8(i)
			current, assigned = uint8(i), true
			break
		}
	}

	out := schemas.Enriched{
		Event:      *ev,
		Source:     src,
		CustomerID: customer,
		Persona:    m.defaultPersona,
		MapVersion: m.version,
	}
	if assigned {
		out.Persona = m.personas[current].def.Name
	}

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
		out.Journey = t.journey
		out.Stage = t.stage
		out.StageIndex = t.stageIndex
		out.Touchpoint = t.name
		out.Negative = t.negative
		break
	}
	return out
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
