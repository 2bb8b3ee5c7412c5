package aggregate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

func TestMain(m *testing.M) {
	// Store.Close must leave no connection goroutine behind.
	goleak.VerifyTestMain(m)
}

// openStore opens a Store on a fresh database of the test ClickHouse server
// over protocol ("native" or "http"). It does not migrate.
func openStore(t testing.TB, protocol string) *Store {
	t.Helper()
	ch := testenv.ClickHouse(t)
	addr := ch.Addr
	if protocol == "http" {
		addr = ch.HTTPAddr
	}
	return openStoreAt(t, protocol, addr, ch.Database)
}

// openPair opens two Stores on one fresh database, over native and HTTP.
func openPair(t testing.TB) (native, http *Store) {
	t.Helper()
	ch := testenv.ClickHouse(t)
	return openStoreAt(t, "native", ch.Addr, ch.Database), openStoreAt(t, "http", ch.HTTPAddr, ch.Database)
}

func openStoreAt(t testing.TB, protocol, addr, database string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{
		Addrs:       []string{addr},
		Protocol:    protocol,
		Database:    database,
		Username:    "default",
		DedupWindow: 1000,
	}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// migratedStore is openStore followed by Migrate.
func migratedStore(t testing.TB, protocol string) *Store {
	t.Helper()
	s := openStore(t, protocol)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// queryString runs a query returning one value and renders it with
// fmt.Sprint, so tests can compare whole table contents as strings.
func queryString(t testing.TB, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return strings.Join(out, "\n")
}

// tableText is the whole content of a table or view, one line per row in a
// stable order.
func tableText(t testing.TB, s *Store, from string) string {
	t.Helper()
	return queryString(t, s, "SELECT toString(tuple(*)) FROM (SELECT * FROM "+from+" ORDER BY ALL)")
}

// snapshot is the content of every table and view that Write feeds.
func snapshot(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"events", "stage_reach", "customer_journeys", "stage_conversion_daily",
		"time_to_convert", "customer_stage_progress"} {
		out[name] = tableText(t, s, s.table(name))
	}
	// Aggregate states print as binary: finalize them.
	out["customers"] = tableText(t, s, "(SELECT customer_id, argMaxMerge(persona), min(first_seen), max(last_seen), "+
		"sum(events), sum(negative_events), max(kafka_partition) FROM "+s.table("customers")+" GROUP BY customer_id)")
	out["funnel_conversion"] = tableText(t, s, s.table("funnel_conversion")+"(window_seconds = 86400)")
	return out
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UTC()
}

// stageName is the test journey map: the name of stage i of a journey.
func stageName(journey string, i int) string {
	switch journey {
	case "lifecycle":
		return []string{"awareness", "consideration", "purchase"}[i]
	case "onboarding":
		return []string{"signup", "setup"}[i]
	}
	panic("unknown journey " + journey)
}

// row is a compact description of one enriched event for tests.
type row struct {
	offset   int64
	customer string
	persona  string
	journey  string // "" for an event that matched no touchpoint
	stage    int
	at       string // UTC, "2006-01-02 15:04:05"
	negative bool
	typ      string // default track
	anon     string
	user     string
}

func (r row) enriched(t testing.TB, topic string, partition int32) schemas.Enriched {
	t.Helper()
	ts := mustTime(t, r.at)
	e := schemas.Enriched{
		Event: schemas.Event{
			EventID:           fmt.Sprintf("%s-%d-%d", topic, partition, r.offset),
			Type:              schemas.TypeTrack,
			Event:             "Something Happened",
			UserID:            r.user,
			AnonymousID:       r.anon,
			Timestamp:         ts,
			OriginalTimestamp: ts.Add(-time.Second),
			ReceivedAt:        ts.Add(time.Second),
			RawProperties:     []byte(`{"n":1}`),
			Context: schemas.Context{
				Channel:  "web",
				Campaign: schemas.Campaign{Source: "google", Medium: "cpc", Name: "spring"},
				Page:     schemas.Page{Path: "/pricing", URL: "https://example.com/pricing", Title: "Pricing"},
				Device:   schemas.Device{Type: "desktop", OS: "linux", Manufacturer: "acme"},
				Locale:   "en-US",
			},
		},
		Source:     schemas.Source{Topic: topic, Partition: partition, Offset: r.offset},
		CustomerID: r.customer,
		Persona:    r.persona,
		MapVersion: "test@000000000000",
	}
	if r.typ != "" {
		e.Type = r.typ
	}
	if r.journey != "" {
		e.Journey = r.journey
		e.Stage = stageName(r.journey, r.stage)
		e.StageIndex = uint8(r.stage)
		e.Touchpoint = e.Stage + "_touch"
		e.Negative = r.negative
	}
	return e
}

func batchOf(t testing.TB, topic string, partition int32, first, last int64, rows []row) *Batch {
	t.Helper()
	b := &Batch{Topic: topic, Partition: partition, First: first, Last: last}
	for _, r := range rows {
		b.Rows = append(b.Rows, r.enriched(t, topic, partition))
	}
	return b
}

func namedDB(s *Store) driver.NamedValue { return clickhouse.Named("db", s.cfg.Database) }

func itoa[T ~int | ~int32 | ~int64 | ~uint8 | ~uint32 | ~uint64](v T) string { return fmt.Sprint(v) }

func fmtV(v any) string { return fmt.Sprintf("%+v", v) }
