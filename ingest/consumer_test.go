package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

const (
	topic = "t.events"
	dlq   = "t.events.dlq"
	group = "g"
)

// prefixDecoder accepts values starting with "ok:" and rejects the rest, so
// these tests exercise ingest's contract without depending on the schema.
type prefixDecoder struct{}

func (prefixDecoder) DecodeOwned(raw []byte, at time.Time) (schemas.Event, *schemas.Invalid) {
	if s := string(raw); strings.HasPrefix(s, "ok:") {
		return schemas.Event{EventID: s[3:], Timestamp: at}, nil
	}
	return schemas.Event{}, &schemas.Invalid{Reason: schemas.ReasonNotJSON, Detail: "test reject"}
}

// recordingSink keeps every batch it was given, per partition.
type recordingSink struct {
	mu      sync.Mutex
	batches map[int32][]Batch
	resume  map[int32]Resume
	// fail, when set, makes Write wait for ctx to end: ClickHouse is down.
	fail bool
}

func newRecordingSink() *recordingSink {
	return &recordingSink{batches: map[int32][]Batch{}, resume: map[int32]Resume{}}
}

func (s *recordingSink) OpenPartition(ctx context.Context, topic string, p int32) (PartitionSink, Resume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resume[p]
	if !ok {
		r = Resume{LandedThrough: -1}
	}
	return &recordingPartition{s: s, p: p}, r, nil
}

type recordingPartition struct {
	s *recordingSink
	p int32
}

func (r *recordingPartition) Write(ctx context.Context, b *Batch) error {
	r.s.mu.Lock()
	fail := r.s.fail
	r.s.mu.Unlock()
	if fail {
		<-ctx.Done()
		return ctx.Err()
	}
	c := *b
	c.Records = append([]Record(nil), b.Records...)
	r.s.mu.Lock()
	r.s.batches[r.p] = append(r.s.batches[r.p], c)
	r.s.mu.Unlock()
	return nil
}

func (r *recordingPartition) Close() {}

func (s *recordingSink) ids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, bs := range s.batches {
		for _, b := range bs {
			for _, r := range b.Records {
				out[r.Event.EventID]++
			}
		}
	}
	return out
}

func testConfig(brokers []string) Config {
	return Config{
		Brokers: brokers, Topic: topic, GroupID: group, DeadLetterTopic: dlq, ClientID: "test",
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond, QueueCapacity: 100,
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second, HeartbeatInterval: time.Second,
		BatchMaxRows: 50, BatchMaxBytes: 1 << 20, BatchMaxWait: 100 * time.Millisecond,
		RetryInitial: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, DrainTimeout: 5 * time.Second,
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func produce(t *testing.T, brokers []string, values ...string) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(v)}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// committed sums the group's committed offsets over partitions.
func committed(t *testing.T, brokers []string, partitions int) int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	res, err := client.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range res.Topics[topic] {
		if p.CommittedOffset > 0 {
			n += p.CommittedOffset
		}
	}
	return n
}

