package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/testenv"
)

const (
	e2eTopic = "e2e.events"
	e2eDLQ   = "e2e.events.dlq"
)

// TestGroundTruth runs the real `journeys run` command over a generated
// stream (duplicates, out-of-order deliveries, every kind of invalid event)
// through the Kafka-protocol broker into ClickHouse, and checks that every
// view returns exactly what the generator says it should, computed
// independently from what it generated.
func TestGroundTruth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	brokers := testenv.Kafka(t, 4, e2eTopic, e2eDLQ)
	ch := testenv.ClickHouse(t)

	gcfg := gen.DefaultConfig()
	gcfg.Seed = 7
	gcfg.Customers = 600
	gcfg.MaxEventBytes = 8 << 10
	g := gen.New(gcfg)
	expectedReason := map[string]string{} // original bytes → reason
	var msgs []kafka.Message
	for {
		m, ok := g.Next()
		if !ok {
			break
		}
		if m.Invalid != "" {
			expectedReason[string(m.Value)] = m.Invalid
		}
		msgs = append(msgs, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
	}
	truth := g.Truth()
	t.Logf("generated %d messages: %d customers, %d unique valid events, %d duplicate deliveries, invalid by reason %v",
		truth.Produced, truth.Customers, truth.Valid, truth.Duplicates, truth.Invalid)
	produceAll(ctx, t, brokers, msgs)

	env := map[string]string{
		"JOURNEYS_KAFKA_BROKERS":           strings.Join(brokers, ","),
		"JOURNEYS_KAFKA_TOPIC":             e2eTopic,
		"JOURNEYS_KAFKA_DEAD_LETTER_TOPIC": e2eDLQ,
		"JOURNEYS_KAFKA_GROUP_ID":          "e2e",
		"JOURNEYS_CLICKHOUSE_ADDR":         ch.Addr,
		"JOURNEYS_CLICKHOUSE_DATABASE":     ch.Database,
		"JOURNEYS_JOURNEY_MAP":             "../../deploy/journey-map.yaml",
		"JOURNEYS_SCHEMA_MAX_EVENT_BYTES":  fmt.Sprint(gcfg.MaxEventBytes),
		"JOURNEYS_HTTP_LISTEN":             "",
		// Small batches, so the run crosses many batch boundaries.
		"JOURNEYS_BATCH_MAX_ROWS": "500",
		"JOURNEYS_BATCH_MAX_WAIT": "200ms",
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	var logs lockedBuffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		runErr = run(runCtx, []string{"run"}, io.Discard, &logs, lookup(env))
	}()
	cfg := config.Default()
	cfg.Kafka.Brokers, cfg.Kafka.Topic, cfg.Kafka.GroupID = brokers, e2eTopic, "e2e"
	if err := waitConsumed(ctx, cfg, io.Discard); err != nil {
		t.Fatalf("waiting for the collector to commit everything: %v\nlogs:\n%s", err, logs.String())
	}
	stop()
	wg.Wait()
	if runErr != nil {
		t.Fatalf("journeys run: %v\nlogs:\n%s", runErr, logs.String())
	}

	store, err := aggregate.Open(ctx, aggregate.Config{Addrs: []string{ch.Addr}, Protocol: "native", Database: ch.Database, Username: "default", DialTimeout: 5 * time.Second, MaxOpenConns: 2, DedupWindow: 1000}, testLogger(t), newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	// Nothing lost, nothing counted twice.
	dead := readDeadLetters(ctx, t, brokers, sumInvalid(truth.Invalid))
	got := map[string]int{}
	for _, d := range dead {
		want, ok := expectedReason[string(d.Value)]
		if !ok {
			t.Errorf("dead letter at offset %d is not one of the generated invalid events: %q", d.Offset, truncate(d.Value))
			continue
		}
		if string(d.Reason) != want {
			t.Errorf("dead letter at offset %d: reason %s, want %s (%s)", d.Offset, d.Reason, want, d.Detail)
		}
		got[want]++
	}
	for reason, n := range truth.Invalid {
		if got[reason] != n {
			t.Errorf("dead-lettered %s: %d, want %d", reason, got[reason], n)
		}
	}
	rows, distinct := countEvents(ctx, t, store)
	if rows != uint64(truth.Valid) || distinct != rows {
		t.Errorf("events table: %d rows, %d distinct event ids; want %d and %d", rows, distinct, truth.Valid, truth.Valid)
	}
	if total := int(rows) + truth.Duplicates + len(dead); total != truth.Produced {
		t.Errorf("valid %d + duplicates %d + dead-lettered %d = %d, want produced %d", rows, truth.Duplicates, len(dead), total, truth.Produced)
	}

	// Stage conversion per journey × persona × stage, and per day.
	conv, err := store.StageConversion(ctx, aggregate.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	gotConv := map[gen.ConvKey]gen.ConvValue{}
	for _, r := range conv {
		gotConv[gen.ConvKey{Journey: r.Journey, Persona: r.Persona, StageIndex: r.StageIndex}] = gen.ConvValue{Reached: r.Reached, Progressed: r.Progressed, DroppedOff: r.DroppedOff}
	}
	compareMaps(t, "stage conversion", truth.Conversion, gotConv)

	reach, err := store.StageReach(ctx, aggregate.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	gotReach := map[gen.ReachKey]gen.ReachValue{}
	for _, r := range reach {
		gotReach[gen.ReachKey{Journey: r.Journey, Stage: r.Stage, StageIndex: r.StageIndex, Persona: r.Persona, Day: r.Day.Format("2006-01-02")}] = gen.ReachValue{Customers: r.Customers, Events: r.Events}
	}
	compareMaps(t, "stage reach", truth.StageReach, gotReach)

	for _, window := range []time.Duration{time.Hour, 72 * time.Hour, 30 * 24 * time.Hour} {
		want := truth.Funnel(window)
		gotFunnel := map[gen.FunnelKey]uint64{}
		for _, j := range []string{"lifecycle", "onboarding"} {
			levels, err := store.Funnel(ctx, j, window)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range levels {
				if l.Customers == 0 {
					continue // the view lists every level; the truth only those reached
				}
				gotFunnel[gen.FunnelKey{Journey: l.Journey, Persona: l.Persona, Level: l.Level}] = l.Customers
			}
		}
		compareMaps(t, fmt.Sprintf("funnel (window %s)", window), want, gotFunnel)
	}
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func produceAll(ctx context.Context, t *testing.T, brokers []string, msgs []kafka.Message) {
	t.Helper()
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        e2eTopic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    500,
		BatchTimeout: 2 * time.Millisecond,
	}
	defer w.Close()
	for start := 0; start < len(msgs); start += 2000 {
		end := min(start+2000, len(msgs))
		if err := w.WriteMessages(ctx, msgs[start:end]...); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// readDeadLetters reads the dead-letter topic until want records arrived, or
// a quiet second after the deadline passes, so a surplus is seen too.
func readDeadLetters(ctx context.Context, t *testing.T, brokers []string, want int) []ingest.DeadLetter {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{e2eDLQ}})
	if err != nil {
		t.Fatal(err)
	}
	var out []ingest.DeadLetter
	for _, p := range meta.Topics[0].Partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: e2eDLQ, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		for {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			m, err := r.FetchMessage(rctx)
			cancel()
			if err != nil {
				break
			}
			var d ingest.DeadLetter
			if err := json.Unmarshal(m.Value, &d); err != nil {
				t.Fatalf("dead letter at %d/%d is not JSON: %v", p.ID, m.Offset, err)
			}
			out = append(out, d)
		}
		r.Close()
	}
	if len(out) != want {
		t.Errorf("dead-letter topic holds %d records, want %d", len(out), want)
	}
	return out
}

func countEvents(ctx context.Context, t *testing.T, store *aggregate.Store) (rows, distinct uint64) {
	t.Helper()
	rows, distinct, err := store.EventCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func compareMaps[K comparable, V comparable](t *testing.T, what string, want, got map[K]V) {
	t.Helper()
	if d := gen.Diff(what, want, got, 20); d != "" {
		t.Error(d)
	}
}

func truncate(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
