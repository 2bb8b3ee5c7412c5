package personas

import (
	"cmp"
	"math"
	"slices"

	"github.com/journeys-analytics/journeys/aggregate"
)

// PersonaDrift is one persona across two periods: Before is the reference
// period (--vs-from/--vs-to), After the one under study (--from/--to).
type PersonaDrift struct {
	Persona                 string
	Before, After           PeriodStats
	SizeChange, ShareChange float64 // After − Before; SizeChange relative (0.1 = +10%), NaN when Before is empty
	// Shifts lists the behaviour features whose mean moved most, in
	// population standard deviations of the two periods together.
	Shifts []Trait
}

// PeriodStats is a persona in one period.
type PeriodStats struct {
	People int
	Share  float64 // of everybody active in the period
}

// Drift compares personas (as the journey map assigned them) between two
// periods, largest persona of the later period first.
func Drift(before, after []aggregate.CustomerFeatures) []PersonaDrift {
	all := append(slices.Clone(before), after...)
	if len(all) == 0 {
		return nil
	}
	sp := newSpace(all, nil)
	rowsOf := func(cs []aggregate.CustomerFeatures) map[string][][]float64 {
		out := map[string][][]float64{}
		for i := range cs {
			out[cs[i].Persona] = append(out[cs[i].Persona], sp.raw(&cs[i]))
		}
		return out
	}
	var allRows [][]float64
	for i := range all {
		allRows = append(allRows, sp.raw(&all[i]))
	}
	b, a := rowsOf(before), rowsOf(after)
	names := map[string]bool{}
	for p := range b {
		names[p] = true
	}
	for p := range a {
		names[p] = true
	}
	share := func(n, of int) float64 {
		if of == 0 {
			return 0
		}
		return float64(n) / float64(of)
	}
	var out []PersonaDrift
	for p := range names {
		d := PersonaDrift{Persona: p,
			Before: PeriodStats{People: len(b[p]), Share: share(len(b[p]), len(before))},
			After:  PeriodStats{People: len(a[p]), Share: share(len(a[p]), len(after))},
		}
		d.SizeChange = math.NaN()
		if d.Before.People > 0 {
			d.SizeChange = float64(d.After.People-d.Before.People) / float64(d.Before.People)
		}
		d.ShareChange = d.After.Share - d.Before.Share
		if len(b[p]) > 0 && len(a[p]) > 0 {
			for j, col := range sp.cols {
				_, sd := meanStd(allRows, j)
				if sd == 0 {
					continue
				}
				mb, _ := meanStd(b[p], j)
				ma, _ := meanStd(a[p], j)
				d.Shifts = append(d.Shifts, Trait{Feature: col.name, Population: mb, Cluster: ma, Effect: (ma - mb) / sd})
			}
			slices.SortStableFunc(d.Shifts, func(x, y Trait) int { return cmp.Compare(math.Abs(y.Effect), math.Abs(x.Effect)) })
			d.Shifts = d.Shifts[:min(maxTraits, len(d.Shifts))]
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(x, y PersonaDrift) int {
		return cmp.Or(cmp.Compare(y.After.People, x.After.People), cmp.Compare(x.Persona, y.Persona))
	})
	return out
}
