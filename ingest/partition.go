package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/internal/retry"
	"github.com/journeys-analytics/journeys/schemas"
)

// partition runs one owned partition for the life of one generation.
type partition struct {
	c     *Consumer
	gen   *kafka.Generation
	id    int32
	start int64

	resume Resume
	// carry is a message fetched while a batch had to be cut just before it
	// (the start of a pending range); it opens the next batch. A value, not
	// a pointer: taking the address of the fetched message would move every
	// message to the heap.
	carry    kafka.Message
	hasCarry bool
	lag      prometheus.Gauge
	// behind is the lag seen with the last fetched message: how many
	// messages the broker already holds past it.
	behind int64
	// committed is the last offset this member committed, for the log line
	// that says where the next owner will start.
	committed int64
}

// batch is a batch being filled.
type batch struct {
	records []Record
	dead    []DeadLetter
	first   int64
	last    int64
	bytes   int
	n       int
	// pinned: the batch rebuilds a pending range and must end exactly at
	// pinnedLast, whatever the time or size.
	pinned     bool
	pinnedLast int64
	deadline   context.Context
	cancel     context.CancelFunc
}

func (b *batch) reset() {
	if b.cancel != nil {
		b.cancel()
	}
	// Drop references to event maps and message bytes for the GC: an idle
	// partition must not keep its last batch alive.
	clear(b.records)
	clear(b.dead)
	*b = batch{records: b.records[:0], dead: b.dead[:0]}
}

func (p *partition) run(runCtx, genCtx context.Context) error {
	c := p.c
	// fetchCtx ends on shutdown or on revocation: no new message after that.
	fetchCtx, cancelFetch := context.WithCancel(genCtx)
	defer cancelFetch()
	defer context.AfterFunc(runCtx, cancelFetch)()
	// writeCtx ends on revocation, or DrainTimeout after shutdown began: the
	// batch in flight may still land and be committed during the drain.
	writeCtx, cancelWrite := context.WithCancel(genCtx)
	defer cancelWrite()
	defer context.AfterFunc(runCtx, func() { time.AfterFunc(c.cfg.DrainTimeout, cancelWrite) })()

	label := partitionLabel(p.id)
	p.lag = c.m.lag.WithLabelValues(label)
	defer c.m.lag.DeleteLabelValues(label)
	p.committed = p.start
	defer func() {
		why := "revoked"
		if runCtx.Err() != nil {
			why = "shutdown"
		}
		c.log.Info("partition released", "partition", p.id, "why", why, "committed", p.committed)
	}()

	var sink PartitionSink
	err := retry.Do(writeCtx, c.policy(), func(ctx context.Context) error {
		var err error
		sink, p.resume, err = c.sink.OpenPartition(ctx, c.cfg.Topic, p.id)
		return err
	}, func(attempt int, err error) {
		c.log.Warn("opening partition state failed; retrying", "partition", p.id, "attempt", attempt, "err", err)
	})
	if err != nil {
		return nil // revoked or shut down before the state could be loaded
	}
	defer sink.Close()
	c.log.Info("partition assigned", "partition", p.id, "offset", p.start,
		"landed_through", p.resume.LandedThrough, "pending_batches", len(p.resume.Pending))

	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:       c.cfg.Brokers,
		Topic:         c.cfg.Topic,
		Partition:     int(p.id),
		Dialer:        c.dialer,
		MinBytes:      c.cfg.MinBytes,
		MaxBytes:      c.cfg.MaxBytes,
		MaxWait:       c.cfg.MaxWait,
		QueueCapacity: c.cfg.QueueCapacity,
	})
	defer reader.Close()
	if err := reader.SetOffset(p.start); err != nil {
		return fmt.Errorf("ingest: partition %d: set offset %d: %w", p.id, p.start, err)
	}

	var b batch
	defer b.reset()
	for {
		complete, err := p.fill(fetchCtx, reader, &b)
		if err != nil {
			return err
		}
		if b.n == 0 {
			return nil // stopped between batches
		}
		if !complete {
			switch {
			case genCtx.Err() != nil:
				// Revoked: the next owner re-reads from the last commit.
				return nil
			case b.pinned:
				// A pending range must be rebuilt whole or not at all, or
				// its idempotency token would not match.
				return nil
			}
			// Shutdown: flush what we have within the drain budget.
		}
		if err := p.flush(writeCtx, genCtx, sink, &b); err != nil {
			return err
		}
		b.reset()
		if !complete {
			return nil
		}
	}
}

