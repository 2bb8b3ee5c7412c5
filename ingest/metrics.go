package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/schemas"
)

type metrics struct {
	consumed     prometheus.Counter
	valid        prometheus.Counter
	deadLettered *prometheus.CounterVec
	skipped      prometheus.Counter
	batchRows    prometheus.Histogram
	commitTime   prometheus.Histogram
	commitErrors prometheus.Counter
	dlqErrors    prometheus.Counter
	rebalances   prometheus.Counter
	lag          *prometheus.GaugeVec
	assigned     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_ingest_consumed_events_total",
			Help: "Messages fetched from the events topic.",
		}),
		valid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_ingest_valid_events_total",
			Help: "Messages that passed schema validation.",
		}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "journeys_ingest_dead_lettered_events_total",
			Help: "Invalid messages written to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_ingest_replayed_skipped_events_total",
			Help: "Messages skipped because their batch had already landed (replay after a crash or an offset reset).",
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "journeys_ingest_batch_messages",
			Help:    "Messages per flushed partition batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "journeys_ingest_commit_duration_seconds",
			Help:    "Time to commit a partition's offset to the consumer group.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_ingest_commit_errors_total",
			Help: "Offset commits that failed (the batch is re-read by the next owner; it is deduplicated).",
		}),
		dlqErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_ingest_dead_letter_errors_total",
			Help: "Failed attempts to write to the dead-letter topic (the partition waits and retries).",
		}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_ingest_rebalances_total",
			Help: "Consumer-group generations this member joined.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "journeys_ingest_consumer_lag_messages",
			Help: "Messages between the last fetched offset and the partition's high watermark, per owned partition.",
		}, []string{"partition"}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "journeys_ingest_assigned_partitions",
			Help: "Partitions this member currently owns.",
		}),
	}
	reg.MustRegister(m.consumed, m.valid, m.deadLettered, m.skipped, m.batchRows,
		m.commitTime, m.commitErrors, m.dlqErrors, m.rebalances, m.lag, m.assigned)
	// Pre-create every reason so dashboards and rate() see zeros, not gaps.
	for _, r := range schemas.Reasons() {
		m.deadLettered.WithLabelValues(string(r))
	}
	return m
}
