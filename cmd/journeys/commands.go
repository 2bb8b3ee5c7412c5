package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/internal/retry"
)

func (a *app) newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the collector: consume Kafka, enrich, write to ClickHouse",
		Long: `run joins the consumer group and processes the events topic until SIGINT or
SIGTERM, then stops fetching, writes and commits the batches in flight (within
shutdown.timeout) and leaves the group. Start more processes with the same
kafka.group_id to scale out: partitions are shared among them.

Offsets are committed only after ClickHouse has the rows. When ClickHouse is
down the collector pauses and retries; nothing is dropped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			if err := cfg.RequireClickHouse(); err != nil {
				return err
			}
			log := newLogger(a.stderr, cfg.Log)
			if err := waitForClickHouse(cmd.Context(), cfg, log); err != nil {
				return err
			}
			p, err := newPipeline(cmd.Context(), cfg, log, newRegistry())
			if err != nil {
				return err
			}
			return p.run(cmd.Context())
		},
	}
	config.RegisterFlags(cmd.Flags())
	return cmd
}

func (a *app) newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the ClickHouse database, tables and views",
		Long: `migrate applies the embedded migrations that are not yet recorded in
<database>.schema_migrations, in order. It is safe to run any number of times;
run also does it at start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			if err := cfg.RequireClickHouse(); err != nil {
				return err
			}
			log := newLogger(a.stderr, cfg.Log)
			store, err := aggregate.Open(cmd.Context(), aggregateConfig(cfg), log, newRegistry())
			if err != nil {
				return err
			}
			defer store.Close()
			applied, err := store.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(a.stdout, "schema is up to date")
			}
			for _, m := range applied {
				fmt.Fprintln(a.stdout, "applied", m)
			}
			return nil
		},
	}
	config.RegisterFlags(cmd.Flags())
	return cmd
}

func (a *app) newCheckMapCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-map FILE",
		Short: "Validate a journey map file and summarise it",
		Long: `check-map parses and compiles a journey map exactly as the collector does at
start, and lists every problem at once (with its location), or prints a summary
of its journeys, stages, touchpoints and personas and the version that will be
stored with every event.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			jm, err := enrich.Load(args[0])
			if err != nil {
				return fmt.Errorf("%s is not a valid journey map:\n%w", args[0], err)
			}
			summary := jm.Summary()
			if !strings.HasSuffix(summary, "\n") {
				summary += "\n"
			}
			_, err = fmt.Fprint(a.stdout, summary)
			return err
		},
	}
}

func (a *app) newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration (secrets redacted)",
		Long: `config loads the configuration exactly as run does (file, JOURNEYS_* environment,
flags), validates it, and prints the result as YAML with secrets redacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			out, err := cfg.Redacted().YAML()
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
	config.RegisterFlags(cmd.Flags())
	return cmd
}

// waitForClickHouse returns once ClickHouse answers, retrying with the batch
// retry backoff: a collector restarted together with its ClickHouse, or
// started first by a supervisor, waits for it instead of exiting. Each probe
// uses its own throwaway registry, as the real store registers its metrics once.
func waitForClickHouse(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return retry.Do(ctx, retry.Policy{Initial: cfg.Batch.RetryInitial, Max: cfg.Batch.RetryMax},
		func(ctx context.Context) error {
			store, err := aggregate.Open(ctx, aggregateConfig(cfg), log, prometheus.NewRegistry())
			if err != nil {
				return err
			}
			return store.Close()
		},
		func(attempt int, err error) {
			log.Warn("ClickHouse is not reachable yet; waiting", "attempt", attempt, "err", err)
		})
}
