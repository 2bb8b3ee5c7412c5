package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/collector"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/internal/retry"
	"github.com/journeys-analytics/journeys/schemas"
	"github.com/journeys-analytics/journeys/web"
)

// pipeline is one collector process's parts, built in dependency order.
type pipeline struct {
	cfg      *config.Config
	log      *slog.Logger
	reg      *prometheus.Registry
	jm       *enrich.Map
	store    *aggregate.Store
	coll     *collector.Collector
	consumer *ingest.Consumer
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

func aggregateConfig(c *config.Config) aggregate.Config {
	return aggregate.Config{
		Addrs:         c.ClickHouse.Addr,
		Protocol:      c.ClickHouse.Protocol,
		Compression:   c.ClickHouse.Compression,
		Database:      c.ClickHouse.Database,
		Username:      c.ClickHouse.Username,
		Password:      c.ClickHouse.Password,
		Secure:        c.ClickHouse.Secure,
		DialTimeout:   c.ClickHouse.DialTimeout,
		MaxOpenConns:  c.ClickHouse.MaxOpenConns,
		BatchRows:     c.Batch.MaxRows,
		DedupWindow:   c.ClickHouse.DedupWindow,
		Cluster:       c.ClickHouse.Cluster,
		EventsTTLDays: c.ClickHouse.EventsTTLDays,
		AnalystRole:   c.ClickHouse.AnalystRole,
		TLS:           tlsFiles(c.ClickHouse.TLS),
	}
}

func schemaLimits(c *config.Config) schemas.Limits {
	return schemas.Limits{
		MaxEventBytes:   c.Schema.MaxEventBytes,
		MaxDepth:        c.Schema.MaxDepth,
		FutureTolerance: c.Schema.FutureTolerance,
		ClampFuture:     c.Schema.FuturePolicy == "clamp",
	}
}

func ingestConfig(c *config.Config) ingest.Config {
	return ingest.Config{
		Brokers:           c.Kafka.Brokers,
		Topic:             c.Kafka.Topic,
		GroupID:           c.Kafka.GroupID,
		DeadLetterTopic:   c.Kafka.DeadLetterTopic,
		ClientID:          c.Kafka.ClientID,
		MinBytes:          c.Kafka.MinBytes,
		MaxBytes:          c.Kafka.MaxBytes,
		MaxWait:           c.Kafka.MaxWait,
		QueueCapacity:     c.Kafka.QueueCapacity,
		SessionTimeout:    c.Kafka.SessionTimeout,
		RebalanceTimeout:  c.Kafka.RebalanceTimeout,
		HeartbeatInterval: c.Kafka.HeartbeatInterval,
		StartAtLatest:     c.Kafka.StartOffset == "latest",
		BatchMaxRows:      c.Batch.MaxRows,
		BatchMaxBytes:     c.Batch.MaxBytes,
		BatchMaxWait:      c.Batch.MaxWait,
		RetryInitial:      c.Batch.RetryInitial,
		RetryMax:          c.Batch.RetryMax,
		DrainTimeout:      c.Shutdown.Timeout,
	}
}

func churnConfig(c *config.Config, clock func() time.Time) collector.ChurnConfig {
	ch := c.Churn
	return collector.ChurnConfig{
		SweepInterval:    ch.SweepInterval,
		KPIWindow:        ch.KPIWindow,
		ShortHalfLife:    ch.ShortHalfLife,
		LongHalfLife:     ch.LongHalfLife,
		NegativeHalfLife: ch.NegativeHalfLife,
		PriorGap:         ch.PriorGap,
		PriorStageTime:   ch.PriorStageTime,
		InactivityScale:  ch.InactivityScale,
		StallScale:       ch.StallScale,
		Weights: collector.ChurnWeights{
			Inactivity: ch.Weights.Inactivity,
			Decline:    ch.Weights.Decline,
			Stall:      ch.Weights.Stall,
			Negative:   ch.Weights.Negative,
		},
		MediumBand:    ch.MediumBand,
		HighBand:      ch.HighBand,
		MaxCustomers:  ch.MaxCustomersPerPartition,
		WriteMinDelta: ch.WriteMinDelta,
		Clock:         clock,
	}
}

// newPipeline loads the journey map, connects to ClickHouse, applies pending
// migrations and prepares the consumer. Nothing is consumed until run.
func newPipeline(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *prometheus.Registry) (*pipeline, error) {
	return newPipelineAt(ctx, cfg, log, reg, nil)
}

// newPipelineAt is newPipeline with the churn model's clock: nil is the
// wall clock; the demo, whose events are from a fixed past period, passes
// the end of that period.
func newPipelineAt(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *prometheus.Registry, clock func() time.Time) (*pipeline, error) {
	jm, err := enrich.Load(cfg.JourneyMap)
	if err != nil {
		return nil, fmt.Errorf("journey map %s:\n%w", cfg.JourneyMap, err)
	}
	validator, err := schemas.NewValidator(schemaLimits(cfg))
	if err != nil {
		return nil, err
	}
	store, err := aggregate.Open(ctx, aggregateConfig(cfg), log, reg)
	if err != nil {
		return nil, err
	}
	applied, err := store.Migrate(ctx)
	if err != nil {
		store.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("applied ClickHouse migrations", "migrations", applied)
	}
	pseudo, err := pseudonymizer(cfg.Privacy.Pseudonymize)
	if err != nil {
		store.Close()
		return nil, err
	}
	coll := collector.New(collector.Config{
		DedupIDs: cfg.Batch.DedupIDs,
		Retry:    retry.Policy{Initial: cfg.Batch.RetryInitial, Max: cfg.Batch.RetryMax},
		Churn:    churnConfig(cfg, clock),
		// Always on: an empty list costs one small query per refresh.
		Suppressions:       store,
		SuppressionRefresh: cfg.Privacy.SuppressionRefresh,
		Pseudonymizer:      pseudo,
	}, log, reg, store, jm)
	icfg := ingestConfig(cfg)
	if icfg.Dialer, err = kafkaDialer(cfg.Kafka); err != nil {
		store.Close()
		return nil, err
	}
	consumer, err := ingest.New(icfg, log, reg, validator, coll)
	if err != nil {
		store.Close()
		return nil, err
	}
	log.Info("journey map loaded", "version", jm.Version(), "journeys", len(jm.Journeys()), "personas", len(jm.Personas()))
	return &pipeline{cfg: cfg, log: log, reg: reg, jm: jm, store: store, coll: coll, consumer: consumer}, nil
}

// run consumes until ctx ends, serving /metrics meanwhile. Shutdown follows
// the data: the consumer drains and commits first, ClickHouse closes after
// it, and the HTTP server stops last so the final metrics can be scraped.
func (p *pipeline) run(ctx context.Context) error {
	defer p.store.Close()
	var srv *http.Server
	if p.cfg.HTTP.Listen != "" {
		if err := checkWebConfig(p.cfg.HTTP.WebConfigFile); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", p.cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http: listen %s: %w", p.cfg.HTTP.Listen, err)
		}
		srv = &http.Server{Handler: p.handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := serveHTTP(ln, srv, p.cfg.HTTP.WebConfigFile, p.log); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.log.Error("http server", "err", err)
			}
		}()
		p.log.Info("serving metrics", "addr", ln.Addr().String())
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.consumer.Run(gctx) })
	err := g.Wait()
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}
	return err
}

func (p *pipeline) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := p.ready(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	// The journey map web view; the more specific routes above win.
	if h, err := web.New(web.Config{}, p.log, p.reg, p.store, p.jm); err != nil {
		p.log.Error("journey map web view disabled", "err", err)
	} else {
		mux.Handle("/", h)
	}
	return mux
}

// ready is /readyz: Kafka answers and has the topic, ClickHouse answers, and
// every migration this build knows is applied. A replica that fails it keeps
// consuming what it owns (readiness gates traffic, and a collector serves
// none but metrics); it tells a rollout to stop and an operator where to look.
func (p *pipeline) ready(ctx context.Context) error {
	if err := p.consumer.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if err := p.store.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	pending, err := p.store.PendingMigrations(ctx)
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("clickhouse: migrations not applied: %v", pending)
	}
	return nil
}
