package web_test

import (
	"context"
	"html"
	"log/slog"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
	"github.com/journeys-analytics/journeys/web"
)

func TestMain(m *testing.M) {
	// Closing the store and the test servers must leave no goroutine behind.
	goleak.VerifyTestMain(m)
}

// fixture is a migrated test database filled through the real pipeline
// (validator → enrich → aggregate.Store.Write, as the collector does) from the seeded generator,
// with a direct connection for the checks.
type fixture struct {
	store *aggregate.Store
	jm    *enrich.Map
	conn  driver.Conn
	db    string
}

const seedTopic = "web.events"

// seeded returns a migrated database with the events of customers generated
// people (0: none).
func seeded(t *testing.T, customers int) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch := testenv.ClickHouse(t)
	log := slog.New(slog.DiscardHandler)
	store, err := aggregate.Open(ctx, aggregate.Config{
		Addrs: []string{ch.Addr}, Database: ch.Database, Username: "default", DedupWindow: 1000,
	}, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	jm, err := enrich.Load("../deploy/journey-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator(schemas.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	// The collector's own loop without Kafka: decode, drop redeliveries,
	// enrich with per-partition state, write per offset range.
	state := enrich.NewState(jm)
	seen := map[string]bool{}
	gcfg := gen.DefaultConfig()
	gcfg.Seed = 11
	gcfg.Customers = max(customers, 1) // 0: an empty database
	g := gen.New(gcfg)
	const batchSize = 2000
	b := &aggregate.Batch{Topic: seedTopic, Partition: 0, First: 0}
	var offset int64
	flush := func() {
		b.Last = offset - 1
		if b.Last < b.First {
			return
		}
		if err := store.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		b = &aggregate.Batch{Topic: seedTopic, Partition: 0, First: offset}
	}
	for customers > 0 {
		m, ok := g.Next()
		if !ok {
			break
		}
		if ev, bad := v.Decode(m.Value, m.Time); bad == nil && !seen[ev.EventID] {
			seen[ev.EventID] = true
			b.Rows = append(b.Rows, jm.Enrich(state, &ev, schemas.Source{Topic: seedTopic, Offset: offset}))
		}
		offset++
		if offset-b.First == batchSize {
			flush()
		}
	}
	flush()

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}, Auth: clickhouse.Auth{Database: ch.Database, Username: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	t.Logf("seeded %d messages from %d generated people", offset, customers)
	return &fixture{store: store, jm: jm, conn: conn, db: ch.Database}
}

func newHandler(t *testing.T, fx *fixture) *web.Handler {
	t.Helper()
	h, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), fx.store, fx.jm)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// element is one HTML element's attributes, unescaped.
type element map[string]string

func (e element) uint(t *testing.T, key string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(e[key], 10, 64)
	if err != nil {
		t.Fatalf("attribute %s=%q of %v: %v", key, e[key], e, err)
	}
	return n
}

func (e element) float(t *testing.T, key string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(e[key], 64)
	if err != nil {
		t.Fatalf("attribute %s=%q of %v: %v", key, e[key], e, err)
	}
	return f
}

var attrRE = regexp.MustCompile(`([a-zA-Z-]+)="([^"]*)"`)

// elements returns the start tags of the page matching re (which must match
// a whole start tag), in document order. A browser's serialised DOM and the
// server's HTML both quote every attribute with ", which is all this needs.
func elements(page string, re *regexp.Regexp) []element {
	var out []element
	for _, tag := range re.FindAllString(page, -1) {
		e := element{}
		for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
			e[m[1]] = html.UnescapeString(m[2])
		}
		out = append(out, e)
	}
	return out
}

var (
	cellRE  = regexp.MustCompile(`<td [^>]*data-reached="[^>]*>`)
	touchRE = regexp.MustCompile(`<li [^>]*data-touchpoint="[^>]*>`)
	bandRE  = regexp.MustCompile(`<span [^>]*data-band="[^>]*>`)
	churnRE = regexp.MustCompile(`<span [^>]*data-churn-persona="[^>]*>`)
	riskRE  = regexp.MustCompile(`<tr [^>]*data-customer="[^>]*>`)
)

// query runs q and calls row for every row.
func (fx *fixture) query(t *testing.T, q string, row func(driver.Rows) error, args ...any) {
	t.Helper()
	rows, err := fx.conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
