package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/testenv"
)

// journeysBin is the binary built once by TestMain; read-only afterwards.
var journeysBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "journeys-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if journeysBin, err = Build(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// envInt reads a size knob: `make chaos` raises them.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// scenario is one run: a broker process, a ClickHouse database and the
// collector processes of one consumer group.
type scenario struct {
	t       *testing.T
	ctx     context.Context
	logDir  string
	brokers []string
	topic   string
	dlq     string
	group   string
	ch      CH
	env     map[string]string // collector settings shared by every member

	mu    sync.Mutex
	procs []*Proc
	n     int
}

const (
	partitions = 4
	// maxEventBytes keeps too_large messages small: the generator makes them
	// just over the limit.
	maxEventBytes = 16 << 10
)

func newScenario(t *testing.T, ctx context.Context, ch CH) *scenario {
	t.Helper()
	s := &scenario{
		t: t, ctx: ctx, logDir: t.TempDir(),
		topic: "chaos.events", dlq: "chaos.events.dlq", group: "chaos", ch: ch,
	}
	broker, brokers, err := StartBroker(ctx, s.logDir, journeysBin, partitions, s.topic, s.dlq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Kill)
	s.brokers = brokers
	mapPath, err := filepath.Abs("../../deploy/journey-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.env = map[string]string{
		"JOURNEYS_KAFKA_BROKERS":           strings.Join(brokers, ","),
		"JOURNEYS_KAFKA_TOPIC":             s.topic,
		"JOURNEYS_KAFKA_DEAD_LETTER_TOPIC": s.dlq,
		"JOURNEYS_KAFKA_GROUP_ID":          s.group,
		// A killed member holds its partitions until its session times
		// out; short timeouts keep the scenarios short.
		"JOURNEYS_KAFKA_SESSION_TIMEOUT":    "6s",
		"JOURNEYS_KAFKA_REBALANCE_TIMEOUT":  "6s",
		"JOURNEYS_KAFKA_HEARTBEAT_INTERVAL": "1s",
		"JOURNEYS_CLICKHOUSE_ADDR":          ch.Addr,
		"JOURNEYS_CLICKHOUSE_DATABASE":      ch.Database,
		"JOURNEYS_JOURNEY_MAP":              mapPath,
		"JOURNEYS_SCHEMA_MAX_EVENT_BYTES":   strconv.Itoa(maxEventBytes),
		// Small batches: many batch boundaries to crash between.
		"JOURNEYS_BATCH_MAX_ROWS":      "2000",
		"JOURNEYS_BATCH_MAX_WAIT":      "200ms",
		"JOURNEYS_BATCH_RETRY_INITIAL": "100ms",
		"JOURNEYS_BATCH_RETRY_MAX":     "2s",
		"JOURNEYS_SHUTDOWN_TIMEOUT":    "10s",
		"JOURNEYS_LOG_LEVEL":           "info",
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		// SIGTERM, not SIGKILL: the chDB server aborts when a client dies
		// with a connection open, and replay and shutdown share the test
		// server with every other package's tests.
		for _, p := range s.procs {
			if done, _ := p.Exited(); done {
				continue
			}
			if _, err := p.Terminate(20 * time.Second); err != nil {
				t.Errorf("%s at the end of the test: %v", p.Name, err)
			}
		}
		if t.Failed() {
			for _, p := range s.procs {
				t.Logf("--- tail of %s:\n%s", p.LogPath, p.Tail(30))
			}
		}
	})
	return s
}

// generator returns a seeded stream of about events messages.
func generator(events int, seed int64) *gen.Generator {
	cfg := gen.DefaultConfig()
	cfg.Seed = seed
	cfg.Customers = max(events*10/73, 50) // about 7.3 messages per person
	cfg.MaxEventBytes = maxEventBytes
	return gen.New(cfg)
}

// produce streams g into the topic in the background; wait returns the
// expectations once everything is acknowledged.
func (s *scenario) produce(g *gen.Generator, rate int) (wait func() *Expect) {
	var exp *Expect
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		exp, err = Produce(s.ctx, s.brokers, s.topic, g, rate)
	}()
	return func() *Expect {
		<-done
		if err != nil {
			s.t.Fatal(err)
		}
		return exp
	}
}

// start runs one more collector process.
func (s *scenario) start(extra map[string]string) *Proc {
	s.t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		s.t.Fatal(err)
	}
	env := map[string]string{"JOURNEYS_HTTP_LISTEN": addr}
	for k, v := range s.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("collector-%d", s.n)
	s.mu.Unlock()
	p, err := Start(name, s.logDir, journeysBin, []string{"run"}, env)
	if err != nil {
		s.t.Fatal(err)
	}
	p.HTTPAddr = addr
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p
}

// waitAssigned waits until p logs that it owns a partition (it is then
// consuming), so that a fault aimed at it lands mid-stream, and returns the
// process that does. A collector that exits, as `journeys run` does when
// ClickHouse does not answer at start, is started again the way a process
// supervisor would.
func (s *scenario) waitAssigned(p *Proc, timeout time.Duration) *Proc {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(p.LogPath)
		if strings.Contains(string(b), "partition assigned") {
			return p
		}
		if done, err := p.Exited(); done {
			s.t.Logf("%s exited (%v), starting another: %s", p.Name, err, p.Tail(1))
			time.Sleep(time.Second)
			p = s.start(nil)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s owns no partition after %s\n%s", p.Name, timeout, p.Tail(30))
	return nil
}

// finish waits for the group to commit everything, then verifies and prints
// the scenario's figures.
func (s *scenario) finish(truth *gen.Truth, exp *Expect, timeout time.Duration) *Result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	if err := WaitCaughtUp(ctx, s.brokers, s.topic, s.group); err != nil {
		s.t.Fatal(err)
	}
	return s.verify(truth, exp)
}

func (s *scenario) verify(truth *gen.Truth, exp *Expect) *Result {
	s.t.Helper()
	r, err := Verify(s.ctx, s.ch, s.brokers, s.dlq, truth, exp)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("invalid by reason %v, duplicate deliveries %d, dead letters written twice %d %v", truth.Invalid, truth.Duplicates, r.DeadLetterCopies, r.CopiedAt)
	for _, p := range r.Problems {
		s.t.Error(p)
	}
	// The figures line goes to stdout so `make chaos` can end with it.
	fmt.Printf("chaos %s: %s\n", s.t.Name(), r.Line())
	return r
}

func testCH(t *testing.T) CH {
	c := testenv.ClickHouse(t)
	return CH{Addr: c.Addr, Database: c.Database}
}