func startConsumer(t *testing.T, cfg Config, sink Sink) (stop func()) {
	t.Helper()
	c, err := New(cfg, quiet(), prometheus.NewRegistry(), prefixDecoder{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func values(n int, invalidEvery int) (all []string, valid int) {
	for i := range n {
		if invalidEvery > 0 && i%invalidEvery == 0 {
			all = append(all, fmt.Sprintf("bad-%d", i))
			continue
		}
		all = append(all, fmt.Sprintf("ok:e%d", i))
		valid++
	}
	return all, valid
}

func readDLQ(t *testing.T, brokers []string, partitions, want int) []DeadLetter {
	t.Helper()
	var out []DeadLetter
	for p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: dlq, Partition: p, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			m, err := r.FetchMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			var d DeadLetter
			if err := json.Unmarshal(m.Value, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		r.Close()
	}
	if len(out) != want {
		t.Fatalf("dead-letter topic holds %d records, want %d", len(out), want)
	}
	return out
}

func TestEveryMessageReachesSinkOrDeadLetterThenCommits(t *testing.T) {
	brokers := testenv.Kafka(t, 3, topic, dlq)
	all, valid := values(600, 20)
	produce(t, brokers, all...)
	sink := newRecordingSink()
	stop := startConsumer(t, testConfig(brokers), sink)
	waitFor(t, "all offsets committed", func() bool { return committed(t, brokers, 3) == int64(len(all)) })
	stop()

	ids := sink.ids()
	if len(ids) != valid {
		t.Fatalf("sink got %d distinct events, want %d", len(ids), valid)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %s delivered %d times in one clean run", id, n)
		}
	}
	dead := readDLQ(t, brokers, 3, len(all)-valid)
	for _, d := range dead {
		if d.Reason != schemas.ReasonNotJSON || !strings.HasPrefix(string(d.Value), "bad-") || d.Topic != topic {
			t.Errorf("dead letter %+v: want reason not_json, original bytes bad-*, topic %s", d, topic)
		}
	}
	// Batches are contiguous, in offset order, and within the row limit.
	for p, bs := range sink.batches {
		next := int64(0)
		for _, b := range bs {
			if b.First != next || b.Last < b.First || b.Last-b.First+1 > 50 {
				t.Errorf("partition %d: batch %d-%d after offset %d: not contiguous or over 50 messages", p, b.First, b.Last, next)
			}
			next = b.Last + 1
		}
	}
}

func TestPendingRangesAreRebuiltWithTheSameBounds(t *testing.T) {
	brokers := testenv.Kafka(t, 1, topic, dlq)
	all, _ := values(300, 0)
	produce(t, brokers, all...)
	sink := newRecordingSink()
	// As if a previous owner landed 0-99, and started 100-129 and 130-211
	// (bigger than BatchMaxRows) before crashing.
	sink.resume[0] = Resume{LandedThrough: 99, Pending: []OffsetRange{{100, 129}, {130, 211}}}
	stop := startConsumer(t, testConfig(brokers), sink)
	waitFor(t, "all offsets committed", func() bool { return committed(t, brokers, 1) == 300 })
	stop()
	bs := sink.batches[0]
	if len(bs) < 3 || bs[0].First != 100 || bs[0].Last != 129 || bs[1].First != 130 || bs[1].Last != 211 || bs[2].First != 212 {
		var got []string
		for _, b := range bs {
			got = append(got, fmt.Sprintf("%d-%d", b.First, b.Last))
		}
		t.Fatalf("batches %v, want 100-129, 130-211, then from 212", got)
	}
	if ids := sink.ids(); ids["e50"] != 0 || ids["e100"] != 1 || len(ids) != 200 {
		t.Fatalf("landed offsets must be skipped: e50 seen %d times, e100 %d times, %d events total (want 0, 1, 200)", ids["e50"], ids["e100"], len(ids))
	}
}

func TestReplayOfLandedOffsetsCommitsPastThem(t *testing.T) {
	brokers := testenv.Kafka(t, 1, topic, dlq)
	all, _ := values(100, 0)
	produce(t, brokers, all...)
	sink := newRecordingSink()
	// Everything already landed (an operator reset the group to replay).
	sink.resume[0] = Resume{LandedThrough: 99}
	stop := startConsumer(t, testConfig(brokers), sink)
	waitFor(t, "the skipped range committed", func() bool { return committed(t, brokers, 1) == 100 })
	stop()
	if ids := sink.ids(); len(ids) != 0 {
		t.Fatalf("landed events were written again: %d", len(ids))
	}
}

func TestNoCommitWhileTheSinkCannotWrite(t *testing.T) {
	brokers := testenv.Kafka(t, 2, topic, dlq)
	all, valid := values(200, 0)
	produce(t, brokers, all...)
	sink := newRecordingSink()
	sink.fail = true
	stop := startConsumer(t, testConfig(brokers), sink)
	time.Sleep(time.Second) // let it fetch and try; nothing may be committed
	stop()
	if n := committed(t, brokers, 2); n != 0 {
		t.Fatalf("committed %d offsets while every write failed", n)
	}
	// ClickHouse is back: a new member reads everything from the start.
	sink.fail = false
	stop = startConsumer(t, testConfig(brokers), sink)
	waitFor(t, "all offsets committed", func() bool { return committed(t, brokers, 2) == int64(len(all)) })
	stop()
	if ids := sink.ids(); len(ids) != valid {
		t.Fatalf("after recovery the sink has %d events, want %d", len(ids), valid)
	}
}

func TestTwoMembersShareTheTopic(t *testing.T) {
	brokers := testenv.Kafka(t, 4, topic, dlq)
	all, valid := values(800, 0)
	produce(t, brokers, all...)
	a, b := newRecordingSink(), newRecordingSink()
	stopA := startConsumer(t, testConfig(brokers), a)
	stopB := startConsumer(t, testConfig(brokers), b)
	waitFor(t, "all offsets committed", func() bool { return committed(t, brokers, 4) == int64(len(all)) })
	stopA()
	stopB()
	seen := a.ids()
	for id, n := range b.ids() {
		seen[id] += n
	}
	if len(seen) != valid {
		t.Fatalf("members together saw %d distinct events, want %d", len(seen), valid)
	}
	if len(a.batches) == 0 && len(b.batches) == 0 {
		t.Fatal("no member got any batch")
	}
}

// TestBacklogBatchesAreCutBySize: while the broker already holds enough
// messages to fill a batch, batch.max_wait does not cut it (a backlog is
// caught up fastest in full batches); once caught up, it does.
func TestBacklogBatchesAreCutBySize(t *testing.T) {
	brokers := testenv.Kafka(t, 1, topic, dlq)
	all, _ := values(2000, 0)
	produce(t, brokers, all...)
	cfg := testConfig(brokers)
	cfg.BatchMaxRows = 500
	// So short that, were it applied during the backlog, almost every
	// batch would be cut before it is full.
	cfg.BatchMaxWait = time.Millisecond
	sink := newRecordingSink()
	// A decoder slow enough that filling a batch takes far longer than
	// max_wait, as decoding a real backlog does.
	c, err := New(cfg, quiet(), prometheus.NewRegistry(), slowDecoder{time.Millisecond / 10}, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	waitFor(t, "backlog committed", func() bool { return committed(t, brokers, 1) == int64(len(all)) })
	// Caught up: a few more messages must be written by time, well short of
	// the row limit, or this would wait forever.
	produce(t, brokers, "ok:late-1", "ok:late-2", "ok:late-3")
	waitFor(t, "late messages committed", func() bool { return committed(t, brokers, 1) == int64(len(all)+3) })
	stop()

	sink.mu.Lock()
	defer sink.mu.Unlock()
	bs := sink.batches[0]
	var backlog []Batch
	for _, b := range bs {
		if b.Last < int64(len(all)) {
			backlog = append(backlog, b)
		}
	}
	if len(backlog) != 4 {
		t.Errorf("backlog of 2000 written in %d batches, want 4 of 500", len(backlog))
	}
	for _, b := range backlog {
		if n := b.Last - b.First + 1; n != 500 {
			t.Errorf("backlog batch %d-%d has %d messages, want 500", b.First, b.Last, n)
		}
	}
}

type slowDecoder struct{ per time.Duration }

func (d slowDecoder) DecodeOwned(raw []byte, at time.Time) (schemas.Event, *schemas.Invalid) {
	time.Sleep(d.per)
	return prefixDecoder{}.DecodeOwned(raw, at)
}
