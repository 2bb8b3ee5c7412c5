package enrich

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
	"github.com/expr-lang/expr/vm"
)

// State is the per-partition memory enrichment needs: identity links
// (anonymous id → user id) and the persona of each customer that a persona
// rule has matched. One State per Kafka partition; not safe for concurrent
// use. A State belongs to the Map it was made for, because it stores
// personas as indexes into that map; after loading another map, make a new
// State and restore it from storage.
//
// A State is also the partition's table of customers, in which a caller can
// Hold a customer to keep state of its own for it, found through a 32-bit
// value the State keeps with the customer, without storing the id a second
// time: the collector keeps its churn state that way.
//
// Memory is flat and pointer-free, so the garbage collector never scans it,
// and there is no Go map (one keyed by strings costs about twice its
// payload). Each stored customer is one entry in a byte arena: persona,
// flags, customer number, the holder's value (10 bytes), then the id after
// its uvarint length. Ids are copied there, so they never pin the buffers
// events were decoded from. Customers are found through an open-addressing
// table (linear probing, at most 3/4 full) of 8-byte slots, each the top 32
// bits of the id's 64-bit xxhash and the entry's offset; the ids are then
// compared, so two customers are never taken for one. A lookup thus reads
// two places in memory, the slot and the entry. A customer number leads to
// its entry through a 4-byte offset.
//
// An identity link is a 12-byte slot of a second such table: the 64-bit
// xxhash of the anonymous id and the user's entry offset. The anonymous id
// itself is not kept (it would cost its length again), so two anonymous ids
// with the same hash would be taken for one: the second would count under
// the first one's user, and its own identify would be ignored as a later
// link. The probability is about n²/2⁶⁵ for n links in a partition, 3·10⁻⁸
// at a million.
//
// A customer is stored only while it has a persona other than the default,
// is the user of a link, or is held. Numbers of released customers are
// reused, and the arena is compacted once half of it is released entries.
// A State holds at most 4 GiB of entries.
type State struct {
	m *Map

	arena    []byte
	garbage  int      // bytes of released entries
	slots    []uint64 // customers: hash>>32<<32 | entry offset; 0 is empty
	offs     []uint32 // entry offset by customer number; the next free number + 1 when free
	freeNum  uint32   // 1 + the first free customer number; 0: none
	stored   int
	personas int // customers with an assigned persona

	linkKeys []uint64 // xxhash of the anonymous id, 1 for 0; 0 is empty
	linkOffs []uint32 // the user's entry offset, at the key's position
	links    int

	// Scratch space for rule evaluation, reused across events.
	vm     vm.VM
	env    Env
	envSet bool
}

// An entry is, at its offset in the arena:
//
//	[0]      persona: 1 + index into Map.personas; 0: the default
//	[1]      flags
//	[2:6]    customer number, little-endian; during compaction, the new offset
//	[6:10]   the holder's value, little-endian
//	[10:]    the id's length (uvarint), then the id
const (
	entPersona = 0
	entFlags   = 1
	entNum     = 2
	entValue   = 6
	entID      = 10
)

// Entry flags: why a customer is stored besides an assigned persona.
const (
	linkUser uint8 = 1 << iota // the user of an identity link
	held                       // held by Hold until Release
	released                   // garbage until compaction
)

// maxLoadNum/maxLoadDen is how full the hash tables may get before they
// double: linear probing slows sharply beyond about 3/4.
const maxLoadNum, maxLoadDen = 3, 4

// NewState returns an empty State for m.
func NewState(m *Map) *State {
	return &State{m: m}
}

// RestoreLink records that anonymousID is userID, as an identify event
// would, when rebuilding from storage on partition takeover. The first link
// of an anonymous id wins here too; empty ids are ignored.
func (s *State) RestoreLink(anonymousID, userID string) {
	if anonymousID == "" || userID == "" {
		return
	}
	key := linkKey(anonymousID)
	if _, ok := s.linked(key); ok {
		return
	}
	u := s.add(userID)
	s.arena[u+entFlags] |= linkUser
	s.addLink(key, u)
}

// RestorePersona records the persona of a customer when rebuilding from
// storage. Names the map does not define (it changed since the persona was
// stored) and the default persona leave the customer unassigned, so the
// current rules assign it afresh.
func (s *State) RestorePersona(customerID, persona string) {
	for i, p := range s.m.personas {
		if p.def.Name == persona {
			s.setPersona(s.add(customerID), uint8(i))
			return
		}
	}
}

// Len returns the number of identity links and of customers with an
// assigned persona.
func (s *State) Len() (links, customers int) {
	return s.links, s.personas
}

// Stored returns the number of customers whose ids the State keeps: those
// with an assigned persona, the users of links and the held ones.
func (s *State) Stored() int { return s.stored }

// Hold returns the number of customer id, storing the customer if it is
// new, and the value last set for it with SetValue (0 at first); the
// customer stays stored until Release. Numbers are small integers, reused
// after Release. A customer has one holder at a time.
func (s *State) Hold(id string) (n, value uint32) {
	e := s.add(id)
	s.arena[e+entFlags] |= held
	return s.le32(e + entNum), s.le32(e + entValue)
}

