package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/schemas"
)

type metrics struct {
	duplicates    prometheus.Counter
	writeRetries  prometheus.Counter
	restoredLinks prometheus.Counter
	unmatched     prometheus.Counter
	negative      prometheus.Counter
	// stage and negTouch are the series of journeys_stage_events_total and
	// journeys_negative_touchpoint_events_total that an event counts in, at
	// touchpoint index × personas + persona index + 1 (the default persona
	// first), resolved once so that the hot path neither formats nor hashes
	// label values. negTouch is nil for touchpoints that are not negative.
	stage    []prometheus.Counter
	negTouch []prometheus.Counter
	personas int

	sweepDuration prometheus.Histogram
	scoresWritten prometheus.Counter
	evicted       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, jm *enrich.Map) *metrics {
	m := &metrics{
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_collector_duplicate_events_total",
			Help: "Valid events dropped because the same event_id was seen recently on the partition (redelivery).",
		}),
		writeRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_collector_write_retries_total",
			Help: "Failed ClickHouse batch writes that were retried (the partition waits meanwhile).",
		}),
		restoredLinks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_collector_restored_identity_links_total",
			Help: "Identity links loaded from ClickHouse when taking over partitions.",
		}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_collector_unmatched_events_total",
			Help: "Valid events that matched no touchpoint of the journey map (stored with an empty journey).",
		}),
		negative: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_collector_negative_touchpoint_events_total",
			Help: "Events tagged to a negative touchpoint (churn signal).",
		}),
		sweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "journeys_churn_sweep_duration_seconds",
			Help:    "Time to re-score one partition's customers and write the changed scores to ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		scoresWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_churn_scores_written_total",
			Help: "Churn scores written to ClickHouse (band changed or risk moved by churn.write_min_delta).",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeys_churn_evicted_customers_total",
			Help: "Least recently active customers forgotten to stay within churn.max_customers_per_partition.",
		}),
	}
	negVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "journeys_negative_touchpoint_events_total",
		Help: "Events tagged to a touchpoint the journey map marks negative (churn signal), by persona at the time of the event.",
	}, []string{"journey", "touchpoint", "persona"})
	touchVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "journeys_stage_events_total",
		Help: "Events tagged to a journey stage, by persona at the time of the event.",
	}, []string{"journey", "stage", "persona"})
	personas := []string{jm.DefaultPersona()}
	for _, p := range jm.Personas() {
		personas = append(personas, p.Name)
	}
	m.personas = len(personas)
	// Every label value comes from the journey map, so the series count is
	// journeys × stages × personas, whatever the events contain. Touchpoints
	// come in file order, the order of Enriched.TouchpointIndex.
	for _, j := range jm.Journeys() {
		for _, s := range j.Stages {
			// Created even for a stage without touchpoints: a series at
			// zero, not a gap.
			stage := make([]prometheus.Counter, len(personas))
			for i, p := range personas {
				stage[i] = touchVec.WithLabelValues(j.Name, s.Name, p)
			}
			for _, tp := range s.Touchpoints {
				m.stage = append(m.stage, stage...)
				for _, p := range personas {
					var c prometheus.Counter
					if tp.Negative {
						c = negVec.WithLabelValues(j.Name, tp.Name, p)
					}
					m.negTouch = append(m.negTouch, c)
				}
			}
		}
	}
	reg.MustRegister(m.duplicates, m.writeRetries, m.restoredLinks, m.unmatched, m.negative, touchVec,
		negVec, m.sweepDuration, m.scoresWritten, m.evicted)
	return m
}

func (m *metrics) observe(e *schemas.Enriched) {
	if e.TouchpointIndex < 0 {
		m.unmatched.Inc()
		return
	}
	i := int(e.TouchpointIndex)*m.personas + int(e.PersonaIndex) + 1
	if e.Negative {
		m.negative.Inc()
		m.negTouch[i].Inc()
	}
	m.stage[i].Inc()
}
