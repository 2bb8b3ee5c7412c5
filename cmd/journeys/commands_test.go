package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut, lookup(env))
	return out.String(), errOut.String(), err
}

func TestRunRejectsBadConfigListingEveryProblem(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("kafka:\n  brokerz: [\"a:1\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, map[string]string{"JOURNEYS_BATCH_MAX_ROWS": "0"}, "run", "--config", bad)
	if err == nil {
		t.Fatal("run accepted a bad configuration")
	}
	for _, want := range []string{"kafka.brokerz: unknown key", "batch.max_rows"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestRunRequiresClickHouse(t *testing.T) {
	_, _, err := runCLI(t, nil, "run")
	if err == nil || !strings.Contains(err.Error(), "clickhouse.addr") {
		t.Fatalf("run without clickhouse.addr: %v, want an error naming clickhouse.addr", err)
	}
}

func TestCheckMap(t *testing.T) {
	out, _, err := runCLI(t, nil, "check-map", "../../deploy/journey-map.yaml")
	if err != nil {
		t.Fatalf("check-map on the example map: %v", err)
	}
	for _, want := range []string{"acme-saas@", "journey lifecycle", "journey onboarding", "enterprise_buyer"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\ndefault_persona: d\njourneys:\n  - name: Bad Name\n    stages: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, nil, "check-map", bad)
	if err == nil {
		t.Fatal("check-map accepted a broken map")
	}
	for _, want := range []string{"journeys[0].name", "journeys[0].stages"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check-map error lacks %q:\n%v", want, err)
		}
	}
}

func TestConfigPrintRedactsSecrets(t *testing.T) {
	out, _, err := runCLI(t, map[string]string{"JOURNEYS_CLICKHOUSE_PASSWORD": "hunter2"}, "config")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "password:") {
		t.Fatalf("config output leaks or lacks the password key:\n%s", out)
	}
}

func TestRunWaitsForClickHouseInsteadOfExiting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var logs lockedBuffer
	err := run(ctx, []string{"run"}, io.Discard, &logs, lookup(map[string]string{
		"JOURNEYS_CLICKHOUSE_ADDR":     "127.0.0.1:1", // nothing listens there
		"JOURNEYS_BATCH_RETRY_INITIAL": "50ms",
		"JOURNEYS_BATCH_RETRY_MAX":     "100ms",
		"JOURNEYS_HTTP_LISTEN":         "",
	}))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run with ClickHouse down returned %v; want it to keep waiting until its context ends", err)
	}
	if n := strings.Count(logs.String(), "ClickHouse is not reachable yet"); n < 2 {
		t.Fatalf("logged %d waiting attempts, want at least 2:\n%s", n, logs.String())
	}
}