// SetValue sets the value that Hold and Find return for held customer n.
func (s *State) SetValue(n, value uint32) {
	binary.LittleEndian.PutUint32(s.arena[s.offs[n]+entValue:], value)
}

// Find returns the number of customer id and its value, if the State
// stores the customer.
func (s *State) Find(id string) (n, value uint32, ok bool) {
	e := s.find(id)
	if e < 0 {
		return 0, 0, false
	}
	return s.le32(uint32(e) + entNum), s.le32(uint32(e) + entValue), true
}

// ID returns the id of stored customer n. It points into the State's
// memory: copy it (string(id) does) to keep it.
func (s *State) ID(n uint32) []byte { return s.id(s.offs[n]) }

// Release ends Hold and clears the value: customer n is forgotten unless
// enrichment still needs it, for its persona or as the user of a link. Its
// number may then be given to another customer.
func (s *State) Release(n uint32) {
	e := s.offs[n]
	s.arena[e+entFlags] &^= held
	binary.LittleEndian.PutUint32(s.arena[e+entValue:], 0)
	if s.arena[e+entFlags] != 0 || s.arena[e+entPersona] != 0 {
		return
	}
	// The slot holds the entry's offset; the id leads to it.
	id := s.id(e)
	h := xxhash.Sum64(id)
	want := h>>32<<32 | uint64(e)
	mask := len(s.slots) - 1
	i := int(h >> tableShift(len(s.slots)))
	for s.slots[i] != want {
		i = (i + 1) & mask
	}
	s.deleteSlot(i)
	s.arena[e+entFlags] = released
	s.garbage += s.entrySize(e)
	s.offs[n] = s.freeNum
	s.freeNum = n + 1
	s.stored--
	if s.garbage > len(s.arena)/2 {
		s.compact()
	}
}

// customer resolves the id an event is counted under, and its entry, -1
// if it is not stored.
func (s *State) customer(userID, anonymousID string) (string, int) {
	if userID != "" {
		return userID, s.find(userID)
	}
	if u, ok := s.linked(linkKey(anonymousID)); ok {
		return string(s.id(u)), int(u)
	}
	return anonymousID, s.find(anonymousID)
}

// link stitches an identified visitor to its user: the first link of an
// anonymous id wins, and a user without a persona inherits the visitor's.
// It returns the user's entry when it linked.
func (s *State) link(anonymousID, userID string) (uint32, bool) {
	key := linkKey(anonymousID)
	if _, ok := s.linked(key); ok {
		return 0, false
	}
	u := s.add(userID)
	s.arena[u+entFlags] |= linkUser
	s.addLink(key, u)
	if s.arena[u+entPersona] == 0 {
		if a := s.find(anonymousID); a >= 0 && s.arena[a+entPersona] != 0 {
			s.setPersona(u, s.arena[a+entPersona]-1)
		}
	}
	return u, true
}

// persona returns the assigned persona of entry e, an index into
// Map.personas; e < 0 is a customer that is not stored.
func (s *State) persona(e int) (uint8, bool) {
	if e < 0 || s.arena[e+entPersona] == 0 {
		return 0, false
	}
	return s.arena[e+entPersona] - 1, true
}

// assign gives customer id, of entry e, persona p (an index into
// Map.personas), storing the customer if e < 0.
func (s *State) assign(e int, id string, p uint8) {
	if e < 0 {
		e = int(s.add(id))
	}
	s.setPersona(uint32(e), p)
}

func (s *State) setPersona(e uint32, p uint8) {
	if s.arena[e+entPersona] == 0 {
		s.personas++
	}
	s.arena[e+entPersona] = p + 1
}

func (s *State) le32(off uint32) uint32 { return binary.LittleEndian.Uint32(s.arena[off:]) }

// id returns the id of entry e.
func (s *State) id(e uint32) []byte {
	b := s.arena[e+entID:]
	if b[0] < 0x80 {
		return b[1 : 1+b[0]]
	}
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)]
}

// entrySize is the length in bytes of entry e.
func (s *State) entrySize(e uint32) int {
	n, k := binary.Uvarint(s.arena[e+entID:])
	return entID + k + int(n)
}

// tableShift is the right shift that turns a 64-bit hash into a position in
// a table of n slots, n a power of two: positions come from the top bits, so
// that a slot's position can be recomputed from the 32 bits it keeps.
func tableShift(n int) uint {
	return 64 - uint(bits.TrailingZeros(uint(n)))
}

// find returns the entry of customer id, -1 if it is not stored.
func (s *State) find(id string) int {
	if _, e, ok := s.probe(id, xxhash.Sum64String(id)); ok {
		return int(e)
	}
	return -1
}

// probe looks id, of hash h, up: it returns its slot and entry, or the
// empty slot where it would go (-1 while there are no slots).
func (s *State) probe(id string, h uint64) (slot int, e uint32, found bool) {
	if len(s.slots) == 0 {
		return -1, 0, false
	}
	mask := len(s.slots) - 1
	tag := h >> 32
	for i := int(h >> tableShift(len(s.slots))); ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return i, 0, false
		}
		if v>>32 == tag && string(s.id(uint32(v))) == id {
			return i, uint32(v), true
		}
	}
}

