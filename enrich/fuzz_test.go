package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/journeys-analytics/journeys/schemas"
)

// FuzzParseMap checks that no input makes Parse panic, and that any map it
// accepts can enrich events without panicking.
func FuzzParseMap(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, path := range append(seeds, exampleMap) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(firstMatchMap))
	f.Add([]byte(tierMap))

	events := []schemas.Event{
		{Type: schemas.TypeTrack, Event: "Review Posted", AnonymousID: "a"},
		{Type: schemas.TypePage, Event: "E", AnonymousID: "a", Context: schemas.Context{Page: schemas.Page{Path: "/docs"}}},
		{Type: schemas.TypeIdentify, AnonymousID: "a", UserID: "u"},
	}
	events[0].SetProperties(map[string]any{"rating": 5.0})
	events[2].SetTraits(map[string]any{"company_size": 600.0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, "fuzz")
		if err != nil {
			if m != nil || !strings.HasPrefix(err.Error(), "enrich: journey map fuzz has ") {
				t.Fatalf("failed Parse returned map %v, error %q", m, err)
			}
			return
		}
		if !strings.HasPrefix(m.Version(), m.Name()+"@") || len(m.Journeys()) == 0 || m.Summary() == "" {
			t.Fatalf("accepted map is incomplete: %s", m.Summary())
		}
		s := NewState(m)
		for i := range events {
			e := m.Enrich(s, &events[i], schemas.Source{})
			if e.Persona == "" || e.MapVersion != m.Version() {
				t.Fatalf("bad row %+v", e)
			}
		}
	})
}
