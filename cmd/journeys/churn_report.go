package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
)

// printChurn prints the customers per persona and churn-risk band from
// churn_current: the latest score of every customer, which is what the
// journeys_churn_customers gauges on /metrics count too.
func printChurn(ctx context.Context, out io.Writer, store *aggregate.Store, jm *enrich.Map, asOf time.Time) error {
	rows, err := store.ChurnBands(ctx, aggregate.Filter{})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	counts := map[string]map[string]uint64{}
	for _, r := range rows {
		if counts[r.Persona] == nil {
			counts[r.Persona] = map[string]uint64{}
		}
		counts[r.Persona][r.Band] += r.Customers
	}
	fmt.Fprintf(out, "\n━━ churn risk ━━ (customers per persona and band, scored as of %s; churn_current, "+
		"journeys_churn_customers on /metrics)\n", asOf.UTC().Format(time.DateTime))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "persona\tlow\tmedium\thigh\tat risk\t")
	personas := []string{jm.DefaultPersona()}
	for _, p := range jm.Personas() {
		personas = append(personas, p.Name)
	}
	for _, p := range personas {
		c := counts[p]
		total := c["low"] + c["medium"] + c["high"]
		atRisk := 0.0
		if total > 0 {
			atRisk = 100 * float64(c["medium"]+c["high"]) / float64(total)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t\n", p, c["low"], c["medium"], c["high"], atRisk)
	}
	return tw.Flush()
}