// add returns the entry of customer id, storing the customer if it is new.
func (s *State) add(id string) uint32 {
	h := xxhash.Sum64String(id)
	i, e, ok := s.probe(id, h)
	if ok {
		return e
	}
	if (s.stored+1)*maxLoadDen > len(s.slots)*maxLoadNum {
		s.slots = regrow(s.slots)
		i, _, _ = s.probe(id, h)
	}
	if len(s.arena) == 0 {
		s.arena = append(s.arena, 0) // no entry at 0, so that no slot is 0
	}
	off := len(s.arena)
	if off+entID+binary.MaxVarintLen64+len(id) > math.MaxUint32 {
		panic("enrich: more than 4 GiB of customers in one State")
	}
	var n uint32
	if s.freeNum != 0 {
		n = s.freeNum - 1
		s.freeNum = s.offs[n]
		s.offs[n] = uint32(off)
	} else {
		n = uint32(len(s.offs))
		s.offs = append(s.offs, uint32(off))
	}
	s.arena = append(s.arena, 0, 0)
	s.arena = binary.LittleEndian.AppendUint32(s.arena, n)
	s.arena = binary.LittleEndian.AppendUint32(s.arena, 0)
	s.arena = binary.AppendUvarint(s.arena, uint64(len(id)))
	s.arena = append(s.arena, id...)
	s.slots[i] = h>>32<<32 | uint64(off)
	s.stored++
	return uint32(off)
}

// deleteSlot empties slot i and moves later slots of its cluster back, so
// that linear probing never needs tombstones.
func (s *State) deleteSlot(i int) {
	mask := len(s.slots) - 1
	shift := tableShift(len(s.slots))
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		// The entry at j may fill i if i is between its home and j.
		home := int(s.slots[j] >> shift)
		if (j-home)&mask >= (j-i)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = 0
}

// compact copies the entries that are not released into a new arena and
// moves every offset that refers to them. Each old entry's number field
// takes its new offset, for the tables to follow.
func (s *State) compact() {
	old := s.arena
	arena := make([]byte, 1, len(old)-s.garbage)
	for e := uint32(1); int(e) < len(old); {
		size := uint32(s.entrySize(e))
		if old[e+entFlags]&released == 0 {
			off := uint32(len(arena))
			arena = append(arena, old[e:e+size]...)
			s.offs[s.le32(e+entNum)] = off
			binary.LittleEndian.PutUint32(old[e+entNum:], off)
		}
		e += size
	}
	for i, v := range s.slots {
		if v != 0 {
			s.slots[i] = v>>32<<32 | uint64(s.le32(uint32(v)+entNum))
		}
	}
	for i, k := range s.linkKeys {
		if k != 0 {
			s.linkOffs[i] = s.le32(s.linkOffs[i] + entNum)
		}
	}
	s.arena, s.garbage = arena, 0
}

// linkKey is the hash an anonymous id is linked under; 0 marks empty slots.
func linkKey(anonymousID string) uint64 {
	return max(xxhash.Sum64String(anonymousID), 1)
}

// linked returns the user entry that the anonymous id of key is linked to.
func (s *State) linked(key uint64) (uint32, bool) {
	if len(s.linkKeys) == 0 {
		return 0, false
	}
	mask := len(s.linkKeys) - 1
	for i := int(key >> tableShift(len(s.linkKeys))); ; i = (i + 1) & mask {
		switch s.linkKeys[i] {
		case key:
			return s.linkOffs[i], true
		case 0:
			return 0, false
		}
	}
}

// addLink links the anonymous id of key, not linked yet, to entry u.
func (s *State) addLink(key uint64, u uint32) {
	if (s.links+1)*maxLoadDen > len(s.linkKeys)*maxLoadNum {
		s.linkKeys, s.linkOffs = regrowLinks(s.linkKeys, s.linkOffs)
	}
	i := freeSlot(s.linkKeys, key)
	s.linkKeys[i], s.linkOffs[i] = key, u
	s.links++
}

// freeSlot returns the first empty slot of t at or after the home slot of
// v, which the top bits of v give (both tables keep them there).
func freeSlot(t []uint64, v uint64) int {
	mask := len(t) - 1
	i := int(v >> tableShift(len(t)))
	for t[i] != 0 {
		i = (i + 1) & mask
	}
	return i
}

// regrow returns a table of twice as many slots (at least 8) holding the
// slots of old.
func regrow(old []uint64) []uint64 {
	t := make([]uint64, max(2*len(old), 8))
	for _, v := range old {
		if v != 0 {
			t[freeSlot(t, v)] = v
		}
	}
	return t
}

// regrowLinks is regrow for the link table, whose values move with their
// keys.
func regrowLinks(keys []uint64, offs []uint32) ([]uint64, []uint32) {
	n := max(2*len(keys), 8)
	nk, no := make([]uint64, n), make([]uint32, n)
	for j, k := range keys {
		if k != 0 {
			i := freeSlot(nk, k)
			nk[i], no[i] = k, offs[j]
		}
	}
	return nk, no
}
