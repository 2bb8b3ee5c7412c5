package enrich

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/journeys-analytics/journeys/schemas"
)

// TestStateTable runs random holds, releases, links and personas against a
// plain Go model, over few enough ids that customers are released and
// stored again many times: the hash table's growth and deletions, the free
// records and the arena compaction must never lose or confuse a customer.
func TestStateTable(t *testing.T) {
	m := mustParse(t, tierMap)
	s := NewState(m)
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, 3000)
	for i := range ids {
		switch i % 5 {
		case 0:
			ids[i] = fmt.Sprintf("u%d", i)
		case 1:
			ids[i] = fmt.Sprintf("%s-%d", strings.Repeat("long", 40), i) // a two-byte length
		default:
			ids[i] = fmt.Sprintf("usr_%016x", uint64(i)*0x9e3779b97f4a7c15)
		}
	}
	ids[7] = ""
	personas := []string{"low", "mid", "high", "nobody", "retired"}

	type want struct {
		persona  string // "" when unassigned
		linkUser bool
		held     bool
		n        uint32
	}
	model := map[string]*want{}
	links := map[string]string{}
	get := func(id string) *want {
		if w, ok := model[id]; ok {
			return w
		}
		w := &want{}
		model[id] = w
		return w
	}
	for step := range 200_000 {
		id := ids[r.IntN(len(ids))]
		switch op := r.IntN(100); {
		case op < 45:
			n, _ := s.Hold(id)
			w := get(id)
			if w.held && w.n != n {
				t.Fatalf("step %d: %q held as %d, now %d", step, id, w.n, n)
			}
			w.held, w.n = true, n
		case op < 90:
			w, ok := model[id]
			if !ok || !w.held {
				continue
			}
			s.Release(w.n)
			w.held = false
			if w.persona == "" && !w.linkUser {
				delete(model, id)
			}
		case op < 95:
			p := personas[r.IntN(len(personas))]
			s.RestorePersona(id, p)
			if p != "nobody" && p != "retired" {
				get(id).persona = p
			}
		default:
			anon := fmt.Sprintf("anon-%d", r.IntN(5000))
			s.RestoreLink(anon, id)
			if _, ok := links[anon]; !ok && anon != "" && id != "" {
				links[anon] = id
				get(id).linkUser = true
			}
		}
		if step%10_000 != 0 {
			continue
		}
		seen := map[uint32]string{}
		nPersonas := 0
		for id, w := range model {
			n, _, ok := s.Find(id)
			if !ok || string(s.ID(n)) != id {
				t.Fatalf("step %d: %q not found (%v) or found as %q", step, id, ok, s.ID(n))
			}
			if w.held && n != w.n {
				t.Fatalf("step %d: %q is %d, held as %d", step, id, n, w.n)
			}
			if other, dup := seen[n]; dup {
				t.Fatalf("step %d: %q and %q are both %d", step, id, other, n)
			}
			seen[n] = id
			got, assigned := s.persona(int(s.offs[n]))
			if (w.persona != "") != assigned || assigned && m.personas[got].def.Name != w.persona {
				t.Fatalf("step %d: %q has persona %d (%v), want %q", step, id, got, assigned, w.persona)
			}
			if assigned {
				nPersonas++
			}
		}
		for _, id := range ids {
			if _, ok := model[id]; !ok {
				if _, _, found := s.Find(id); found {
					t.Fatalf("step %d: released %q is still found", step, id)
				}
			}
		}
		if s.Stored() != len(model) {
			t.Fatalf("step %d: %d stored, want %d", step, s.Stored(), len(model))
		}
		if l, p := s.Len(); l != len(links) || p != nPersonas {
			t.Fatalf("step %d: Len %d links %d personas, want %d %d", step, l, p, len(links), nPersonas)
		}
		for anon, user := range links {
			if got, _ := s.customer("", anon); got != user {
				t.Fatalf("step %d: %q counts under %q, want %q", step, anon, got, user)
			}
		}
		if live := s.liveArena(); len(s.arena) > 2*live+64 {
			t.Fatalf("step %d: arena of %d bytes for %d bytes of ids: not compacted", step, len(s.arena), live)
		}
	}
}

