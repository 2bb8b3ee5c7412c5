package collector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/privacy"
)

// Suppressions is where the collector reads the suppression list that
// `journeys forget` writes: privacy.SuppressionKey of every erased id.
type Suppressions interface {
	Suppressed(ctx context.Context) ([]string, error)
}

// suppression is the collector's copy of the suppression list, shared by
// its partitions. It is loaded when a partition opens (so a replay starts
// with the current list) and reloaded by Write once older than refresh.
type suppression struct {
	src     Suppressions
	refresh time.Duration
	log     *slog.Logger

	mu       sync.Mutex // one reload at a time
	set      atomic.Pointer[privacy.Set]
	loadedAt atomic.Int64 // unix nanoseconds

	dropped prometheus.Counter
	size    prometheus.GaugeFunc
}

func newSuppression(src Suppressions, refresh time.Duration, log *slog.Logger, reg prometheus.Registerer) *suppression {
	s := &suppression{src: src, refresh: refresh, log: log}
	s.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "journeys_collector_suppressed_events_total",
		Help: "Events dropped because their customer was erased by journeys forget.",
	})
	s.size = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "journeys_collector_suppressed_customers",
		Help: "Erased customers in the suppression list the collector holds.",
	}, func() float64 { return float64(s.set.Load().Len()) })
	reg.MustRegister(s.dropped, s.size)
	return s
}

// load reads the list now; it returns whether the list grew.
func (s *suppression) load(ctx context.Context) (bool, error) {
	if s == nil || s.src == nil {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.src.Suppressed(ctx)
	if err != nil {
		return false, fmt.Errorf("collector: load suppression list: %w", err)
	}
	prev := s.set.Load()
	s.set.Store(privacy.NewSet(keys))
	s.loadedAt.Store(time.Now().UnixNano())
	return len(keys) > prev.Len(), nil
}

// current returns the list, reloading it first when it is stale. A failed
// reload keeps the previous list (a ClickHouse outage also stops the writes
// this would protect) and is retried on the next batch.
func (s *suppression) current(ctx context.Context) (set *privacy.Set, grew bool) {
	if s == nil || s.src == nil {
		return nil, false
	}
	if time.Since(time.Unix(0, s.loadedAt.Load())) >= s.refresh {
		var err error
		if grew, err = s.load(ctx); err != nil {
			s.log.Warn("suppression list reload failed; keeping the previous one", "err", err)
		}
	}
	return s.set.Load(), grew
}

// forgetSuppressed drops erased customers from the partition's churn state,
// so its sweep stops scoring them. The caller holds p.mu.
func (p *partitionSink) forgetSuppressed(set *privacy.Set) {
	p.churn.removeIf(func(id []byte) bool { return set.Has(string(id)) })
}

// removeIf drops the customers whose id matches, as evict drops the least
// recent ones.
func (t *churnTable) removeIf(match func(id []byte) bool) {
	for i := len(t.cust) - 1; i >= 0; i-- {
		c := t.cust[i]
		if !match(t.id(&c)) {
			continue
		}
		t.removeAt(i)
	}
}

// removeAt forgets customer i by moving the last customer into its slot, so
// the slice stays dense, and releases it in the State, which forgets its id
// unless enrichment still needs it.
func (t *churnTable) removeAt(i int) {
	nj := len(t.m.journeys)
	t.st.Release(t.cust[i].ref)
	last := len(t.cust) - 1
	if i != last {
		t.cust[i] = t.cust[last]
		copy(t.stages[i*nj:(i+1)*nj], t.stages[last*nj:(last+1)*nj])
		t.st.SetValue(t.cust[i].ref, uint32(i)+1)
	}
	t.cust = t.cust[:last]
	t.stages = t.stages[:last*nj]
}
