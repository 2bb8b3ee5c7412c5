package chaos

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/internal/localch"
)

// startClickHouse runs a ClickHouse server of the test's own, so that it can
// be stopped and started again on the same data directory and ports.
func startClickHouse(t *testing.T, ctx context.Context, dataDir string, tcp, http int) *localch.Server {
	t.Helper()
	lib, err := localch.FindLib(filepath.Join("..", "..", ".cache"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := localch.Start(ctx, localch.Options{
		Exe: journeysBin, ExeArgs: []string{journeysBin, "clickhouse", "child"},
		LibPath: lib, DataDir: dataDir, TCPPort: tcp, HTTPPort: http,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// ownClickHouse starts a server for one test and restarts it, on the same
// data and ports, whenever it dies. The chDB build of ClickHouse 26.7 that
// the tests run aborts the whole server ("Terminate called for uncaught
// exception: Connection reset by peer") when a client is SIGKILLed in the
// middle of a query, so a crash scenario must not run on the shared test
// server, and its collectors live through ClickHouse crashes as well.
// restarts reports how many times the server had to be started again.
func ownClickHouse(t *testing.T, ctx context.Context) (ch CH, restarts func() int) {
	t.Helper()
	dataDir := t.TempDir()
	srv := startClickHouse(t, ctx, dataDir, 0, 0)
	addr := srv.NativeAddr()
	tcpPort, httpPort := port(t, addr), port(t, srv.HTTPAddr())
	var (
		mu sync.Mutex
		n  int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				srv.Kill()
				return
			case <-srv.Done():
			}
			mu.Lock()
			n++
			mu.Unlock()
			next, err := localch.Start(ctx, localch.Options{
				Exe: journeysBin, ExeArgs: []string{journeysBin, "clickhouse", "child"},
				LibPath: mustLib(t), DataDir: dataDir, TCPPort: tcpPort, HTTPPort: httpPort,
			})
			if err != nil {
				t.Errorf("restarting ClickHouse after it died: %v", err)
				<-stop
				return
			}
			srv = next
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return CH{Addr: addr, Database: "chaos"}, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

func mustLib(t *testing.T) string {
	lib, err := localch.FindLib(filepath.Join("..", "..", ".cache"))
	if err != nil {
		t.Error(err)
	}
	return lib
}

// TestClickHouseOutage kills the ClickHouse server under load, keeps it down,
// and starts it again on the same data and ports. The collector must pause
// (retrying, not dead-lettering, with bounded memory), then catch up with
// nothing lost or counted twice.
func TestClickHouseOutage(t *testing.T) {
	events := envInt(t, "JOURNEYS_CHAOS_OUTAGE_EVENTS", 60_000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dataDir := t.TempDir()
	srv := startClickHouse(t, ctx, dataDir, 0, 0)
	t.Cleanup(func() { srv.Kill() })
	tcpPort, httpPort := port(t, srv.NativeAddr()), port(t, srv.HTTPAddr())

	s := newScenario(t, ctx, CH{Addr: srv.NativeAddr(), Database: "chaos"})
	g := generator(events, 23)
	// Paced, so that events keep arriving while ClickHouse is down.
	wait := s.produce(g, 4000)
	p := s.start(nil)
	p = s.waitAssigned(p, time.Minute)
	time.Sleep(2 * time.Second)

	// The worst kind of outage: SIGKILL, mid-insert for all we know.
	srv.Kill()
	down := time.Now()
	var peakRSS int64
	sample := func() {
		if rss, err := p.RSS(); err == nil {
			peakRSS = max(peakRSS, rss)
		}
	}
	for time.Since(down) < 6*time.Second {
		sample()
		time.Sleep(100 * time.Millisecond)
	}
	lagDown, err := Lag(ctx, s.brokers, s.topic, s.group)
	if err != nil {
		t.Fatal(err)
	}
	srv = startClickHouse(t, ctx, dataDir, tcpPort, httpPort)
	t.Logf("ClickHouse down for %s; group lag when it came back: %d messages", time.Since(down).Round(100*time.Millisecond), lagDown)

	exp := wait()
	caught := make(chan error, 1)
	go func() { caught <- WaitCaughtUp(ctx, s.brokers, s.topic, s.group) }()
	for done := false; !done; {
		select {
		case err := <-caught:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-time.After(100 * time.Millisecond):
			sample()
		}
	}
	retries, err := Metric(ctx, p.HTTPAddr, "journeys_collector_write_retries_total")
	if err != nil {
		t.Fatal(err)
	}
	dlqErrors, err := Metric(ctx, p.HTTPAddr, "journeys_ingest_dead_letter_errors_total")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collector peak RSS %d MiB, ClickHouse write retries %v, dead-letter write errors %v", peakRSS>>20, retries, dlqErrors)
	if retries == 0 {
		t.Errorf("no ClickHouse write was retried: the outage did not hit the collector")
	}
	// The bound: batch.max_bytes (16 MiB) per partition plus the fetch
	// queues; a collector that kept buffering while ClickHouse was down
	// would grow with the stream instead.
	const rssBound = 512 << 20
	if peakRSS > rssBound {
		t.Errorf("collector RSS peaked at %d MiB, above the %d MiB bound", peakRSS>>20, rssBound>>20)
	}
	if done, err := p.Exited(); done {
		t.Errorf("the collector exited during the outage: %v", err)
	}
	if lag, err := Lag(ctx, s.brokers, s.topic, s.group); err != nil || lag != 0 {
		t.Errorf("lag after recovery: %d (%v), want 0", lag, err)
	}
	// Verify also requires the dead-letter topic to hold exactly the invalid
	// events: a transient error dead-lettered would show as a surplus.
	s.finish(g.Truth(), exp, time.Minute)
}

func port(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
