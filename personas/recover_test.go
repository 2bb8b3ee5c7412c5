package personas_test

import (
	"context"
	"testing"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/seed"
	"github.com/journeys-analytics/journeys/personas"
)

// TestRecoverGeneratorPersonas clusters a generated population whose
// people have hidden personas (the generator decides them, and the journey
// map's rules tag them from the landing campaign and the sign-up traits) and
// measures how well the clusters recover them. It also checks that the
// suggested rules form a journey map enrich accepts.
func TestRecoverGeneratorPersonas(t *testing.T) {
	gcfg := gen.DefaultConfig()
	// Seed 11 was used to choose personas.DefaultWeights; this is another
	// population, so the floors below are not fitted to it.
	gcfg.Seed = 13
	gcfg.Customers = 1200
	store, _, _ := seed.Generated(t, gcfg)
	ctx := context.Background()
	cs, err := store.CustomerFeatures(ctx, aggregate.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// The generator's persona of each person is the persona its events
	// carry (it never changes, see internal/gen's doc).
	reference := map[string]string{}
	for _, c := range cs {
		reference[c.Person] = c.Persona
	}
	if len(cs) != gcfg.Customers {
		t.Errorf("%d people read back, want the generator's %d (anonymous ids folded into users)", len(cs), gcfg.Customers)
	}
	suggest := func(t *testing.T, o personas.Options) (*personas.Suggestion, personas.Agreement) {
		s, err := personas.Suggest(cs, o)
		if err != nil {
			t.Fatal(err)
		}
		ag := personas.Compare(s.Assignment, reference)
		t.Logf("%d people, k=%d (silhouette %.3f, tried %v): purity %.3f, adjusted Rand index %.3f",
			ag.People, s.K, s.Silhouette, s.Tried, ag.Purity, ag.ARI)
		for _, c := range s.Clusters {
			t.Logf("%s: %d people, current personas %v, rule precision %.3f recall %.3f", c.Name, c.Size, c.Personas, c.Precision, c.Recall)
		}
		t.Log("\n" + s.YAML())
		return s, ag
	}
	var k4 personas.Agreement
	for _, tc := range []struct {
		name              string
		o                 personas.Options
		minPurity, minARI float64
	}{
		// Measured on seed 11 (2,000 people) while choosing the weights:
		// k=4 purity 0.895 ARI 0.770; chosen k (6) purity 0.955 ARI 0.723.
		// Here (seed 13, 1,200 people, four runs): k=4 purity 0.82-0.91 ARI
		// 0.66-0.82; chosen k (4 or 5) purity 0.87-0.91 ARI 0.69-0.83.
		// k-means starts are random, so the floors leave room.
		{"default weights, k=4", personas.Options{K: 4, Restarts: 3}, 0.75, 0.50},
		{"default weights, k by silhouette", personas.Options{MaxK: 5, Restarts: 2}, 0.80, 0.50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ag := suggest(t, tc.o)
			if tc.o.K == 4 {
				k4 = ag
			}
			if ag.Purity < tc.minPurity || ag.ARI < tc.minARI {
				t.Errorf("purity %.3f (floor %.2f), ARI %.3f (floor %.2f)", ag.Purity, tc.minPurity, ag.ARI, tc.minARI)
			}
			rules := 0
			for _, c := range s.Clusters {
				if c.Rule != "" {
					rules++
				}
			}
			// Two personas (developer, enterprise_buyer) have a campaign of
			// their own; smb_owner shares google with unassigned and lands on
			// the home page or the blog, so its cluster's rule is not always
			// precise enough to propose.
			if rules < 2 {
				t.Errorf("%d clusters with a rule, want >= 2", rules)
			}
			seed.CheckPastable(t, s.YAML())
		})
	}
	t.Run("behaviour only", func(t *testing.T) {
		// All groups weigh the same: the generator's personas differ in
		// rates (how likely each step is), which do not separate people.
		_, ag := suggest(t, personas.Options{K: 4, Restarts: 3, Weights: map[string]float64{}})
		if ag.ARI >= k4.ARI {
			t.Errorf("behaviour-only ARI %.3f >= acquisition-weighted %.3f: revisit DefaultWeights", ag.ARI, k4.ARI)
		}
	})
}
