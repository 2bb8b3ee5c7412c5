package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/journeys-analytics/journeys/config"
)

// app is what every subcommand shares: where to print and how to read the
// environment, so tests can run commands in-process.
type app struct {
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
}

func newRootCmd(stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr, lookupEnv: lookupEnv}
	root := &cobra.Command{
		Use:   "journeys",
		Short: "Persona-centric customer-journey analytics from a Kafka event stream",
		Long: `journeys consumes customer-interaction events from Kafka, validates them against a
versioned schema (bad ones go to a dead-letter topic with their reason), tags each
event with its journey stage, touchpoint and the customer's persona from a journey
map file, and writes events and aggregates to ClickHouse: stage reach, conversion
and drop-off per journey × persona × day, time-to-convert and funnels.

Start here:
  journeys demo                      run everything on this machine with generated data
  journeys check-map FILE            validate a journey map
  journeys run --config FILE         run the collector against your Kafka and ClickHouse
  journeys migrate --config FILE     create or upgrade the ClickHouse tables and views

Configuration: a YAML file (--config), JOURNEYS_* environment variables
(e.g. JOURNEYS_KAFKA_BROKERS=a:9092,b:9092) and flags; flags win over the
environment, which wins over the file. See config/journeys.example.yaml.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		a.newRunCmd(),
		a.newMigrateCmd(),
		a.newDemoCmd(),
		a.newCheckMapCmd(),
		a.newConfigCmd(),
		a.newServeCmd(),
		a.newReportCmd(),
		a.newPersonasCmd(),
		newClickHouseCmd(),
		newBrokerCmd(),
		a.newBenchCmd(),
		a.newForgetCmd(),
	)
	return root
}

// loadConfig loads and validates the configuration for a command whose flags
// were registered with config.RegisterFlags.
func (a *app) loadConfig(fs *pflag.FlagSet) (*config.Config, error) {
	cfg, err := config.Load(fs, a.lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
