package aggregate

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the op label of journeys_clickhouse_errors_total.
const (
	opInsert = "insert"
	opQuery  = "query"
	opPing   = "ping"
)

type metrics struct {
	insertDuration *prometheus.HistogramVec // label table
	insertedRows   *prometheus.CounterVec   // label table
	errors         *prometheus.CounterVec   // label op
}

// newMetrics registers the store's metrics with reg (nil: not registered). A
// second Store on the same registry shares the first one's collectors, so
// opening a store again after a failure does not fail on registration.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		insertDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "journeys_clickhouse_insert_duration_seconds",
			Help: "Time to insert one batch into a ClickHouse table, including its materialized views.",
			// Inserts of 10k-100k rows take tens to hundreds of milliseconds;
			// seconds mean the server is struggling.
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"table"}),
		insertedRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "journeys_clickhouse_inserted_rows_total",
			Help: "Rows sent to ClickHouse tables, retries included (ClickHouse drops the duplicates).",
		}, []string{"table"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "journeys_clickhouse_errors_total",
			Help: "Failed ClickHouse operations by kind.",
		}, []string{"op"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.insertDuration, err = register(reg, m.insertDuration); err != nil {
		return nil, err
	}
	if m.insertedRows, err = register(reg, m.insertedRows); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("aggregate: register metrics: %w", err)
}
