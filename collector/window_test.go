package collector

import (
	"math/rand/v2"
	"testing"
)

// has and len read the window for the tests; the collector only adds.
func (w *idWindow) has(h uint64) bool {
	_, ok := w.find(windowKey(h))
	return ok
}

func (w *idWindow) len() int {
	if w.full {
		return len(w.ring)
	}
	return w.next
}

func TestIDWindowEvictsOldest(t *testing.T) {
	w := newIDWindow(3)
	for _, h := range []uint64{1, 2, 3} {
		if !w.add(h) {
			t.Fatalf("add(%d) of a new hash reported it seen", h)
		}
	}
	if w.add(2) { // already present: must not take a slot
		t.Fatal("add(2) of a present hash reported it new")
	}
	w.add(4) // evicts 1
	for h, want := range map[uint64]bool{1: false, 2: true, 3: true, 4: true} {
		if got := w.has(h); got != want {
			t.Errorf("has(%d) = %v, want %v", h, got, want)
		}
	}
	w.add(5) // evicts 2
	if w.has(2) || !w.has(5) || w.len() != 3 {
		t.Fatalf("after second eviction: has(2)=%v has(5)=%v size=%d", w.has(2), w.has(5), w.len())
	}
}

// TestIDWindowMatchesModel drives the table and a plain model (a map and a
// FIFO) with the same random hashes, drawn from a small range so that probe
// runs collide, wrap around the table and are cut by evictions; every add
// and a has of every candidate must agree.
func TestIDWindowMatchesModel(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 1000} {
		w := newIDWindow(n)
		set := map[uint64]bool{}
		var fifo []uint64
		r := rand.New(rand.NewPCG(uint64(n), 7))
		space := uint64(4*n + 3)
		for step := range min(200*n, 10_000) {
			h := r.Uint64N(space)
			if r.IntN(4) == 0 {
				h = r.Uint64() // a full-width hash now and then
			}
			k := windowKey(h)
			wantNew := !set[k]
			if wantNew {
				if len(fifo) == n {
					delete(set, fifo[0])
					fifo = fifo[1:]
				}
				set[k] = true
				fifo = append(fifo, k)
			}
			if got := w.add(h); got != wantNew {
				t.Fatalf("n=%d step %d: add(%d) = %v, want %v", n, step, h, got, wantNew)
			}
			for c := range space {
				if got, want := w.has(c), set[windowKey(c)]; got != want {
					t.Fatalf("n=%d step %d: has(%d) = %v, want %v", n, step, c, got, want)
				}
			}
			if w.len() != len(fifo) {
				t.Fatalf("n=%d step %d: len %d, want %d", n, step, w.len(), len(fifo))
			}
		}
	}
}
