package aggregate

import (
	"context"
	"strings"
	"testing"
)

// TestPartitionStateBefore: a pending batch starting at offset 16 is rebuilt
// from the state before it, as if nothing at or after 16 had been written.
func TestPartitionStateBefore(t *testing.T) {
	s := scenarioStore(t)
	st, err := s.PartitionStateBefore(context.Background(), topic, 0, 3, 16)
	if err != nil {
		t.Fatal(err)
	}
	// anon-2's identify is at offset 16: not yet seen.
	assertMap(t, "Links", st.Links, map[string]string{"anon-1": "A"})
	if want := []string{topic + "-0-15", topic + "-0-14", topic + "-0-13"}; strings.Join(st.RecentEventIDs, " ") != strings.Join(want, " ") {
		t.Fatalf("RecentEventIDs = %v, want %v", st.RecentEventIDs, want)
	}
	if p, ok := st.Personas["anon-9"]; ok {
		t.Fatalf("Personas has anon-9 (%s), first seen at offset 17", p)
	}
	if st.Personas["B"] != "smb" || st.Personas["Z"] != "dev" {
		t.Fatalf("Personas = %v", st.Personas)
	}
}
