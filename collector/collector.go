package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/internal/retry"
	"github.com/journeys-analytics/journeys/privacy"
	"github.com/journeys-analytics/journeys/schemas"
)

// Store is what the collector needs from ClickHouse.
type Store interface {
	Resume(ctx context.Context, topic string, partition int32) (aggregate.Resume, error)
	PartitionStateBefore(ctx context.Context, topic string, partition int32, recentIDs int, before int64) (aggregate.PartitionState, error)
	Write(ctx context.Context, b *aggregate.Batch) error
	WriteChurnScores(ctx context.Context, topic string, partition int32, scoredAt time.Time, rows []aggregate.ChurnScore) error
	LoadChurnState(ctx context.Context, partition int32) (aggregate.ChurnState, error)
}

// Config tunes the per-partition state.
type Config struct {
	// DedupIDs is how many recent event ids each partition remembers to drop
	// redelivered events (same event_id at another offset).
	DedupIDs int
	Retry    retry.Policy
	Churn    ChurnConfig
	// Suppressions, when set, is the suppression list of erased customers:
	// their events are dropped before enrichment. It is reloaded when a
	// partition opens and every SuppressionRefresh.
	Suppressions       Suppressions
	SuppressionRefresh time.Duration
	// Pseudonymizer, when set, replaces ids before enrichment and the
	// listed properties after it, so nothing stored holds the originals.
	Pseudonymizer *privacy.Pseudonymizer
}

// Collector implements ingest.Sink.
type Collector struct {
	cfg   Config
	log   *slog.Logger
	store Store
	jm    *enrich.Map
	m     *metrics
	churn *churnModel
	supp  *suppression

	mu    sync.Mutex
	parts map[*partitionSink]struct{} // open partitions, for Sweep and /metrics
}

// New builds a collector for one journey map.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer, store Store, jm *enrich.Map) *Collector {
	c := &Collector{cfg: cfg, log: log, store: store, jm: jm, m: newMetrics(reg, jm),
		churn: newChurnModel(cfg.Churn, jm), parts: map[*partitionSink]struct{}{}}
	reg.MustRegister(newChurnCollector(c))
	if cfg.Suppressions != nil {
		c.supp = newSuppression(cfg.Suppressions, cfg.SuppressionRefresh, log, reg)
	}
	return c
}

