package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
)

// printReport prints, per journey and persona, the stage funnel exactly as
// the stage_conversion_daily view holds it (summed over days), so the report
// and an analyst's query can never disagree.
func printReport(ctx context.Context, out io.Writer, store *aggregate.Store, jm *enrich.Map) error {
	rows, err := store.StageConversion(ctx, aggregate.Filter{})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	byJourney := map[string][]aggregate.StageConversion{}
	for _, r := range rows {
		byJourney[r.Journey] = append(byJourney[r.Journey], r)
	}
	for _, j := range jm.Journeys() {
		fmt.Fprintf(out, "\n━━ journey %s ━━ (customers reaching each stage; progressed = went on to a later stage)\n", j.Name)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "persona\tstage\treached\tprogressed\tdropped off\tconversion\tdrop-off\t")
		persona := ""
		for _, r := range byJourney[j.Name] {
			name := r.Persona
			if name == persona {
				name = ""
			}
			persona = r.Persona
			fmt.Fprintf(tw, "%s\t%d %s\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t\n", name, r.StageIndex, r.Stage,
				r.Reached, r.Progressed, r.DroppedOff, 100*r.ConversionRate, 100*r.DropOffRate)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
