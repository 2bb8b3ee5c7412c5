package collector

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/internal/retry"
	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

func TestMain(m *testing.M) {
	// Close must stop each partition's sweep goroutine.
	goleak.VerifyTestMain(m)
}

// fakeClock is a clock the test moves; the sweep goroutine may read it.
type fakeClock struct{ unix atomic.Int64 }

func (c *fakeClock) set(t time.Time) { c.unix.Store(t.UnixMilli()) }
func (c *fakeClock) now() time.Time  { return time.UnixMilli(c.unix.Load()).UTC() }

// churnEnv is a store on a fresh migrated database of the test server and a
// raw connection to query it.
type churnEnv struct {
	store *aggregate.Store
	conn  clickhouse.Conn
	db    string
}

func newChurnEnv(t *testing.T) churnEnv {
	t.Helper()
	ctx := context.Background()
	ch := testenv.ClickHouse(t)
	s, err := aggregate.Open(ctx, aggregate.Config{Addrs: []string{ch.Addr}, Database: ch.Database, Username: "default",
		DedupWindow: 1000}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return churnEnv{store: s, conn: conn, db: ch.Database}
}

func newTestCollector(t *testing.T, env churnEnv, jm *enrich.Map, clock *fakeClock, reg prometheus.Registerer) *Collector {
	t.Helper()
	now := clock.now()
	cfg := testChurnConfig(&now)
	cfg.Clock = clock.now
	cfg.SweepInterval = time.Hour // the tests sweep themselves
	return New(Config{DedupIDs: 1000, Retry: retry.Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}, Churn: cfg},
		slog.New(slog.DiscardHandler), reg, env.store, jm)
}

// record is a valid event as ingest would hand it over.
func record(topic string, partition int32, offset int64, user, name string, at time.Time, ctx schemas.Context, props map[string]any) ingest.Record {
	r := ingest.Record{
		Event: schemas.Event{
			EventID: fmt.Sprintf("%s-%d-%d", topic, partition, offset), Type: schemas.TypeTrack, Event: name,
			UserID: user, Timestamp: at, ReceivedAt: at, Context: ctx,
		},
		Source: schemas.Source{Topic: topic, Partition: partition, Offset: offset},
	}
	r.Event.SetProperties(props)
	return r
}

func batch(records []ingest.Record) *ingest.Batch {
	return &ingest.Batch{Topic: records[0].Source.Topic, Partition: records[0].Source.Partition,
		First: records[0].Source.Offset, Last: records[len(records)-1].Source.Offset, Records: records}
}

type currentRow struct {
	band  string
	risk  float32
	at    time.Time
	stage string
}

func churnCurrent(t *testing.T, env churnEnv) map[string]currentRow {
	t.Helper()
	rows, err := env.conn.Query(context.Background(), "SELECT customer_id, toString(band), risk, scored_at, furthest_stage FROM "+env.db+".churn_current")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]currentRow{}
	for rows.Next() {
		var id string
		var r currentRow
		if err := rows.Scan(&id, &r.band, &r.risk, &r.at, &r.stage); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

// TestChurnSweepWritesAndTakeoverRestores runs the real collector path:
// events through Write, sweeps with a moving clock into churn_scores, and a
// second collector taking the partition over from ClickHouse.
func TestChurnSweepWritesAndTakeoverRestores(t *testing.T) {
	ctx := context.Background()
	env := newChurnEnv(t)
	jm := testMap(t)
	clock := &fakeClock{}
	start := t0
	clock.set(start.Add(30 * day))
	c := newTestCollector(t, env, jm, clock, prometheus.NewRegistry())
	ps, _, err := c.OpenPartition(ctx, "events", 0)
	if err != nil {
		t.Fatal(err)
	}
	var recs []ingest.Record
	add := func(user, name string, at time.Time) {
		recs = append(recs, record("events", 0, int64(len(recs)), user, name, at, schemas.Context{}, nil))
	}
	for d := range 30 { // daily visitor, active until "now"
		add("loyal", "E0", start.Add(time.Duration(d)*day))
	}
	add("loyal", "E1", start.Add(29*day))
	add("ghost", "E0", start) // one visit a month ago
	for d := range 3 {
		add("angry", "Complaint", start.Add(time.Duration(27+d)*day))
	}
	if err := ps.Write(ctx, batch(recs)); err != nil {
		t.Fatal(err)
	}
	if err := c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	cur := churnCurrent(t, env)
	if len(cur) != 3 {
		t.Fatalf("churn_current: %v", cur)
	}
	if cur["loyal"].band != "low" || cur["ghost"].band != "high" || !(cur["angry"].risk > cur["loyal"].risk) {
		t.Errorf("churn_current: %+v", cur)
	}
	if cur["loyal"].stage != "s1" || cur["ghost"].stage != "s0" {
		t.Errorf("furthest stages: loyal %q ghost %q", cur["loyal"].stage, cur["ghost"].stage)
	}
	written := testutil.ToFloat64(c.m.scoresWritten)

	// Nothing moved: nothing written.
	if err := c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(c.m.scoresWritten); got != written {
		t.Errorf("a sweep without change wrote %v scores", got-written)
	}

	// A month of silence: the loyal customer is noticed without new events.
	clock.set(start.Add(60 * day))
	if err := c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	cur2 := churnCurrent(t, env)
	if cur2["loyal"].band != "high" || !cur2["loyal"].at.Equal(start.Add(60*day)) {
		t.Errorf("loyal after a silent month: %+v", cur2["loyal"])
	}
	var history uint64
	if err := env.conn.QueryRow(ctx, "SELECT count() FROM "+env.db+".churn_scores WHERE customer_id = 'loyal'").Scan(&history); err != nil {
		t.Fatal(err)
	}
	if history != 2 {
		t.Errorf("loyal has %d rows of history, want 2", history)
	}
	old := ps.(*partitionSink).churn
	ps.Close()

	// Takeover by another collector.
	c2 := newTestCollector(t, env, jm, clock, prometheus.NewRegistry())
	ps2, _, err := c2.OpenPartition(ctx, "events", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ps2.Close()
	// Its first sweep runs meanwhile and may update what it last wrote.
	p2 := ps2.(*partitionSink)
	p2.mu.Lock()
	defer p2.mu.Unlock()
	restored := p2.churn
	if restored.len() != old.len() {
		t.Fatalf("restored %d customers, had %d", restored.len(), old.len())
	}
	for _, id := range []string{"loyal", "ghost", "angry"} {
		i, j := posOf(old, id), posOf(restored, id)
		a, b := old.cust[i], restored.cust[j]
		if a.firstSeen != b.firstSeen || a.lastSeen != b.lastSeen || a.events != b.events || a.persona != b.persona ||
			a.stageAt != b.stageAt || a.lastBand == 0 || b.lastBand == 0 ||
			old.stages[i*2] != restored.stages[j*2] {
			t.Errorf("%s: had %+v, restored %+v", id, a, b)
		}
		fa, fb := old.score(int(i), clock.now().Unix()), restored.score(int(j), clock.now().Unix())
		if fa.band != fb.band {
			t.Errorf("%s: band %s before the takeover, %s after (%+v vs %+v)", id, bandNames[fa.band], bandNames[fb.band], fa, fb)
		}
	}
}
