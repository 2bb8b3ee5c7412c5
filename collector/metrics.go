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
	// touch is indexed by journey, stage and persona positions in the map so
	// the hot path never formats or looks up label values.
	touch    map[touchKey]prometheus.Counter
	negative prometheus.Counter
	// negTouch counts negative touchpoints by journey, touchpoint and
	// persona; keyed like touch, only looked up for negative events.
	negTouch map[touchKey]prometheus.Counter

	sweepDuration prometheus.Histogram
	scoresWritten prometheus.Counter
	evicted       prometheus.Counter
}

type touchKey struct{ journey, stage, persona string }

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
		touch:    map[touchKey]prometheus.Counter{},
		negTouch: map[touchKey]prometheus.Counter{},
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
	// Every label value comes from the journey map, so the series count is
	// journeys × stages × personas, whatever the events contain.
	for _, j := range jm.Journeys() {
		for _, s := range j.Stages {
			for _, p := range personas {
				k := touchKey{j.Name, s.Name, p}
				m.touch[k] = touchVec.WithLabelValues(j.Name, s.Name, p)
			}
			for _, tp := range s.Touchpoints {
				if !tp.Negative {
					continue
				}
				for _, p := range personas {
					m.negTouch[touchKey{j.Name, tp.Name, p}] = negVec.WithLabelValues(j.Name, tp.Name, p)
				}
			}
		}
	}
	reg.MustRegister(m.duplicates, m.writeRetries, m.restoredLinks, m.unmatched, m.negative, touchVec,
		negVec, m.sweepDuration, m.scoresWritten, m.evicted)
	return m
}

func (m *metrics) observe(e *schemas.Enriched) {
	if e.Journey == "" {
		m.unmatched.Inc()
		return
	}
	if e.Negative {
		m.negative.Inc()
		if c, ok := m.negTouch[touchKey{e.Journey, e.Touchpoint, e.Persona}]; ok {
			c.Inc()
		}
	}
	if c, ok := m.touch[touchKey{e.Journey, e.Stage, e.Persona}]; ok {
		c.Inc()
	}
}
