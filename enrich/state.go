package enrich

import (
	"strings"

	"github.com/expr-lang/expr/vm"
)

// State is the per-partition memory enrichment needs: identity links
// (anonymous id → user id) and the persona of each customer that a persona
// rule has matched. One State per Kafka partition; not safe for concurrent
// use. A State belongs to the Map it was made for, because it stores
// personas as indexes into that map; after loading another map, make a new
// State and restore it from storage.
//
// Memory is two flat maps, anonymous id → user id and customer id → one-byte
// persona index, with no per-customer structs, so that millions of customers
// cost little more than their ids. Customers with the default persona are
// not stored at all. Ids are copied on insert so that they never pin the
// buffers events were decoded from.
type State struct {
	m        *Map
	links    map[string]string
	personas map[string]uint8

	// Scratch space for rule evaluation, reused across events.
	vm     vm.VM
	env    Env
	envSet bool
}

// NewState returns an empty State for m.
func NewState(m *Map) *State {
	return &State{
		m:        m,
		links:    map[string]string{},
		personas: map[string]uint8{},
	}
}

// RestoreLink records that anonymousID is userID, as an identify event
// would, when rebuilding from storage on partition takeover. The first link
// of an anonymous id wins here too; empty ids are ignored.
func (s *State) RestoreLink(anonymousID, userID string) {
	if anonymousID == "" || userID == "" {
		return
	}
	if _, ok := s.links[anonymousID]; !ok {
		s.links[strings.Clone(anonymousID)] = strings.Clone(userID)
	}
}

// RestorePersona records the persona of a customer when rebuilding from
// storage. Names the map does not define (it changed since the persona was
// stored) and the default persona leave the customer unassigned, so the
// current rules assign it afresh.
func (s *State) RestorePersona(customerID, persona string) {
	for i, p := range s.m.personas {
		if p.def.Name == persona {
			s.personas[strings.Clone(customerID)] = uint8(i)
			return
		}
	}
}

// Len returns the number of identity links and of customers with an
// assigned persona. Customers that only ever had the default persona take
// no memory and are not counted.
func (s *State) Len() (links, customers int) {
	return len(s.links), len(s.personas)
}

// customer resolves the id an event is counted under.
func (s *State) customer(userID, anonymousID string) string {
	if userID != "" {
		return userID
	}
	if u, ok := s.links[anonymousID]; ok {
		return u
	}
	return anonymousID
}

// link stitches an identified visitor to its user: the first link of an
// anonymous id wins, and a user without a persona inherits the visitor's.
func (s *State) link(anonymousID, userID string) {
	if _, ok := s.links[anonymousID]; ok {
		return
	}
	s.links[strings.Clone(anonymousID)] = strings.Clone(userID)
	if _, ok := s.personas[userID]; ok {
		return
	}
	if p, ok := s.personas[anonymousID]; ok {
		s.personas[strings.Clone(userID)] = p
	}
}
