package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/schemas"
)

// TestMetricSeriesBounded feeds thousands of distinct customer ids with junk
// event names, properties and context through the real Write and sweep path,
// and requires the collector's series to be exactly the set the journey map
// allows, every label value from the map, and the scrape to pass
// `promtool check metrics`.
func TestMetricSeriesBounded(t *testing.T) {
	ctx := context.Background()
	env := newChurnEnv(t)
	jm, err := enrich.Load("../deploy/journey-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock.set(now)
	reg := prometheus.NewRegistry()
	c := newTestCollector(t, env, jm, clock, reg)

	// Event names of the map's touchpoints, so that journeys, stages and
	// negative touchpoints are all exercised, and junk ones.
	names := []string{"Ad Clicked", "Demo Requested", "Trial Started", "Order Completed", "Feature Used",
		"Support Ticket Opened", "Payment Failed", "Referral Sent", "Signed Up", "Profile Completed", "Report Created"}
	rng := rand.New(rand.NewPCG(1, 2))
	junk := func() string { return fmt.Sprintf("junk-%x\u00e9\"\n{}", rng.Uint64()) }
	const customers = 6000
	for part := range int32(2) {
		ps, _, err := c.OpenPartition(ctx, "events", part)
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		var recs []ingest.Record
		for i := range customers / 2 {
			user := fmt.Sprintf("%s-%d-%d", junk(), part, i)
			for k := range 3 {
				name := names[rng.IntN(len(names))]
				if k == 2 {
					name = junk()
				}
				sources := []string{"linkedin", "github", "google", junk()}
				cx := schemas.Context{
					Channel:  junk(),
					Campaign: schemas.Campaign{Source: sources[rng.IntN(len(sources))], Medium: junk(), Name: junk()},
					Page:     schemas.Page{Path: "/docs/" + junk(), URL: junk(), Title: junk()},
					Referrer: junk(), Locale: junk(),
				}
				props := map[string]any{junk(): junk(), "rating": float64(rng.IntN(6)), "nested": map[string]any{junk(): 1.5}}
				at := now.Add(-time.Duration(rng.IntN(60*24)) * time.Hour)
				recs = append(recs, record("events", part, int64(len(recs)), user, name, at, cx, props))
			}
		}
		if err := ps.Write(ctx, batch(recs)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}

	// The bound, from the map alone.
	personas := map[string]bool{jm.DefaultPersona(): true}
	for _, p := range jm.Personas() {
		personas[p.Name] = true
	}
	journeys, stages, touchpoints := map[string]bool{}, map[string]bool{}, map[string]bool{}
	nStages, nNegative := 0, 0
	for _, j := range jm.Journeys() {
		journeys[j.Name] = true
		for _, s := range j.Stages {
			nStages++
			stages[s.Name] = true
			for _, tp := range s.Touchpoints {
				touchpoints[tp.Name] = true
				if tp.Negative {
					nNegative++
				}
			}
		}
	}
	np := len(personas)
	want := map[string]int{
		"journeys_churn_customers":                            np * numBands,
		"journeys_churn_tracked_customers":                    np,
		"journeys_churn_risk_score":                           np, // a summary per persona
		"journeys_stage_customers":                            nStages * np,
		"journeys_stage_progressed_customers":                 nStages * np,
		"journeys_negative_touchpoint_events_total":           nNegative * np,
		"journeys_stage_events_total":                         nStages * np,
		"journeys_churn_sweep_duration_seconds":               1,
		"journeys_churn_scores_written_total":                 1,
		"journeys_churn_evicted_customers_total":              1,
		"journeys_collector_duplicate_events_total":           1,
		"journeys_collector_write_retries_total":              1,
		"journeys_collector_restored_identity_links_total":    1,
		"journeys_collector_unmatched_events_total":           1,
		"journeys_collector_negative_touchpoint_events_total": 1,
	}
	allowed := map[string]map[string]bool{
		"persona": personas, "journey": journeys, "stage": stages, "touchpoint": touchpoints,
		"band": {"low": true, "medium": true, "high": true},
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var tracked float64
	for _, mf := range families {
		got[mf.GetName()] = len(mf.GetMetric())
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if set, ok := allowed[l.GetName()]; !ok || !set[l.GetValue()] {
					t.Errorf("%s: label %s=%q is not from the journey map", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
			if mf.GetName() == "journeys_churn_tracked_customers" {
				tracked += m.GetGauge().GetValue()
			}
			if mf.GetType() == dto.MetricType_SUMMARY {
				for _, q := range m.GetSummary().GetQuantile() {
					if q.GetQuantile() != 0.5 && q.GetQuantile() != 0.9 && q.GetQuantile() != 0.99 {
						t.Errorf("%s: quantile %v", mf.GetName(), q.GetQuantile())
					}
				}
			}
		}
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d series, want %d", name, got[name], n)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected metric family %s", name)
		}
	}
	// The series did not stay bounded by staying empty.
	if tracked != customers {
		t.Errorf("tracking %v customers, want %d", tracked, customers)
	}

	promtoolCheck(t, reg)
}

// promtoolCheck runs `promtool check metrics` on a scrape of reg. CI must
// have promtool (scripts/test.sh installs Debian's prometheus package);
// elsewhere a missing promtool skips only this check.
func promtoolCheck(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (apt-get install -y prometheus): %v", err)
		}
		t.Skip("promtool not installed (apt-get install -y prometheus); the series checks above ran")
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if !strings.Contains(string(body), "journeys_churn_risk_score_sum") {
		t.Errorf("scrape lacks journeys_churn_risk_score_sum:\n%.2000s", body)
	}
}
