package localch_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.uber.org/goleak"

	"github.com/journeys-analytics/journeys/internal/localch"
)

// childEnv switches the test binary into the child role, so the test needs
// no bin/journeys: Start re-executes os.Args[0] with this set.
const childEnv = "JOURNEYS_LOCALCH_CHILD"

func TestMain(m *testing.M) {
	localch.ServeChildIfRequested(childEnv)
	goleak.VerifyTestMain(m)
}

// lib finds libchdb.so; in CI a missing library is a broken setup, not a
// reason to skip.
func lib(t *testing.T) string {
	t.Helper()
	p, err := localch.FindLib(filepath.Join("..", "..", ".cache"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

func TestStartQueryRestartStop(t *testing.T) {
	libPath := lib(t)
	t.Setenv(childEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := localch.Options{
		Exe:     exe,
		ExeArgs: []string{exe},
		LibPath: libPath,
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	ctx := t.Context()

	srv := start(t, ctx, opts)
	conn := open(t, srv.NativeAddr())
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s native=%s http=%s pid=%d", version, srv.NativeAddr(), srv.HTTPAddr(), srv.PID())
	for _, q := range []string{
		"CREATE TABLE survive (n UInt64) ENGINE = MergeTree ORDER BY n",
		"INSERT INTO survive SELECT number FROM numbers(1000)",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	stop(t, srv)

	srv = start(t, ctx, opts)
	conn = open(t, srv.NativeAddr())
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM survive").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Fatalf("after restart: %d rows, want 1000", n)
	}
	conn.Close()

	// A crash must not corrupt the data directory for the next start.
	srv.Kill()
	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("Stop after Kill: %v", err)
	}
	srv = start(t, ctx, opts)
	conn = open(t, srv.NativeAddr())
	if err := conn.QueryRow(ctx, "SELECT count() FROM survive").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Fatalf("after kill and restart: %d rows, want 1000", n)
	}
	conn.Close()
	stop(t, srv)
}

func TestStartFailsWithLogTail(t *testing.T) {
	t.Setenv(childEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bogus := filepath.Join(t.TempDir(), "libchdb.so")
	if err := os.WriteFile(bogus, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = localch.Start(t.Context(), localch.Options{
		Exe: exe, ExeArgs: []string{exe}, LibPath: bogus, DataDir: t.TempDir(),
	})
	if err == nil {
		t.Fatal("Start with a bogus library succeeded")
	}
	t.Log(err)
}

func TestPortTaken(t *testing.T) {
	libPath := lib(t)
	t.Setenv(childEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = localch.Start(t.Context(), localch.Options{
		Exe: exe, ExeArgs: []string{exe}, LibPath: libPath, DataDir: t.TempDir(),
		TCPPort: l.Addr().(*net.TCPAddr).Port,
	})
	if err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	if !strings.Contains(err.Error(), "already in use") {
		t.Errorf("error does not say the port is taken: %v", err)
	}
	t.Log(err)
}

func TestFindLibMissing(t *testing.T) {
	t.Setenv("JOURNEYS_LIBCHDB", "")
	if _, err := localch.FindLib(t.TempDir()); err == nil {
		t.Fatal("FindLib found a library in an empty directory")
	}
}

func start(t *testing.T, ctx context.Context, o localch.Options) *localch.Server {
	t.Helper()
	srv, err := localch.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Kill() }) // only matters when the test fails midway
	return srv
}

func stop(t *testing.T, srv *localch.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, addr string) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	return conn
}
