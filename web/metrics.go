package web

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the page label: a fixed set, never the request path.
const (
	pageIndex  = "index"
	pageMap    = "map"
	pageAtRisk = "at_risk"
	pageStatic = "static"
)

type metrics struct {
	requests *prometheus.CounterVec // labels page, code
}

// newMetrics registers the metrics with reg (nil: not registered). A second
// Handler on the same registry shares the first one's collectors.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "journeys_web_requests_total",
			Help: "Requests to the journey map web view by page and HTTP status code.",
		}, []string{"page", "code"}),
	}
	if reg == nil {
		return m, nil
	}
	if err := reg.Register(m.requests); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("web: register metrics: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, fmt.Errorf("web: register metrics: %w", err)
		}
		m.requests = existing
	}
	return m, nil
}