// Sweep re-scores the customers of every open partition now, as the
// periodic sweep does, and waits for their scores to be written. The demo
// calls it so that its report does not wait for the next tick.
func (c *Collector) Sweep(ctx context.Context) error {
	var errs []error
	for _, p := range c.openPartitions() {
		if err := p.sweep(ctx); err != nil {
			errs = append(errs, fmt.Errorf("collector: sweep partition %d: %w", p.partition, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Collector) openPartitions() []*partitionSink {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := make([]*partitionSink, 0, len(c.parts))
	for p := range c.parts {
		ps = append(ps, p)
	}
	return ps
}

// OpenPartition loads what the previous owner left in ClickHouse: which
// batches landed or were in flight, identity links, personas and recent ids.
func (c *Collector) OpenPartition(ctx context.Context, topic string, partition int32) (ingest.PartitionSink, ingest.Resume, error) {
	r, err := c.store.Resume(ctx, topic, partition)
	if err != nil {
		return nil, ingest.Resume{}, fmt.Errorf("collector: resume partition %d: %w", partition, err)
	}
	// A pending batch is rebuilt from the state its first attempt started
	// with, whatever part of it landed: only then are its rows, and so its
	// insert blocks under the same token, identical.
	before := int64(math.MaxInt64)
	if len(r.Pending) > 0 {
		before = r.Pending[0].First
	}
	st, err := c.store.PartitionStateBefore(ctx, topic, partition, c.cfg.DedupIDs, before)
	if err != nil {
		return nil, ingest.Resume{}, fmt.Errorf("collector: load partition %d state: %w", partition, err)
	}
	// Before anything of the partition is written: a replay must not
	// bring back a customer erased while nobody owned the partition.
	if _, err := c.supp.load(ctx); err != nil {
		return nil, ingest.Resume{}, err
	}
	cs, err := c.store.LoadChurnState(ctx, partition)
	if err != nil {
		return nil, ingest.Resume{}, fmt.Errorf("collector: load partition %d churn state: %w", partition, err)
	}
	state := enrich.NewState(c.jm)
	p := &partitionSink{
		c:         c,
		topic:     topic,
		partition: partition,
		state:     state,
		seen:      newIDWindow(c.cfg.DedupIDs),
		churn:     newChurnTable(c.churn, state),
		sweepDone: make(chan struct{}),
	}
	p.churn.restore(&cs)
	for anon, user := range st.Links {
		p.state.RestoreLink(anon, user)
	}
	for customer, persona := range st.Personas {
		p.state.RestorePersona(customer, persona)
	}
	// Oldest first, so the window evicts in the same order it would have.
	for i := len(st.RecentEventIDs) - 1; i >= 0; i-- {
		p.seen.add(xxhash.Sum64String(st.RecentEventIDs[i]))
	}
	res := ingest.Resume{LandedThrough: r.LandedThrough}
	for _, pr := range r.Pending {
		res.Pending = append(res.Pending, ingest.OffsetRange{First: pr.First, Last: pr.Last})
	}
	c.m.restoredLinks.Add(float64(len(st.Links)))

	// The sweep outlives OpenPartition's ctx; Close stops it.
	sweepCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stopSweep = stop
	c.mu.Lock()
	c.parts[p] = struct{}{}
	c.mu.Unlock()
	go p.sweepLoop(sweepCtx)
	return p, res, nil
}

type partitionSink struct {
	c         *Collector
	topic     string
	partition int32
	state     *enrich.State
	seen      *idWindow

	// mu guards churn between Write's enrichment and the sweep; sweepMu
	// keeps two sweeps of the partition (tick and Sweep) apart.
	mu        sync.Mutex
	sweepMu   sync.Mutex
	churn     *churnTable
	snap      atomic.Pointer[churnSnapshot]
	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

// Write enriches the batch and writes it, retrying until it lands or ctx ends.
// State changes made by enrichment are kept even if ctx ends first: ingest
// then closes this partitionSink and the next owner rebuilds state from
// ClickHouse, so no half-applied state outlives a failed batch.
func (p *partitionSink) Write(ctx context.Context, b *ingest.Batch) error {
	c := p.c
	ab := &aggregate.Batch{Topic: b.Topic, Partition: b.Partition, First: b.First, Last: b.Last, Rows: p.enrich(ctx, b)}
	return retry.Do(ctx, c.cfg.Retry, func(ctx context.Context) error {
		return c.store.Write(ctx, ab)
	}, func(attempt int, err error) {
		c.m.writeRetries.Inc()
		c.log.Warn("ClickHouse write failed; partition paused until it succeeds",
			"partition", b.Partition, "first", b.First, "last", b.Last, "attempt", attempt, "err", err)
	})
}

// enrich tags b's records in place and returns the rows to store: the
// records, in offset order, less duplicates and suppressed customers. The
// rows are b.Records' own memory: a row is the record it was made from, so
// the only copies are those that close the gaps left by dropped records.
func (p *partitionSink) enrich(ctx context.Context, b *ingest.Batch) []schemas.Enriched {
	c := p.c
	supp, grew := c.supp.current(ctx)
	if grew {
		for _, o := range c.openPartitions() {
			if o != p {
				o.mu.Lock()
				o.forgetSuppressed(supp)
				o.mu.Unlock()
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if grew {
		p.forgetSuppressed(supp)
	}
	rows := b.Records[:0]
	for i := range b.Records {
		r := &b.Records[i]
		if !p.seen.add(xxhash.Sum64String(r.EventID)) {
			c.m.duplicates.Inc()
			continue
		}
		if c.cfg.Pseudonymizer != nil {
			c.cfg.Pseudonymizer.IDs(&r.Event)
		}
		if supp.Has(r.UserID, r.AnonymousID) {
			c.supp.dropped.Inc()
			continue
		}
		c.jm.EnrichRow(p.state, r)
		// Stitching can count an anonymous event under an erased user.
		if supp.Has(r.CustomerID) {
			c.supp.dropped.Inc()
			continue
		}
		if c.cfg.Pseudonymizer != nil {
			if err := c.cfg.Pseudonymizer.Properties(&r.Event); err != nil {
				// The validator accepted the JSON, so this is a bug; storing
				// nothing is safe, storing the original is not.
				c.log.Error("pseudonymise properties; storing none", "partition", b.Partition, "err", err)
				r.RawProperties, r.RawTraits = []byte("{}"), []byte("{}")
			}
		}
		c.m.observe(r)
		p.churn.observe(r)
		if len(rows) != i {
			rows = append(rows, *r)
		} else {
			rows = rows[:i+1]
		}
	}
	return rows
}

// Close stops the partition's sweep and drops its customers from the
// metrics: the partition's next owner reports them.
func (p *partitionSink) Close() {
	p.stopSweep()
	<-p.sweepDone
	p.c.mu.Lock()
	delete(p.c.parts, p)
	p.c.mu.Unlock()
}

// idWindow remembers the last n 64-bit hashes of event ids. A hash collision
// (about n²/2⁶⁵ per window, 3·10⁻¹⁰ at n = 100,000) would drop one event as a
// duplicate; that is the price of not keeping the ids themselves.
//
// The set is an open-addressing table of the hashes themselves (linear
// probing, at most half full, backward-shift deletion), not a Go map: every
// event inserts one hash and evicts one, and a map's insert and delete cost
// several times a probe in a flat slice. 0 marks an empty slot, so a hash
// of 0 is stored as 1 (one more collision in 2⁶⁴).
type idWindow struct {
	ring  []uint64 // the stored keys in arrival order
	next  int
	full  bool
	slots []uint64
	mask  uint64
}

func newIDWindow(n int) *idWindow {
	if n < 1 {
		n = 1
	}
	size := 2
	for size < 2*n {
		size <<= 1
	}
	return &idWindow{ring: make([]uint64, n), slots: make([]uint64, size), mask: uint64(size - 1)}
}

func windowKey(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// find returns the slot holding k, or the empty slot where it would go.
func (w *idWindow) find(k uint64) (uint64, bool) {
	for i := k & w.mask; ; i = (i + 1) & w.mask {
		switch w.slots[i] {
		case k:
			return i, true
		case 0:
			return i, false
		}
	}
}

// add remembers h and reports whether it is new: one lookup where has and
// add would take two.
func (w *idWindow) add(h uint64) bool {
	k := windowKey(h)
	i, ok := w.find(k)
	if ok {
		return false
	}
	if w.full {
		w.remove(w.ring[w.next])
		i, _ = w.find(k) // the removal may have moved the empty slot
	}
	w.slots[i] = k
	w.ring[w.next] = k
	w.next++
	if w.next == len(w.ring) {
		w.next, w.full = 0, true
	}
	return true
}

// remove deletes k, moving back later entries of its probe run so that no
// lookup stops early at the hole.
func (w *idWindow) remove(k uint64) {
	i, ok := w.find(k)
	if !ok {
		return
	}
	for j := (i + 1) & w.mask; w.slots[j] != 0; j = (j + 1) & w.mask {
		// The entry at j may fill the hole at i unless its home slot lies
		// cyclically in (i, j]: then moving it before its home would hide it.
		home := w.slots[j] & w.mask
		if (j-home)&w.mask >= (j-i)&w.mask {
			w.slots[i] = w.slots[j]
			i = j
		}
	}
	w.slots[i] = 0
}
