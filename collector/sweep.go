package collector

import (
	"context"
	"math"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/internal/retry"
)

// churnSnapshot is what one partition's latest sweep counted, flat arrays
// indexed by persona (p), band, histogram bin and journey stage; the
// Prometheus collector sums the open partitions' snapshots at scrape time.
// Immutable once published.
type churnSnapshot struct {
	bands    []float64 // [p*numBands+band]
	tracked  []float64 // [p]
	riskSum  []float64 // [p]
	hist     []uint32  // [p*histBins+bin]
	reached  []float64 // [(stageBase[j]+s)*personas+p]: furthest stage >= s, seen in the KPI window
	progress []float64 // same index: furthest stage > s
}

func newChurnSnapshot(m *churnModel) *churnSnapshot {
	np := len(m.personas)
	return &churnSnapshot{
		bands:    make([]float64, np*numBands),
		tracked:  make([]float64, np),
		riskSum:  make([]float64, np),
		hist:     make([]uint32, np*histBins),
		reached:  make([]float64, m.totalStages*np),
		progress: make([]float64, m.totalStages*np),
	}
}

// pendingScore is a score to write and, after the write, to remember as
// the customer's last written one.
type pendingScore struct {
	risk float32
	band uint8
}

// sweep re-scores every customer of the partition at now = clock(),
// publishes the snapshot for /metrics and writes to ClickHouse the scores
// whose band changed or whose risk moved by WriteMinDelta since last
// written. Scoring holds the partition's mutex, so it runs between the
// enrichment of two batches; the ClickHouse write does not.
func (p *partitionSink) sweep(ctx context.Context) error {
	p.sweepMu.Lock()
	defer p.sweepMu.Unlock()
	c := p.c
	m := c.churn
	start := time.Now()
	nowT := m.cfg.Clock()
	now := nowT.Unix()
	kpiFrom := now - int64(m.cfg.KPIWindow/time.Second)
	snap := newChurnSnapshot(m)
	np := len(m.personas)
	nj := len(m.journeys)
	var rows []aggregate.ChurnScore
	var pending []pendingScore

	p.mu.Lock()
	t := p.churn
	for i := range t.cust {
		cu := &t.cust[i]
		f := t.score(i, now)
		pi := int(cu.persona)
		snap.tracked[pi]++
		snap.riskSum[pi] += f.risk
		snap.bands[pi*numBands+int(f.band)]++
		snap.hist[pi*histBins+min(int(f.risk*histBins), histBins-1)]++
		if int64(cu.lastSeen) >= kpiFrom {
			for j := range nj {
				s := int(t.stages[i*nj+j])
				base := m.stageBase[j]
				for k := range s {
					snap.reached[(base+k)*np+pi]++
					if k < s-1 {
						snap.progress[(base+k)*np+pi]++
					}
				}
			}
		}
		if cu.lastBand == f.band+1 && math.Abs(f.risk-float64(cu.lastRisk)) < m.cfg.WriteMinDelta {
			continue
		}
		row := aggregate.ChurnScore{
			CustomerID:  string(t.id(cu)),
			Persona:     m.personas[pi],
			StageIndex:  -1,
			Risk:        float32(f.risk),
			Band:        bandNames[f.band],
			Inactivity:  float32(f.inactivity),
			Decline:     float32(f.decline),
			Stall:       float32(f.stall),
			Negative:    float32(f.negative),
			IdleSeconds: uint32(min(max(now-int64(cu.lastSeen), 0), math.MaxUint32)),
			LastSeen:    time.Unix(int64(cu.lastSeen), 0).UTC(),
			Events:      cu.events,
		}
		if nj > 0 {
			if s := t.stages[i*nj]; s > 0 {
				row.Journey = m.journeys[0].Name
				row.FurthestStage = m.journeys[0].Stages[s-1].Name
				row.StageIndex = int16(s - 1)
				row.StageReachedAt = time.Unix(int64(cu.stageAt), 0).UTC()
			}
		}
		rows = append(rows, row)
		pending = append(pending, pendingScore{risk: float32(f.risk), band: f.band})
	}
	evicted := t.evicted
	t.evicted = 0
	p.mu.Unlock()
	p.snap.Store(snap)
	c.m.evicted.Add(float64(evicted))

	var err error
	if len(rows) > 0 {
		// Retried until the next sweep is due at the latest: the same token
		// makes a retry of a write that did land harmless.
		wctx, cancel := context.WithTimeout(ctx, m.cfg.SweepInterval)
		err = retry.Do(wctx, c.cfg.Retry, func(ctx context.Context) error {
			return c.store.WriteChurnScores(ctx, p.topic, p.partition, nowT, rows)
		}, func(attempt int, err error) {
			c.log.Warn("writing churn scores failed; retrying", "partition", p.partition, "attempt", attempt, "err", err)
		})
		cancel()
		if err == nil {
			c.m.scoresWritten.Add(float64(len(rows)))
			p.mu.Lock()
			for k := range rows {
				// Customers may have been evicted or moved meanwhile.
				if i, ok := t.find(rows[k].CustomerID); ok {
					t.cust[i].lastRisk, t.cust[i].lastBand = pending[k].risk, pending[k].band+1
				}
			}
			p.mu.Unlock()
		}
	}
	c.m.sweepDuration.Observe(time.Since(start).Seconds())
	return err
}

// sweepLoop sweeps at once, so that a partition taken over shows in
// /metrics without waiting an interval, then every SweepInterval until ctx
// ends. A failed write is logged and left to the next sweep, which writes
// every score still unwritten.
func (p *partitionSink) sweepLoop(ctx context.Context) {
	defer close(p.sweepDone)
	tick := time.NewTicker(p.c.churn.cfg.SweepInterval)
	defer tick.Stop()
	for {
		if err := p.sweep(ctx); err != nil && ctx.Err() == nil {
			p.c.log.Error("churn sweep: scores not written; the next sweep writes them", "partition", p.partition, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
