package enrich

import (
	"reflect"
	"testing"

	"github.com/journeys-analytics/journeys/schemas"
)

// TestEnrichIndexes checks that a row's journey, touchpoint and persona
// indexes name the same definitions as its strings, over a realistic mix of
// events, and that EnrichRow over a reused row (stale fields from another
// event) gives exactly what Enrich gives.
func TestEnrichIndexes(t *testing.T) {
	m := loadExample(t)
	type tp struct {
		journey, stage string
		stageIndex     uint8
		name           string
		negative       bool
	}
	var tps []tp // file order, as TouchpointIndex counts
	for _, j := range m.Journeys() {
		for _, s := range j.Stages {
			for _, p := range s.Touchpoints {
				tps = append(tps, tp{j.Name, s.Name, uint8(s.Index), p.Name, p.Negative})
			}
		}
	}
	journeys, personas := m.Journeys(), m.Personas()

	a, b := NewState(m), NewState(m)
	var row schemas.Enriched
	matched, withPersona := map[int32]bool{}, 0
	for i, ev := range benchEvents(20_000, 2_000) {
		src := schemas.Source{Topic: "events", Offset: int64(i)}
		want := m.Enrich(a, &ev, src)

		// row still holds the previous event's enrichment.
		row.Event, row.Source = ev, src
		m.EnrichRow(b, &row)
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("event %d: EnrichRow over a reused row = %+v, Enrich = %+v", i, row, want)
		}

		switch {
		case want.Journey == "":
			if want.JourneyIndex != -1 || want.TouchpointIndex != -1 {
				t.Fatalf("event %d: unmatched, but indexes %d, %d", i, want.JourneyIndex, want.TouchpointIndex)
			}
		default:
			if got := journeys[want.JourneyIndex].Name; got != want.Journey {
				t.Fatalf("event %d: JourneyIndex %d names %q, row says %q", i, want.JourneyIndex, got, want.Journey)
			}
			got := tps[want.TouchpointIndex]
			if got != (tp{want.Journey, want.Stage, want.StageIndex, want.Touchpoint, want.Negative}) {
				t.Fatalf("event %d: TouchpointIndex %d names %+v, row says %s/%s/%d/%s/%v", i, want.TouchpointIndex,
					got, want.Journey, want.Stage, want.StageIndex, want.Touchpoint, want.Negative)
			}
			matched[want.TouchpointIndex] = true
		}
		switch {
		case want.PersonaIndex == -1:
			if want.Persona != m.DefaultPersona() {
				t.Fatalf("event %d: PersonaIndex -1 but persona %q", i, want.Persona)
			}
		case personas[want.PersonaIndex].Name != want.Persona:
			t.Fatalf("event %d: PersonaIndex %d names %q, row says %q", i, want.PersonaIndex, personas[want.PersonaIndex].Name, want.Persona)
		default:
			withPersona++
		}
	}
	if len(matched) < 3 || withPersona == 0 {
		t.Fatalf("the mix exercised %d touchpoints and %d assigned personas; the test needs more", len(matched), withPersona)
	}
}
