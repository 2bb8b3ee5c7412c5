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
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/web"
)

func (a *app) newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the journey map web view from ClickHouse",
		Long: `serve answers HTTP with the journey map of every journey of the journey map:
stages as columns, personas as swimlanes, each cell with the customers who
reached the stage, the conversion to a later stage, the drop-off and the median
time to convert, read live from ClickHouse, and the churn-risk counts of each
persona with its at-risk customers. It needs only ClickHouse and the journey
map file (no Kafka), reads nothing but the analyst views and creates nothing:
run it with a read-only user. The collector (run) serves the same pages on its
http.listen address.

Open http://127.0.0.1:8080/ (see --listen) in a browser.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			if err := cfg.RequireClickHouse(); err != nil {
				return err
			}
			listen, err := cmd.Flags().GetString("listen")
			if err != nil {
				return err
			}
			log := newLogger(a.stderr, cfg.Log)
			return a.serveWeb(cmd.Context(), cfg, log, listen)
		},
	}
	config.RegisterFlags(cmd.Flags())
	cmd.Flags().String("listen", "127.0.0.1:8080", "host:port of the web view")
	return cmd
}

// serveWeb serves the web view, /metrics and /healthz until ctx ends.
func (a *app) serveWeb(ctx context.Context, cfg *config.Config, log *slog.Logger, listen string) error {
	jm, err := enrich.Load(cfg.JourneyMap)
	if err != nil {
		return fmt.Errorf("journey map %s:\n%w", cfg.JourneyMap, err)
	}
	reg := newRegistry()
	store, err := aggregate.Open(ctx, aggregateConfig(cfg), log, reg)
	if err != nil {
		return err
	}
	defer store.Close()
	h, err := web.New(web.Config{}, log, reg, store, jm)
	if err != nil {
		return err
	}
	// The pages list customer ids: http.web_config_file adds TLS and basic
	// auth here as on the collector's server.
	if err := checkWebConfig(cfg.HTTP.WebConfigFile); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("web: listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: webMux(h, reg), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(a.stdout, "journey map: http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- serveHTTP(ln, srv, cfg.HTTP.WebConfigFile, log) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: %w", err)
	}
	return nil
}

func webMux(h http.Handler, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", h)
	return mux
}
