package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/internal/testenv"
)

// TestReadyz checks the readiness probe against real servers: ready with
// Kafka, the topic, ClickHouse and every migration in place; not ready, and
// saying why, when the topic is missing or a migration is not recorded.
func TestReadyz(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers := testenv.Kafka(t, 1, "ready.events", "ready.dlq")
	ch := testenv.ClickHouse(t)

	newCfg := func(topic string) *config.Config {
		cfg := config.Default()
		cfg.Kafka.Brokers, cfg.Kafka.Topic, cfg.Kafka.DeadLetterTopic = brokers, topic, "ready.dlq"
		cfg.ClickHouse.Addr, cfg.ClickHouse.Database = []string{ch.Addr}, ch.Database
		cfg.JourneyMap = "../../deploy/journey-map.yaml"
		return cfg
	}
	probe := func(p *pipeline) (int, string) {
		rec := httptest.NewRecorder()
		p.handler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}

	p, err := newPipeline(ctx, newCfg("ready.events"), testLogger(t), newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer p.store.Close()
	if code, body := probe(p); code != http.StatusOK {
		t.Fatalf("/readyz = %d %q, want 200", code, body)
	}

	missing, err := newPipeline(ctx, newCfg("no.such.topic"), testLogger(t), newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer missing.store.Close()
	if code, body := probe(missing); code != http.StatusServiceUnavailable || !strings.Contains(body, "kafka") {
		t.Errorf("/readyz with a missing topic = %d %q, want 503 naming kafka", code, body)
	}

	// A migration the build knows but the database does not record, as when
	// an older replica's migrations ran but not this build's.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "DELETE FROM "+ch.Database+".schema_migrations WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	if code, body := probe(p); code != http.StatusServiceUnavailable || !strings.Contains(body, "0001_events.sql") {
		t.Errorf("/readyz with migration 0001 unrecorded = %d %q, want 503 naming it", code, body)
	}
}
