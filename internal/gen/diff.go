package gen

import (
	"fmt"
	"sort"
	"strings"
)

// Diff compares what a pipeline produced with the truth: it returns "" when
// got equals want, else a sorted report of at most limit differing keys. An
// empty truth is reported too, since it would make any comparison vacuous.
func Diff[K comparable, V comparable](what string, want, got map[K]V, limit int) string {
	var diffs []string
	if len(want) == 0 {
		diffs = append(diffs, "  the ground truth is empty; the generator produced nothing to check")
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("  %+v: got %+v, want %+v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("  %+v: got %+v, not expected", k, g))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	if len(diffs) > limit {
		diffs = append(diffs[:limit], fmt.Sprintf("  … and %d more", len(diffs)-limit))
	}
	return fmt.Sprintf("%s differs from the ground truth (%d keys expected, %d got):\n%s",
		what, len(want), len(got), strings.Join(diffs, "\n"))
}
