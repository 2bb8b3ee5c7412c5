package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/internal/localch"
)

// newClickHouseCmd runs a real ClickHouse server from libchdb.so: `run` for
// people and scripts, `child` for the process that `run` (and `demo`)
// re-executes, because the library serves only from the process that loads it.
func newClickHouseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clickhouse",
		Short: "Run a local ClickHouse server (for tests and demos) from the library fetched by `make setup`",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newClickHouseRunCmd(), newClickHouseChildCmd())
	return cmd
}

func newClickHouseRunCmd() *cobra.Command {
	var (
		dataDir       string
		lib, cacheDir string
		tcpPort       int
		httpPort      int
		startTimeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run ClickHouse in the foreground until SIGINT or SIGTERM",
		Long: `Runs ClickHouse 26.7 on 127.0.0.1 with its data, config and logs in --data,
prints one line "clickhouse native=HOST:PORT http=HOST:PORT pid=PID data=DIR"
once it answers, and stops it cleanly on SIGINT or SIGTERM. Port 0 picks a free
port. The library is --lib, else $JOURNEYS_LIBCHDB, else CACHE/chdb/libchdb.so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if lib == "" {
				var err error
				if lib, err = localch.FindLib(cacheDir); err != nil {
					return err
				}
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("clickhouse: %w", err)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv, err := localch.Start(ctx, localch.Options{
				Exe:          exe,
				ExeArgs:      []string{exe, "clickhouse", "child"},
				LibPath:      lib,
				DataDir:      dataDir,
				TCPPort:      tcpPort,
				HTTPPort:     httpPort,
				Logger:       log,
				StartTimeout: startTimeout,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "clickhouse native=%s http=%s pid=%d data=%s\n",
				srv.NativeAddr(), srv.HTTPAddr(), srv.PID(), srv.DataDir())
			select {
			case <-ctx.Done():
			case <-srv.Done():
				return fmt.Errorf("clickhouse: server exited on its own: %w", errors.Join(srv.Wait(), srv.Stop(context.Background())))
			}
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			return srv.Stop(stopCtx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", ".data/clickhouse", "directory for data, config and logs (kept across runs)")
	f.IntVar(&tcpPort, "tcp-port", 9000, "native protocol port on 127.0.0.1 (0 picks a free one)")
	f.IntVar(&httpPort, "http-port", 8123, "HTTP port on 127.0.0.1 (0 picks a free one)")
	f.StringVar(&lib, "lib", "", "path to libchdb.so (default: $JOURNEYS_LIBCHDB or CACHE/chdb/libchdb.so)")
	f.StringVar(&cacheDir, "cache-dir", defaultCacheDir(), "where scripts/fetch-clickhouse.sh put the library ($JOURNEYS_CACHE)")
	f.DurationVar(&startTimeout, "start-timeout", 2*time.Minute, "how long to wait for the server to answer")
	return cmd
}

func newClickHouseChildCmd() *cobra.Command {
	var lib, path, configFile string
	cmd := &cobra.Command{
		Use:    "child",
		Short:  "Serve ClickHouse in this process (started by `clickhouse run` and `demo`)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if lib == "" || path == "" || configFile == "" {
				return errors.New("clickhouse child: --lib, --path and --config-file are required")
			}
			return localch.ServeChild(lib, []string{"--path=" + path, "--config-file=" + configFile})
		},
	}
	f := cmd.Flags()
	f.StringVar(&lib, "lib", "", "path to libchdb.so")
	f.StringVar(&path, "path", "", "ClickHouse data path")
	f.StringVar(&configFile, "config-file", "", "ClickHouse server config")
	return cmd
}

// defaultCacheDir mirrors scripts/fetch-clickhouse.sh, which runs from the
// repository root.
func defaultCacheDir() string {
	if d := os.Getenv("JOURNEYS_CACHE"); d != "" {
		return d
	}
	return ".cache"
}
