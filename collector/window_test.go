package collector

import "testing"

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
	if w.has(2) || !w.has(5) || len(w.set) != 3 {
		t.Fatalf("after second eviction: has(2)=%v has(5)=%v size=%d", w.has(2), w.has(5), len(w.set))
	}
}
