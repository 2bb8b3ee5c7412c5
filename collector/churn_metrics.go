package collector

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// churnQuantiles are the quantile label values of journeys_churn_risk_score.
var churnQuantiles = [...]float64{0.5, 0.9, 0.99}

// churnCollector exposes the latest sweep snapshots of the open partitions,
// summed at scrape time. Every label combination the journey map allows is
// always exported, zero or NaN when empty, so the series set is fixed by the
// map and a scrape never depends on which customers exist.
type churnCollector struct {
	c *Collector

	customers, tracked, risk        *prometheus.Desc
	stageCustomers, stageProgressed *prometheus.Desc
}

func newChurnCollector(c *Collector) *churnCollector {
	return &churnCollector{
		c: c,
		customers: prometheus.NewDesc("journeys_churn_customers",
			"Tracked customers per churn-risk band (low, medium, high) and persona, at the latest sweep.",
			[]string{"persona", "band"}, nil),
		tracked: prometheus.NewDesc("journeys_churn_tracked_customers",
			"Customers whose churn risk this collector tracks, per persona.",
			[]string{"persona"}, nil),
		// A summary, so that the quantiles, the sum and the count pass
		// promtool's lint, which reserves "quantile" and "_sum" for
		// summaries. It describes the scores at the latest sweep, not
		// observations accumulated over time: _sum and _count go down too.
		risk: prometheus.NewDesc("journeys_churn_risk_score",
			"Churn-risk scores (0-1) of this collector's tracked customers per persona at the latest sweep: "+
				"quantiles (NaN when it tracks none), _sum (divide by journeys_churn_tracked_customers for the mean) and _count.",
			[]string{"persona"}, nil),
		stageCustomers: prometheus.NewDesc("journeys_stage_customers",
			"Customers seen within the KPI window whose furthest stage in the journey is this stage or later.",
			[]string{"journey", "stage", "persona"}, nil),
		stageProgressed: prometheus.NewDesc("journeys_stage_progressed_customers",
			"Customers seen within the KPI window whose furthest stage in the journey is later than this stage.",
			[]string{"journey", "stage", "persona"}, nil),
	}
}

func (cc *churnCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cc.customers, cc.tracked, cc.risk, cc.stageCustomers, cc.stageProgressed} {
		ch <- d
	}
}

func (cc *churnCollector) Collect(ch chan<- prometheus.Metric) {
	m := cc.c.churn
	sum := newChurnSnapshot(m)
	for _, p := range cc.c.openPartitions() {
		s := p.snap.Load()
		if s == nil {
			continue
		}
		addFloats(sum.bands, s.bands)
		addFloats(sum.tracked, s.tracked)
		addFloats(sum.riskSum, s.riskSum)
		addFloats(sum.reached, s.reached)
		addFloats(sum.progress, s.progress)
		for i, v := range s.hist {
			sum.hist[i] += v
		}
	}
	np := len(m.personas)
	for pi, persona := range m.personas {
		for b, band := range bandNames {
			ch <- prometheus.MustNewConstMetric(cc.customers, prometheus.GaugeValue, sum.bands[pi*numBands+b], persona, band)
		}
		ch <- prometheus.MustNewConstMetric(cc.tracked, prometheus.GaugeValue, sum.tracked[pi], persona)
		hist := sum.hist[pi*histBins : (pi+1)*histBins]
		qs := make(map[float64]float64, len(churnQuantiles))
		for _, q := range churnQuantiles {
			qs[q] = histQuantile(hist, q)
		}
		ch <- prometheus.MustNewConstSummary(cc.risk, uint64(sum.tracked[pi]), sum.riskSum[pi], qs, persona)
	}
	for j, jd := range m.journeys {
		for s, sd := range jd.Stages {
			for pi, persona := range m.personas {
				k := (m.stageBase[j]+s)*np + pi
				ch <- prometheus.MustNewConstMetric(cc.stageCustomers, prometheus.GaugeValue, sum.reached[k], jd.Name, sd.Name, persona)
				ch <- prometheus.MustNewConstMetric(cc.stageProgressed, prometheus.GaugeValue, sum.progress[k], jd.Name, sd.Name, persona)
			}
		}
	}
}

func addFloats(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

// histQuantile is the q-quantile (nearest rank) of the scores counted in
// hist, reported as the middle of its bin; NaN for no scores.
func histQuantile(hist []uint32, q float64) float64 {
	var n uint64
	for _, v := range hist {
		n += uint64(v)
	}
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var cum uint64
	for i, v := range hist {
		cum += uint64(v)
		if cum >= rank {
			return (float64(i) + 0.5) / histBins
		}
	}
	return 1
}
