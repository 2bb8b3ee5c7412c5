package chaos

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM to a collector in the middle of a
// stream. It must exit cleanly within shutdown.timeout, having written and
// committed the batches in flight (or left them uncommitted to be read
// again), and a successor must finish the stream with nothing lost or
// counted twice.
func TestGracefulShutdown(t *testing.T) {
	events := envInt(t, "JOURNEYS_CHAOS_SHUTDOWN_EVENTS", 30_000)
	const drain = 10 * time.Second // JOURNEYS_SHUTDOWN_TIMEOUT in newScenario
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := newScenario(t, ctx, testCH(t))
	g := generator(events, 53)
	wait := s.produce(g, 5000)

	p := s.start(nil)
	p = s.waitAssigned(p, time.Minute)
	time.Sleep(2 * time.Second)
	lagBefore, err := Lag(ctx, s.brokers, s.topic, s.group)
	if err != nil {
		t.Fatal(err)
	}
	dlqErrors, err := Metric(ctx, p.HTTPAddr, "journeys_ingest_dead_letter_errors_total")
	if err != nil {
		t.Fatal(err)
	}
	// The budget is shutdown.timeout for the drain plus leaving the group
	// and closing ClickHouse; past it the collector did not honour it.
	took, err := p.Terminate(drain + 5*time.Second)
	if err != nil {
		t.Fatalf("collector after SIGTERM: %v\n%s", err, p.Tail(30))
	}
	lagAfter, err := Lag(ctx, s.brokers, s.topic, s.group)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGTERM with lag %d: exited cleanly in %s (shutdown.timeout %s); lag then %d; dead-letter write errors before it %v",
		lagBefore, took.Round(time.Millisecond), drain, lagAfter, dlqErrors)
	t.Logf("the collector's last words:\n%s", p.Tail(12))
	if log := p.Tail(50); strings.Contains(log, "level=ERROR") {
		t.Errorf("errors logged during shutdown:\n%s", log)
	}

	s.start(nil)
	exp := wait()
	r := s.finish(g.Truth(), exp, 5*time.Minute)
	// A drained batch is committed, so its successor never re-reads it:
	// no dead letter may be written twice (kafka-go ending the generation
	// under partitions still draining did exactly that).
	if r.DeadLetterCopies != 0 {
		t.Errorf("%d dead letters written twice after a graceful shutdown, e.g. at %v: a drained batch was not committed", r.DeadLetterCopies, r.CopiedAt)
	}
}
