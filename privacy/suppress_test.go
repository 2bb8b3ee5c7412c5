package privacy

import "testing"

func TestSuppressionKey(t *testing.T) {
	if SuppressionKey("") != "" {
		t.Error("the empty id has a key")
	}
	a, b := SuppressionKey("u1"), SuppressionKey("u2")
	if len(a) != 64 || a == b || a != SuppressionKey("u1") {
		t.Errorf("keys %q %q: want stable, distinct hex SHA-256", a, b)
	}
	// Pinned: forget and the collector of another version must agree.
	if want := "4fa6b0d31a330b119d4a6ce51a36edc1efb8589712116baf5f431bae688afc7d"; a != want {
		t.Errorf("SuppressionKey(u1) = %s, want %s", a, want)
	}
	s := NewSet([]string{a})
	if !s.Has("x", "u1") || s.Has("u2", "") || !s.HasKey(a) {
		t.Error("Set does not answer by id")
	}
	var empty *Set
	if empty.Has("u1") || empty.Len() != 0 {
		t.Error("a nil Set suppresses")
	}
}

// BenchmarkSetHas is the per-event cost of the suppression check once the
// list is not empty: two ids hashed and looked up.
func BenchmarkSetHas(b *testing.B) {
	s := NewSet([]string{SuppressionKey("erased")})
	for b.Loop() {
		if s.Has("usr_af135827856b2fdd", "78116c50-6b9e-4e92-896e-212e314a51c8") {
			b.Fatal("suppressed")
		}
	}
}

// BenchmarkPseudonymizeIDs is the per-event cost of pseudonymising two ids.
func BenchmarkPseudonymizeIDs(b *testing.B) {
	p, err := NewPseudonymizer([]byte("0123456789abcdef0123456789abcdef"), nil, false)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = p.ID("usr_af135827856b2fdd")
		_ = p.ID("78116c50-6b9e-4e92-896e-212e314a51c8")
	}
}
