package main

import (
	"context"
	"fmt"
	"io"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
)

// printReport prints, per journey and persona, the stage funnel exactly as
// the stage_conversion_daily and time_to_convert views hold it (summed over
// days), so the report and an analyst's query can never disagree. Journeys
// come in the map's order; `journeys report` prints the same table.
func printReport(ctx context.Context, out io.Writer, store *aggregate.Store, jm *enrich.Map) error {
	cells, err := store.JourneyMap(ctx, aggregate.Filter{})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var order []string
	for _, j := range jm.Journeys() {
		order = append(order, j.Name)
	}
	return writeMapTable(out, cells, order)
}
