package collector

import (
	"fmt"
	"testing"

	"github.com/journeys-analytics/journeys/privacy"
)

// TestChurnForgetSuppressed removes erased customers from the churn state,
// keeping every other customer reachable at its own position.
func TestChurnForgetSuppressed(t *testing.T) {
	tab, ev := newTestTable(t, nil)
	for i := range 10 {
		tab.observe(ev(fmt.Sprintf("c%d", i), "", "", -1, false, t0))
	}
	set := privacy.NewSet([]string{privacy.SuppressionKey("c0"), privacy.SuppressionKey("c5"), privacy.SuppressionKey("c9")})
	p := &partitionSink{churn: tab}
	p.forgetSuppressed(set)
	if tab.len() != 7 {
		t.Fatalf("%d customers left, want 7", tab.len())
	}
	for i := range 10 {
		id := fmt.Sprintf("c%d", i)
		pos, ok := tab.find(id)
		if set.Has(id) {
			if ok {
				t.Errorf("%s is still indexed", id)
			}
			continue
		}
		if !ok || string(tab.id(&tab.cust[pos])) != id {
			t.Errorf("%s: index points at the wrong customer", id)
		}
	}
	if len(tab.stages) != tab.len()*len(tab.m.journeys) {
		t.Errorf("stages has %d entries for %d customers", len(tab.stages), tab.len())
	}
}
