package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/internal/testenv"
)

// TestPrometheusScrapesChurn runs `journeys run` against a seeded stream in
// which some customers of one persona went silent weeks ago while the others
// kept coming back, points a real Prometheus server (Debian's prometheus
// package) with the shipped deploy/prometheus/rules.yml at the collector's
// /metrics, and checks through Prometheus' HTTP API that the churn series and
// the recording rules built on them say what the scenario implies.
func TestPrometheusScrapesChurn(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus not found: apt-get install prometheus (scripts/test.sh does it)")
		}
		t.Skip("prometheus not found: apt-get install prometheus (scripts/test.sh does it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, dlq = "prom.events", "prom.events.dlq"
	brokers := testenv.Kafka(t, 2, topic, dlq)
	ch := testenv.ClickHouse(t)

	now := time.Now().UTC()
	sc := churnScenario{now: now}
	msgs := sc.events(
		persona{name: "smb_owner", source: "google", medium: "cpc", active: 6, silent: 4},
		persona{name: "developer", source: "github", medium: "referral", active: 5},
	)
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond,
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	w.Close()
	t.Logf("produced %d events", len(msgs))

	metricsAddr := loopbackAddr(t)
	env := map[string]string{
		"JOURNEYS_KAFKA_BROKERS":           strings.Join(brokers, ","),
		"JOURNEYS_KAFKA_TOPIC":             topic,
		"JOURNEYS_KAFKA_DEAD_LETTER_TOPIC": dlq,
		"JOURNEYS_KAFKA_GROUP_ID":          "prom",
		"JOURNEYS_CLICKHOUSE_ADDR":         ch.Addr,
		"JOURNEYS_CLICKHOUSE_DATABASE":     ch.Database,
		"JOURNEYS_JOURNEY_MAP":             "../../deploy/journey-map.yaml",
		"JOURNEYS_HTTP_LISTEN":             metricsAddr,
		"JOURNEYS_BATCH_MAX_WAIT":          "100ms",
		// Re-score every second, so the scrape sees the silent customers
		// scored against "now" without waiting a minute.
		"JOURNEYS_CHURN_SWEEP_INTERVAL": "1s",
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	var logs lockedBuffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		runErr = run(runCtx, []string{"run"}, io.Discard, &logs, lookup(env))
	}()
	defer func() {
		stop()
		wg.Wait()
		if runErr != nil {
			t.Errorf("journeys run: %v\nlogs:\n%s", runErr, logs.String())
		}
	}()

	prom := startPrometheus(ctx, t, promBin, metricsAddr)

	// Every customer of the scenario, by persona, and the silent ones in the
	// high band; the recording rules sum them per persona.
	want := map[string]float64{
		`journeys_churn_tracked_customers{persona="smb_owner"}`:                     10,
		`journeys_churn_customers{persona="smb_owner",band="high"}`:                 4,
		`journeys_churn_tracked_customers{persona="developer"}`:                     5,
		`journeys_churn_customers{persona="developer",band="high"}`:                 0,
		`journeys:churn_high_risk_customers:ratio{persona="smb_owner"}`:             0.4,
		`journeys:churn_customers:sum{persona="smb_owner",band="high"}`:             4,
		`sum(journeys_churn_customers{persona="smb_owner"})`:                        10,
		`count(journeys_churn_risk_score{persona="smb_owner"})`:                     3, // p50, p90, p99
		`journeys_churn_risk_score_sum{persona="smb_owner"} > bool 4 * 0.7`:         1, // 4 customers at >= 0.7 alone
		`journeys:churn_risk_score:mean{persona="smb_owner"} > bool 0.28`:           1,
		`journeys:churn_risk_score:mean{persona="developer"} < bool 0.4`:            1,
		`journeys_churn_risk_score{persona="smb_owner",quantile="0.9"} >= bool 0.7`: 1,
	}
	got := map[string]string{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok := true
		for q, v := range want {
			val, err := prom.query(ctx, q)
			got[q] = val
			if err != nil || val != strconv.FormatFloat(v, 'f', -1, 64) {
				got[q] = fmt.Sprintf("%s (err %v)", val, err)
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var b strings.Builder
			for q, v := range want {
				fmt.Fprintf(&b, "  %s = %s, want %v\n", q, got[q], v)
			}
			t.Fatalf("Prometheus never showed the expected churn series:\n%s\ntargets: %s\ncollector logs:\n%s",
				b.String(), prom.targets(ctx), logs.String())
		}
		time.Sleep(time.Second)
	}
}

// persona is one persona's customers in the scenario: active ones came back
// every 12 hours until an hour ago; silent ones did the same, opened a
// support ticket and have not been seen for five weeks.
type persona struct {
	name, source, medium string
	active, silent       int
}

type churnScenario struct {
	now time.Time
	n   int
}

func (s *churnScenario) events(ps ...persona) []kafka.Message {
	var out []kafka.Message
	for _, p := range ps {
		for i := range p.active + p.silent {
			id := fmt.Sprintf("u_%s_%d", p.name, i)
			end := s.now.Add(-time.Hour)
			if i >= p.active {
				end = s.now.Add(-35 * 24 * time.Hour)
			}
			start := end.Add(-20 * 24 * time.Hour)
			ts := start
			add := func(typ, name, path string) {
				s.n++
				ev := map[string]any{
					"schema_version": "v1",
					"event_id":       fmt.Sprintf("prom-%06d", s.n),
					"type":           typ,
					"user_id":        id,
					"timestamp":      ts.Format(time.RFC3339Nano),
					"context": map[string]any{
						"channel":  "web",
						"campaign": map[string]any{"source": p.source, "medium": p.medium, "name": "spring"},
					},
				}
				if typ == "page" {
					ev["name"] = name
					ev["context"].(map[string]any)["page"] = map[string]any{"path": path}
				} else {
					ev["event"] = name
				}
				b, _ := json.Marshal(ev)
				out = append(out, kafka.Message{Key: []byte(id), Value: b})
			}
			add("track", "Ad Clicked", "")
			ts = ts.Add(12 * time.Hour)
			add("page", "Pricing", "/pricing")
			ts = ts.Add(12 * time.Hour)
			add("track", "Trial Started", "")
			ts = ts.Add(12 * time.Hour)
			add("track", "Order Completed", "")
			for ts = ts.Add(12 * time.Hour); !ts.After(end); ts = ts.Add(12 * time.Hour) {
				add("track", "Feature Used", "")
			}
			if i >= p.active {
				ts = end
				add("track", "Support Ticket Opened", "")
			}
		}
	}
	return out
}

// loopbackAddr returns a loopback address with a port nobody listens on now.
func loopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type promServer struct {
	base string
}

// startPrometheus runs a Prometheus server that scrapes target every second
// and evaluates the shipped rules every second, and stops it when the test
// ends.
func startPrometheus(ctx context.Context, t *testing.T, bin, target string) *promServer {
	t.Helper()
	rules, err := filepath.Abs("../../deploy/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: journeys
    static_configs:
      - targets: [%q]
`, rules, target)
	return &promServer{base: testenv.Prometheus(ctx, t, bin, cfg)}
}

// query returns the value of an instant query that yields one series, "" if
// it yields none.
func (p *promServer) query(ctx context.Context, q string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", err
	}
	if r.Status != "success" {
		return "", fmt.Errorf("query %s: %s", q, r.Error)
	}
	switch len(r.Data.Result) {
	case 0:
		return "", nil
	case 1:
		s, _ := r.Data.Result[0].Value[1].(string)
		return s, nil
	}
	return "", fmt.Errorf("query %s: %d series, want 1", q, len(r.Data.Result))
}

func (p *promServer) targets(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/targets", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
