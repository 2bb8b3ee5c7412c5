// Package seed fills a test's ClickHouse database with a generated stream
// processed as the collector would, for tests of what reads it (reports,
// personas) that need realistic data but not Kafka.
package seed

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

// mapPath is deploy/journey-map.yaml, found from this file so that tests in
// any directory can use it.
func mapPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "journey-map.yaml")
}

// Generated writes a generated stream into a migrated database the way
// the collector would (validate, drop duplicates, enrich with
// deploy/journey-map.yaml, Store.Write), without Kafka: everything goes to
// partition 0 in delivery order, which keeps each key's order.
func Generated(t testing.TB, gcfg gen.Config) (*aggregate.Store, testenv.CH, *gen.Truth) {
	t.Helper()
	ctx := context.Background()
	ch := testenv.ClickHouse(t)
	store, err := aggregate.Open(ctx, aggregate.Config{Addrs: []string{ch.Addr}, Database: ch.Database, DedupWindow: 1000},
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	jm, err := enrich.Load(mapPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator(schemas.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	state := enrich.NewState(jm)
	g := gen.New(gcfg)
	const topic = "seed"
	b := &aggregate.Batch{Topic: topic}
	var offset int64
	flush := func() {
		if b.Last < b.First {
			return
		}
		if err := store.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		b = &aggregate.Batch{Topic: topic, First: offset, Last: offset - 1}
	}
	b.First, b.Last = 0, -1
	for {
		m, ok := g.Next()
		if !ok {
			break
		}
		b.Last = offset
		if m.Invalid == "" && !m.Duplicate {
			ev, bad := v.Decode(m.Value, m.Time)
			if bad != nil {
				t.Fatalf("generator's valid message rejected: %v", bad)
			}
			src := schemas.Source{Topic: topic, Offset: offset}
			b.Rows = append(b.Rows, jm.Enrich(state, &ev, src))
		}
		offset++
		if len(b.Rows) >= 20000 {
			flush()
		}
	}
	flush()
	return store, ch, g.Truth()
}

// CheckPastable puts the suggested personas section in place of
// deploy/journey-map.yaml's and parses the result as the collector would.
func CheckPastable(t testing.TB, section string) {
	t.Helper()
	data, err := os.ReadFile(mapPath())
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\npersonas:\n")
	end := strings.Index(text, "\njourneys:\n")
	if start < 0 || end < start {
		t.Fatal("deploy/journey-map.yaml: personas: and journeys: sections not found")
	}
	pasted := text[:start+1] + section + text[end:]
	m, err := enrich.Parse([]byte(pasted), "suggested.yaml")
	if err != nil {
		t.Fatalf("suggested personas do not parse:\n%v\n%s", err, section)
	}
	if len(m.Personas()) == 0 {
		t.Fatalf("suggested map has no personas:\n%s", section)
	}
}