// fill fetches into b until the batch is complete (true) or ctx ends (false,
// b possibly partial). It returns an error only for a broken reader.
func (p *partition) fill(ctx context.Context, r *kafka.Reader, b *batch) (bool, error) {
	c := p.c
	for {
		var m kafka.Message
		if p.hasCarry {
			m, p.carry, p.hasCarry = p.carry, kafka.Message{}, false
		} else {
			// batch.max_wait bounds how long a batch waits for messages
			// that have not arrived. While the broker already holds enough
			// to fill the batch (a backlog), cutting it early would only
			// mean more, smaller inserts and a slower catch-up; size ends
			// it instead.
			fctx := ctx
			if b.deadline != nil && p.behind < int64(c.cfg.BatchMaxRows-b.n) {
				fctx = b.deadline
			}
			var err error
			m, err = r.FetchMessage(fctx)
			if err != nil {
				if ctx.Err() != nil {
					return false, nil
				}
				if b.deadline != nil && b.deadline.Err() != nil {
					return true, nil // the batch's time is up
				}
				return false, fmt.Errorf("ingest: partition %d: fetch: %w", p.id, err)
			}
			c.m.consumed.Inc()
			if lag := m.HighWaterMark - m.Offset - 1; lag >= 0 {
				p.lag.Set(float64(lag))
				p.behind = lag
			}
		}
		if m.Offset <= p.resume.LandedThrough {
			c.m.skipped.Inc()
			if m.Offset == p.resume.LandedThrough && b.n == 0 {
				// The end of a replayed stretch that had already landed:
				// commit past it now, or the group would show it as lag
				// until the next new message.
				p.commit(m.Offset + 1)
			}
			continue
		}
		if pr, ok := p.nextPending(m.Offset); ok && !b.pinned {
			if b.n > 0 {
				// Cut here so the pending range starts a batch of its own.
				p.carry, p.hasCarry = m, true
				return true, nil
			}
			b.pinned, b.pinnedLast = true, pr.Last
			if m.Offset != pr.First {
				// Only an operator moving the group's offset past the start
				// of an unfinished batch gets here; the range cannot be
				// rebuilt identically, so its token will not match.
				c.log.Warn("pending batch starts before the committed offset; rebuilding from here",
					"partition", p.id, "pending_first", pr.First, "offset", m.Offset)
			}
		}
		p.add(b, &m)
		if b.pinned {
			if m.Offset >= b.pinnedLast {
				p.resume.Pending = p.resume.Pending[1:]
				return true, nil
			}
			continue
		}
		if b.n >= c.cfg.BatchMaxRows || b.bytes >= c.cfg.BatchMaxBytes {
			return true, nil
		}
		if b.n == 1 {
			b.deadline, b.cancel = context.WithTimeout(ctx, c.cfg.BatchMaxWait)
		}
	}
}

// nextPending drops pending ranges that end before offset and reports the
// one that offset falls into or that starts at or before it.
func (p *partition) nextPending(offset int64) (OffsetRange, bool) {
	for len(p.resume.Pending) > 0 && p.resume.Pending[0].Last < offset {
		p.resume.Pending = p.resume.Pending[1:]
	}
	if len(p.resume.Pending) == 0 || p.resume.Pending[0].First > offset {
		return OffsetRange{}, false
	}
	return p.resume.Pending[0], true
}

