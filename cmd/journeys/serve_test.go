package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/internal/testenv"
)

// TestServeWebView runs `journeys serve` on a migrated database and checks
// that it serves the journey map and its metrics and stops cleanly; then that
// the collector's HTTP handler serves the same pages beside /metrics.
func TestServeWebView(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch := testenv.ClickHouse(t)
	store, err := aggregate.Open(ctx, aggregate.Config{Addrs: []string{ch.Addr}, Database: ch.Database, Username: "default", DedupWindow: 1000},
		testLogger(t), newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{
		"JOURNEYS_CLICKHOUSE_ADDR":     ch.Addr,
		"JOURNEYS_CLICKHOUSE_DATABASE": ch.Database,
		"JOURNEYS_JOURNEY_MAP":         "../../deploy/journey-map.yaml",
		"JOURNEYS_LOG_LEVEL":           "warn",
	}
	serveCtx, stop := context.WithCancel(ctx)
	var out, logs lockedBuffer
	var wg sync.WaitGroup
	var serveErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr = run(serveCtx, []string{"serve", "--listen", "127.0.0.1:0"}, &out, &logs, lookup(env))
	}()
	addrRE := regexp.MustCompile(`journey map: (http://\S+)/`)
	var base string
	for base == "" && ctx.Err() == nil {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	// In order: /metrics counts the pages before it.
	for _, c := range []struct{ path, want string }{
		{"/journeys/lifecycle", `data-reached="0"`},
		{"/journeys/onboarding", "Churn"},
		{"/metrics", `journeys_web_requests_total{code="200",page="map"} 2`},
	} {
		if body := httpGet(t, base+c.path); !strings.Contains(body, c.want) {
			t.Errorf("serve %s: %q not in\n%.600s", c.path, c.want, body)
		}
	}
	stop()
	wg.Wait()
	if serveErr != nil {
		t.Fatalf("journeys serve: %v\nlogs:\n%s", serveErr, logs.String())
	}

	jm, err := enrich.Load("../../deploy/journey-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{cfg: config.Default(), log: testLogger(t), reg: newRegistry(), jm: jm, store: store}
	srv := httptest.NewServer(p.handler())
	defer srv.Close()
	for _, c := range []struct{ path, want string }{
		{"/journeys/onboarding", `data-stage="signup"`},
		{"/metrics", `journeys_web_requests_total{code="200",page="map"} 1`},
		{"/healthz", "ok"},
	} {
		if body := httpGet(t, srv.URL+c.path); !strings.Contains(body, c.want) {
			t.Errorf("collector %s: %q not in\n%.600s", c.path, c.want, body)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}
