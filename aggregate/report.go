package aggregate

import (
	"cmp"
	"context"
	"slices"
)

// MapCell is one cell of the journey map: a stage of a journey for one
// persona, with the KPIs of stage_conversion_daily and time_to_convert over
// the same customers (those that first reached the stage on the filter's
// days). Persona is the customer's persona in the journey (its latest).
type MapCell struct {
	Journey, Persona string
	StageIndex       uint8
	Stage            string
	Reached          uint64 // customers that first reached the stage on the filter's days
	Progressed       uint64 // of those, customers with an event in a higher stage
	DroppedOff       uint64
	ConversionRate   float64 // Progressed / Reached
	DropOffRate      float64 // DroppedOff / Reached
	// P50Seconds and P90Seconds are quantileExact of the time to the next
	// higher stage over the Progressed customers; zero when nobody progressed
	// (HasTimes false).
	P50Seconds, P90Seconds float64
	HasTimes               bool
}

// JourneyMap joins StageConversion and TimeToConvert for a filter, ordered by
// journey, persona and stage_index. Both read customer_stage_progress with
// the same day condition, so Progressed equals the count the times are over.
func (s *Store) JourneyMap(ctx context.Context, f Filter) ([]MapCell, error) {
	conv, err := s.StageConversion(ctx, f)
	if err != nil {
		return nil, err
	}
	times, err := s.TimeToConvert(ctx, f)
	if err != nil {
		return nil, err
	}
	type key struct {
		journey, persona string
		stage            uint8
	}
	byKey := make(map[key]TimeToConvertRow, len(times))
	for _, t := range times {
		byKey[key{t.Journey, t.Persona, t.StageIndex}] = t
	}
	out := make([]MapCell, 0, len(conv))
	for _, c := range conv {
		cell := MapCell{
			Journey: c.Journey, Persona: c.Persona, StageIndex: c.StageIndex, Stage: c.Stage,
			Reached: c.Reached, Progressed: c.Progressed, DroppedOff: c.DroppedOff,
			ConversionRate: c.ConversionRate, DropOffRate: c.DropOffRate,
		}
		if t, ok := byKey[key{c.Journey, c.Persona, c.StageIndex}]; ok {
			cell.P50Seconds, cell.P90Seconds, cell.HasTimes = t.P50Seconds, t.P90Seconds, true
		}
		out = append(out, cell)
	}
	slices.SortStableFunc(out, func(a, b MapCell) int {
		return cmp.Or(cmp.Compare(a.Journey, b.Journey), cmp.Compare(a.Persona, b.Persona),
			cmp.Compare(a.StageIndex, b.StageIndex))
	})
	return out, nil
}