func (p *partition) add(b *batch, m *kafka.Message) {
	if b.n == 0 {
		b.first = m.Offset
	}
	b.last = m.Offset
	b.n++
	b.bytes += len(m.Value)
	src := schemas.Source{Topic: m.Topic, Partition: p.id, Offset: m.Offset}
	ev, invalid := p.c.decoder.DecodeOwned(m.Value, m.Time)
	if invalid != nil {
		b.dead = append(b.dead, DeadLetter{
			Reason:        invalid.Reason,
			Detail:        invalid.Detail,
			Topic:         m.Topic,
			Partition:     p.id,
			Offset:        m.Offset,
			RecordTime:    m.Time,
			Key:           m.Key,
			Value:         m.Value,
			SchemaVersion: schemas.Version,
		})
		return
	}
	p.c.m.valid.Inc()
	if len(b.records) == cap(b.records) {
		// The partition's first record: room for a whole batch, once, as
		// regrowing a buffer of megabytes costs more than filling it. (Only
		// a pending range cut under a larger BatchMaxRows needs more.)
		b.records = slices.Grow(b.records, max(p.c.cfg.BatchMaxRows-len(b.records), 1))
	}
	b.records = b.records[:len(b.records)+1]
	r := &b.records[len(b.records)-1]
	r.Event, r.Source = ev, src
}

// flush makes the batch durable and commits past it: dead letters first, then
// the sink, then the offset, so a crash at any point re-reads the batch.
func (p *partition) flush(ctx, genCtx context.Context, sink PartitionSink, b *batch) error {
	c := p.c
	c.m.batchRows.Observe(float64(b.n))
	if len(b.dead) > 0 {
		now := time.Now().UTC()
		for i := range b.dead {
			b.dead[i].DeadLetteredAt = now
		}
		err := retry.Do(ctx, c.policy(), func(ctx context.Context) error {
			return c.dlq.write(ctx, b.dead)
		}, func(attempt int, err error) {
			c.m.dlqErrors.Inc()
			c.log.Warn("dead-letter topic write failed; partition paused", "partition", p.id, "attempt", attempt, "err", err)
		})
		if err != nil {
			return nil // revoked or drain timed out: not committed, re-read later
		}
		for i := range b.dead {
			c.m.deadLettered.WithLabelValues(string(b.dead[i].Reason)).Inc()
		}
	}
	err := sink.Write(ctx, &Batch{
		Topic:     c.cfg.Topic,
		Partition: p.id,
		First:     b.first,
		Last:      b.last,
		Records:   b.records,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("ingest: partition %d: write batch %d-%d: %w", p.id, b.first, b.last, err)
	}
	if genCtx.Err() != nil {
		// The generation is over: committing would be rejected or, worse,
		// race the next owner. The batch is durable and its range is in the
		// sink's log, so the next owner skips it.
		return nil
	}
	p.commit(b.last + 1)
	return nil
}

// commit records offset as the partition's next offset to read. A failure is
// logged, not retried: the batch is durable and in the sink's log, so the
// next commit or the next owner covers it.
func (p *partition) commit(offset int64) {
	c := p.c
	start := time.Now()
	err := p.gen.CommitOffsets(map[string]map[int]int64{c.cfg.Topic: {int(p.id): offset}})
	c.m.commitTime.Observe(time.Since(start).Seconds())
	if err == nil {
		p.committed = offset
		return
	}
	c.m.commitErrors.Inc()
	if errors.Is(err, kafka.RebalanceInProgress) || errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.UnknownMemberId) {
		return // this member no longer owns the partition
	}
	c.log.Warn("offset commit failed; the next commit or owner covers it", "partition", p.id, "offset", offset, "err", err)
}

func (c *Consumer) policy() retry.Policy {
	return retry.Policy{Initial: c.cfg.RetryInitial, Max: c.cfg.RetryMax}
}
