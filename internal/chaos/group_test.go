package chaos

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// TestRebalance runs several collector processes in one group while the
// stream arrives: scaled up to three, down to two, restarted one by one
// (SIGTERM, the way a rolling deployment does it), and one of them killed.
// Every change moves partitions between members mid-batch.
func TestRebalance(t *testing.T) {
	events := envInt(t, "JOURNEYS_CHAOS_REBALANCE_EVENTS", 60_000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ch, chRestarts := ownClickHouse(t, ctx)
	s := newScenario(t, ctx, ch)
	g := generator(events, 31)
	wait := s.produce(g, 3000)

	step := func(what string) {
		t.Logf("rebalance: %s", what)
		time.Sleep(1500 * time.Millisecond)
	}
	a := s.start(nil)
	a = s.waitAssigned(a, time.Minute)
	step("1 member")
	b := s.start(nil)
	step("scale up to 2")
	c := s.start(nil)
	step("scale up to 3")
	if _, err := a.Terminate(30 * time.Second); err != nil {
		t.Error(err)
	}
	step("scale down to 2 (SIGTERM)")
	members := []*Proc{b, c}
	for i, m := range members {
		if _, err := m.Terminate(30 * time.Second); err != nil {
			t.Error(err)
		}
		members[i] = s.start(nil)
		step("rolling restart")
	}
	members[0].Kill()
	step("one member killed (SIGKILL)")
	members[0] = s.start(nil)
	for _, m := range members {
		s.waitAssigned(m, time.Minute)
	}
	exp := wait()
	s.finish(g.Truth(), exp, 10*time.Minute)
	t.Logf("ClickHouse restarted after aborting on a killed client: %d times", chRestarts())
}

// TestReplay reads every partition again from offset 0 after a complete
// run, as an operator resetting the group's offsets would, and requires every
// table and view to stay as it was. (A batch rebuilt from its intent bounds
// and inserted again, the deduplication-token path, is what TestCrash's
// restarts exercise: their logs show pending_batches > 0.)
func TestReplay(t *testing.T) {
	events := envInt(t, "JOURNEYS_CHAOS_REPLAY_EVENTS", 30_000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := newScenario(t, ctx, testCH(t))
	g := generator(events, 41)
	exp := s.produce(g, 0)()
	truth := g.Truth()

	run := func() *Proc {
		p := s.start(nil)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := WaitCaughtUp(ctx, s.brokers, s.topic, s.group); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Terminate(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run()
	before, err := TakeSnapshot(ctx, s.ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tables before replay: %v", before.Tables)

	for p := range partitions {
		if err := ResetOffset(ctx, s.brokers, s.topic, s.group, p, 0); err != nil {
			t.Fatal(err)
		}
	}
	replayer := run()
	after, err := TakeSnapshot(ctx, s.ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range before.Diff(after) {
		t.Errorf("after replaying from offset 0: %s", d)
	}
	assigned := regexp.MustCompile(`partition=\d+ offset=0 landed_through=\d+`).FindAllString(replayer.Tail(200), -1)
	t.Logf("replay started at offset 0 on %d partitions: %v", len(assigned), assigned)
	if len(assigned) != partitions {
		t.Errorf("the replaying collector started %d partitions at offset 0, want %d", len(assigned), partitions)
	}
	s.verify(truth, exp)
}
