package gen

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	want := map[string]int{"a": 1, "b": 2}
	if d := Diff("x", want, map[string]int{"a": 1, "b": 2}, 10); d != "" {
		t.Fatalf("equal maps: %q", d)
	}
	d := Diff("x", want, map[string]int{"a": 1, "b": 3, "c": 4}, 10)
	for _, part := range []string{"x differs", "b: got 3, want 2", "c: got 4, not expected"} {
		if !strings.Contains(d, part) {
			t.Errorf("diff lacks %q:\n%s", part, d)
		}
	}
	if d := Diff("x", map[string]int{}, map[string]int{}, 10); !strings.Contains(d, "ground truth is empty") {
		t.Errorf("an empty truth must be reported, got %q", d)
	}
	if d := Diff("x", want, map[string]int{}, 1); !strings.Contains(d, "… and 1 more") {
		t.Errorf("limit not applied:\n%s", d)
	}
}