// liveArena is the arena bytes of the stored customers.
func (s *State) liveArena() int {
	n := 0
	for e := uint32(1); int(e) < len(s.arena); e += uint32(s.entrySize(e)) {
		if s.arena[e+entFlags]&released == 0 {
			n += s.entrySize(e)
		}
	}
	return n
}

// TestStateReleaseKeepsWhatEnrichmentNeeds: releasing a held customer
// forgets it only if it has neither a persona nor a link to it.
func TestStateReleaseKeepsWhatEnrichmentNeeds(t *testing.T) {
	m := mustParse(t, tierMap)
	s := NewState(m)
	for _, ev := range []*schemas.Event{
		tiered(schemas.TypeTrack, "u1", "", "mid"),
		tiered(schemas.TypeIdentify, "u2", "a2", ""),
		tiered(schemas.TypeTrack, "u3", "", ""),
	} {
		m.Enrich(s, ev, schemas.Source{})
	}
	if s.Stored() != 2 {
		t.Fatalf("%d stored after enrichment, want u1 (persona) and u2 (linked)", s.Stored())
	}
	for _, id := range []string{"u1", "u2", "u3"} {
		n, _ := s.Hold(id)
		s.Release(n)
	}
	for id, want := range map[string]bool{"u1": true, "u2": true, "u3": false} {
		if _, _, ok := s.Find(id); ok != want {
			t.Errorf("%s stored: %v, want %v", id, ok, want)
		}
	}
	if got := m.Enrich(s, tiered(schemas.TypeTrack, "", "a2", ""), schemas.Source{}); got.CustomerID != "u2" {
		t.Errorf("a2 counts under %q after its user was released, want u2", got.CustomerID)
	}
}

// BenchmarkStateBytes reports the heap enrichment's State takes per
// customer at a million customers, each an anonymous visitor (36-byte id,
// not stored) linked to a user (20-byte id) with a persona.
func BenchmarkStateBytes(b *testing.B) {
	const n = 1_000_000
	m := loadExample(b)
	names := m.Personas()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := NewState(m)
		for i := range n {
			user := fmt.Sprintf("usr_%016x", uint64(i)*0x9e3779b97f4a7c15)
			s.RestoreLink(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), user)
			s.RestorePersona(user, names[i%len(names)].Name)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if links, personas := s.Len(); links != n || personas != n {
			b.Fatalf("%d links, %d personas", links, personas)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/customer")
		runtime.KeepAlive(s)
	}
}

// BenchmarkStateLookups is Enrich over a million known customers, whose
// state is mostly not in the CPU cache, with events that run no rule (the
// customer already has the highest persona, the event names no
// touchpoint): what is left is mostly the State's lookups. "user" events
// carry the user id; "linked_visitor" events only an anonymous id linked to
// it.
func BenchmarkStateLookups(b *testing.B) {
	const n = 1_000_000
	m := loadExample(b)
	s := NewState(m)
	highest := m.Personas()[0].Name
	users, anons := make([]string, n), make([]string, n)
	for i := range n {
		users[i] = fmt.Sprintf("usr_%016x", uint64(i)*0x9e3779b97f4a7c15)
		anons[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		s.RestoreLink(anons[i], users[i])
		s.RestorePersona(users[i], highest)
	}
	r := rand.New(rand.NewPCG(3, 4))
	order := make([]int, 1<<16)
	for i := range order {
		order[i] = r.IntN(n)
	}
	for _, linked := range []bool{false, true} {
		name := "user"
		if linked {
			name = "linked_visitor"
		}
		b.Run(name, func(b *testing.B) {
			ev := schemas.Event{Type: schemas.TypeTrack, Event: "Button Clicked"}
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				i := order[k&(len(order)-1)]
				k++
				if linked {
					ev.AnonymousID = anons[i]
				} else {
					ev.UserID = users[i]
				}
				if got := m.Enrich(s, &ev, schemas.Source{}); got.Persona != highest {
					b.Fatalf("customer %d: %q has persona %q", i, got.CustomerID, got.Persona)
				}
			}
		})
	}
}
