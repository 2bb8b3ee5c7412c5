package collector

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/retry"
	"github.com/journeys-analytics/journeys/privacy"
	"github.com/journeys-analytics/journeys/schemas"
)

type staticSuppressions []string

func (s staticSuppressions) Suppressed(context.Context) ([]string, error) { return s, nil }

// genRecords decodes n generated messages (one in ten a duplicate delivery)
// into records of partition 0, offsets from 0.
func genRecords(t testing.TB, n int) []ingest.Record {
	t.Helper()
	gcfg := gen.DefaultConfig()
	gcfg.Seed, gcfg.Customers, gcfg.DuplicateRate, gcfg.MaxEventBytes = 3, max(n/4, 1), 0.1, 8<<10
	g := gen.New(gcfg)
	v, err := schemas.NewValidator(schemas.Limits{MaxEventBytes: 8 << 10, MaxDepth: 32, FutureTolerance: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var recs []ingest.Record
	for offset := int64(0); len(recs) < n; offset++ {
		m, ok := g.Next()
		if !ok {
			t.Fatalf("generator ran out at %d records", len(recs))
		}
		ev, invalid := v.Decode(m.Value, m.Time)
		if invalid != nil {
			continue
		}
		recs = append(recs, ingest.Record{Event: ev, Source: schemas.Source{Topic: "events", Offset: offset}})
	}
	return recs
}

// TestWriteRows sends two batches through the real Write, the second in the
// first one's buffer as ingest reuses it, with redelivered events and erased
// customers among them, and requires exactly the rows and stage counters
// that enriching the same events one by one gives, in offset order.
func TestWriteRows(t *testing.T) {
	ctx := context.Background()
	env := newChurnEnv(t)
	jm, err := enrich.Load("../deploy/journey-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	recs := genRecords(t, 900) // under DedupIDs: the window forgets nothing

	// Erase a few customers that have several events.
	var erased []string
	events := map[string]int{}
	for _, r := range recs {
		if r.UserID != "" {
			if events[r.UserID]++; events[r.UserID] == 3 && len(erased) < 5 {
				erased = append(erased, r.UserID)
			}
		}
	}
	var keys staticSuppressions
	for _, id := range erased {
		keys = append(keys, privacy.SuppressionKey(id))
	}
	supp := privacy.NewSet(keys)

	// What Write must store: each event enriched on its own, in order.
	type row struct {
		offset                                    int64
		id, customer, journey, stage, tp, persona string
		negative                                  bool
	}
	var want []row
	wantStage := map[[3]string]float64{}
	wantUnmatched, dups, dropped := 0.0, 0, 0
	state, seen := enrich.NewState(jm), map[string]bool{}
	for _, r := range recs {
		if seen[r.EventID] {
			dups++
			continue
		}
		seen[r.EventID] = true
		if supp.Has(r.UserID, r.AnonymousID) {
			dropped++
			continue
		}
		e := jm.Enrich(state, &r.Event, r.Source)
		if supp.Has(e.CustomerID) {
			dropped++
			continue
		}
		want = append(want, row{e.Offset, e.EventID, e.CustomerID, e.Journey, e.Stage, e.Touchpoint, e.Persona, e.Negative})
		if e.Journey == "" {
			wantUnmatched++
		} else {
			wantStage[[3]string{e.Journey, e.Stage, e.Persona}]++
		}
	}
	if dups < 10 || dropped < 5 || wantUnmatched == 0 || len(wantStage) < 3 {
		t.Fatalf("the events exercise too little: %d duplicates, %d suppressed, %v unmatched, %d stage series",
			dups, dropped, wantUnmatched, len(wantStage))
	}

	now := time.Now()
	reg := prometheus.NewRegistry()
	c := New(Config{DedupIDs: 1000, Retry: retry.Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Churn: testChurnConfig(&now), Suppressions: keys, SuppressionRefresh: time.Hour},
		slog.New(slog.DiscardHandler), reg, env.store, jm)
	ps, _, err := c.OpenPartition(ctx, "events", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	buf := make([]ingest.Record, 0, len(recs))
	for _, part := range [][]ingest.Record{recs[:len(recs)/2], recs[len(recs)/2:]} {
		clear(buf)
		buf = append(buf[:0], part...)
		b := &ingest.Batch{Topic: "events", First: part[0].Offset, Last: part[len(part)-1].Offset, Records: buf}
		if err := ps.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	rs, err := env.conn.Query(ctx, "SELECT kafka_offset, event_id, customer_id, journey, stage, touchpoint, persona, negative FROM "+
		env.db+".events ORDER BY kafka_offset")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.offset, &r.id, &r.customer, &r.journey, &r.stage, &r.tp, &r.persona, &r.negative); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("%d rows, want %d; first difference at %d: %+v, want %+v", len(got), len(want), i, got[i], want[i])
			}
		}
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}

	if n := testutil.ToFloat64(c.m.duplicates); n != float64(dups) {
		t.Errorf("duplicates counter %v, want %d", n, dups)
	}
	if n := testutil.ToFloat64(c.m.unmatched); n != wantUnmatched {
		t.Errorf("unmatched counter %v, want %v", n, wantUnmatched)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gotStage := map[[3]string]float64{}
	for _, mf := range families {
		if mf.GetName() != "journeys_stage_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k [3]string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "journey":
					k[0] = l.GetValue()
				case "stage":
					k[1] = l.GetValue()
				case "persona":
					k[2] = l.GetValue()
				}
			}
			if v := m.GetCounter().GetValue(); v != 0 {
				gotStage[k] = v
			}
		}
	}
	if fmt.Sprint(gotStage) != fmt.Sprint(wantStage) {
		t.Errorf("journeys_stage_events_total = %v, want %v", gotStage, wantStage)
	}
}
