package chaos

import (
	"context"
	"math/rand/v2"
	"os"
	"regexp"
	"testing"
	"time"
)

// TestCrash kills the collector with SIGKILL at random moments while it
// consumes a seeded stream, restarting it each time. Each kill is aimed after
// the restarted process owns its partitions, at a random delay, so kills land
// mid-batch, mid-insert and between insert and commit; the first restarts
// also hit the rebuilding of the batch the previous one left pending.
func TestCrash(t *testing.T) {
	events := envInt(t, "JOURNEYS_CHAOS_EVENTS", 100_000)
	kills := envInt(t, "JOURNEYS_CHAOS_KILLS", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ch, chRestarts := ownClickHouse(t, ctx)
	s := newScenario(t, ctx, ch)
	g := generator(events, 11)
	wait := s.produce(g, 0)

	rng := rand.New(rand.NewPCG(uint64(events), uint64(kills)))
	p := s.start(nil)
	for i := range kills {
		p = s.waitAssigned(p, time.Minute)
		delay := time.Duration(rng.Int64N(int64(2500 * time.Millisecond)))
		time.Sleep(delay)
		p.Kill()
		t.Logf("kill %d: SIGKILL after %s of consuming", i+1, delay.Round(time.Millisecond))
		p = s.start(nil)
	}
	s.waitAssigned(p, time.Minute)
	exp := wait()
	truth := g.Truth()
	r := s.finish(truth, exp, 10*time.Minute)
	// How often a restart found a batch in flight (intent without landed)
	// and rebuilt it from its bounds: the deduplication-token path.
	rebuilt := 0
	for _, q := range s.procs {
		b, _ := os.ReadFile(q.LogPath)
		rebuilt += len(regexp.MustCompile(`pending_batches=[1-9]`).FindAll(b, -1))
	}
	t.Logf("partitions resumed with a pending batch to rebuild: %d", rebuilt)
	t.Logf("%d kills; ClickHouse restarted after aborting on a killed client: %d times; dead letters written again after a kill: %d",
		kills, chRestarts(), r.DeadLetterCopies)
}
