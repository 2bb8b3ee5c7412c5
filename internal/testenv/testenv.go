package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/journeys-analytics/journeys/internal/devbroker"
)

// CH is a test's own database on the test ClickHouse server.
type CH struct {
	Addr     string // native protocol host:port
	HTTPAddr string // HTTP host:port
	Database string // created for this test, dropped when it ends
}

const hint = "start the test servers: `make test` does it, or run " +
	"`bash scripts/test-servers.sh start && source .data/test-servers.env` (or start " +
	"`journeys clickhouse run` yourself and set JOURNEYS_TEST_CLICKHOUSE=host:native-port and " +
	"JOURNEYS_TEST_CLICKHOUSE_HTTP=host:http-port)"

// ClickHouse returns a fresh database on the server named by
// $JOURNEYS_TEST_CLICKHOUSE and $JOURNEYS_TEST_CLICKHOUSE_HTTP, and drops
// it when the test ends. A missing or unreachable server fails the test:
// integration tests must not pass by not running.
func ClickHouse(t testing.TB) CH {
	t.Helper()
	addr, httpAddr := os.Getenv("JOURNEYS_TEST_CLICKHOUSE"), os.Getenv("JOURNEYS_TEST_CLICKHOUSE_HTTP")
	if addr == "" || httpAddr == "" {
		t.Fatalf("testenv: JOURNEYS_TEST_CLICKHOUSE and JOURNEYS_TEST_CLICKHOUSE_HTTP must be set; %s", hint)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("testenv: clickhouse at %s: %v; %s", addr, err, hint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		t.Fatalf("testenv: clickhouse at %s: %v; %s", addr, err, hint)
	}
	db := "t_" + randomHex(8)
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		conn.Close()
		t.Fatalf("testenv: create database %s: %v", db, err)
	}
	// Cleanup runs after the test's context is cancelled, so it needs its own.
	t.Cleanup(func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" SYNC"); err != nil {
			t.Errorf("testenv: drop database %s: %v", db, err)
		}
	})
	return CH{Addr: addr, HTTPAddr: httpAddr, Database: db}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // cannot fail since Go 1.24: it crashes the program instead
	return hex.EncodeToString(b)
}

// Kafka starts a Kafka-protocol broker for this test alone, with topics of
// the given partition count, and returns its bootstrap addresses. The broker
// closes when the test ends.
func Kafka(t testing.TB, partitions int, topics ...string) []string {
	t.Helper()
	b, err := devbroker.Start(devbroker.Options{
		Partitions: partitions,
		Topics:     topics,
		// The broker's warnings go to stderr, not t.Log: it can still log
		// while shutting down, after the test has finished.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).
			With("test", t.Name()),
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}
