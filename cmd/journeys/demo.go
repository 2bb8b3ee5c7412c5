package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/internal/devbroker"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/localch"
)

const demoMaxEventBytes = 64 << 10

type demoOptions struct {
	customers  int
	seed       int64
	days       int
	partitions int
	dataDir    string
	keep       bool
}

func (a *app) newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on this machine with generated journeys and print the report",
		Long: `demo needs nothing but this binary and the ClickHouse library fetched by
'make setup'. It starts an embedded Kafka-protocol broker and, unless
clickhouse.addr is configured, a local ClickHouse server (data in --data-dir);
generates a seeded stream of customer journeys for several personas (with
drop-offs, duplicates, out-of-order and 1% invalid events); runs the real
collector over it through Kafka into ClickHouse; and prints, per journey and
persona, the customers reaching each stage, conversion and drop-off, read back
from ClickHouse's views.

With --keep it then keeps serving: query ClickHouse and scrape /metrics, and
stop with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			// The report is the demo's output; progress logs would bury it.
			if _, set := a.lookupEnv(config.EnvName("log.level")); !set && !cmd.Flags().Changed(config.FlagName("log.level")) {
				cfg.Log.Level = "warn"
			}
			// The generator's oversize events are just over the limit; at the
			// 1 MiB default they would also exceed the broker's own message
			// limit and never reach journeys.
			if cfg.Schema.MaxEventBytes > demoMaxEventBytes {
				cfg.Schema.MaxEventBytes = demoMaxEventBytes
			}
			return a.demo(cmd.Context(), cfg, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.customers, "customers", 5000, "synthetic customers to generate")
	f.Int64Var(&o.seed, "seed", 1, "generator seed: the same seed gives the same events and the same report")
	f.IntVar(&o.days, "days", 14, "days of activity to spread the journeys over")
	f.IntVar(&o.partitions, "partitions", 6, "partitions of the embedded events topic")
	f.StringVar(&o.dataDir, "data-dir", ".data/demo", "where the embedded ClickHouse keeps its data (wiped at start)")
	f.BoolVar(&o.keep, "keep", false, "keep the broker, ClickHouse and /metrics running after the report until Ctrl-C")
	config.RegisterFlags(f)
	return cmd
}

func (a *app) demo(ctx context.Context, cfg *config.Config, o demoOptions) error {
	log := newLogger(a.stderr, cfg.Log)
	out := a.stdout
	started := time.Now()

	broker, err := devbroker.Start(devbroker.Options{
		Addr:       "127.0.0.1:0",
		Partitions: o.partitions,
		Topics:     []string{cfg.Kafka.Topic, cfg.Kafka.DeadLetterTopic},
		Logger:     log,
	})
	if err != nil {
		return fmt.Errorf("demo: start broker: %w", err)
	}
	defer broker.Close()
	cfg.Kafka.Brokers = broker.Addrs()
	fmt.Fprintf(out, "▸ Kafka-protocol broker on %v (topic %s, %d partitions)\n", cfg.Kafka.Brokers, cfg.Kafka.Topic, o.partitions)

	chHTTP := "<your ClickHouse HTTP address>"
	if len(cfg.ClickHouse.Addr) == 0 {
		srv, err := a.startLocalClickHouse(ctx, o.dataDir, log)
		if err != nil {
			return err
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if err := srv.Stop(stopCtx); err != nil {
				log.Warn("stopping local ClickHouse", "err", err)
			}
		}()
		cfg.ClickHouse.Addr = []string{srv.NativeAddr()}
		chHTTP = srv.HTTPAddr()
		cfg.ClickHouse.Protocol = "native"
		fmt.Fprintf(out, "▸ ClickHouse on %s (native) and http://%s (HTTP), data in %s\n", srv.NativeAddr(), srv.HTTPAddr(), o.dataDir)
	} else {
		fmt.Fprintf(out, "▸ ClickHouse at %v, database %s\n", cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
	}

	reg := newRegistry()
	// The generated events end o.days after gen's start: churn is scored as
	// of then, or every demo customer would look long gone by today.
	asOf := gen.DefaultConfig().Start.AddDate(0, 0, o.days)
	p, err := newPipelineAt(ctx, cfg, log, reg, func() time.Time { return asOf })
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "▸ journey map %s: %d journeys, %d personas\n", p.jm.Version(), len(p.jm.Journeys()), len(p.jm.Personas()))

	gcfg := gen.DefaultConfig()
	gcfg.Seed, gcfg.Customers, gcfg.Days = o.seed, o.customers, o.days
	gcfg.MaxEventBytes = cfg.Schema.MaxEventBytes
	g := gen.New(gcfg)
	produced, err := produce(ctx, cfg, g, out)
	if err != nil {
		return err
	}
	truth := g.Truth()
	fmt.Fprintf(out, "▸ produced %d messages for %d customers (%d invalid, %d duplicate deliveries)\n",
		produced, truth.Customers, sumInvalid(truth.Invalid), truth.Duplicates)

	runCtx, stopPipeline := context.WithCancel(ctx)
	defer stopPipeline()
	done := make(chan error, 1)
	go func() { done <- p.run(runCtx) }()
	if cfg.HTTP.Listen != "" {
		fmt.Fprintf(out, "▸ collector running; metrics at http://%s/metrics\n", cfg.HTTP.Listen)
	}
	err = waitConsumed(ctx, cfg, out)
	if err == nil {
		err = p.coll.Sweep(ctx) // score now rather than at the next tick
	}
	if err != nil {
		stopPipeline()
		<-done
		return err
	}

	// A second store handle for the report: the pipeline's closes with it.
	store, err := aggregate.Open(ctx, aggregateConfig(cfg), log, newRegistry())
	if err != nil {
		return err
	}
	defer store.Close()
	if err := printReport(ctx, out, store, p.jm); err != nil {
		return err
	}
	if err := printChurn(ctx, out, store, p.jm, asOf); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndone in %s.\n", time.Since(started).Round(100*time.Millisecond))
	if !o.keep {
		fmt.Fprintln(out, "Run `bin/journeys demo --keep` to keep ClickHouse and /metrics up afterwards and query the views")
		fmt.Fprintln(out, "(README, 'ClickHouse tables and views').")
	}
	if o.keep {
		fmt.Fprintf(out, "Query it, e.g.:\n  curl http://%s/ --data-binary 'SELECT * FROM %s.stage_conversion_daily LIMIT 10'\n", chHTTP, cfg.ClickHouse.Database)
		fmt.Fprintln(out, "keeping everything running; Ctrl-C to stop")
		<-ctx.Done()
	}
	stopPipeline()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (a *app) startLocalClickHouse(ctx context.Context, dataDir string, log *slog.Logger) (*localch.Server, error) {
	lib, err := localch.FindLib(".cache")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	dir, err := filepath.Abs(filepath.Join(dataDir, "clickhouse"))
	if err != nil {
		return nil, err
	}
	// The demo's numbers must be its own: a fresh server, not last run's.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("demo: clean %s: %w", dir, err)
	}
	return localch.Start(ctx, localch.Options{
		Exe:          exe,
		ExeArgs:      []string{exe, "clickhouse", "child"},
		LibPath:      lib,
		DataDir:      dir,
		Logger:       log,
		StartTimeout: 60 * time.Second,
	})
}

// produce writes the generated stream to the events topic.
func produce(ctx context.Context, cfg *config.Config, g *gen.Generator, out io.Writer) (int, error) {
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Kafka.Brokers...),
		Topic:        cfg.Kafka.Topic,
		Balancer:     &kafka.Hash{}, // same key, same partition: a customer's events stay in order
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchTimeout: 5 * time.Millisecond,
	}
	defer w.Close()
	buf := make([]kafka.Message, 0, 5000)
	n := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, buf...); err != nil {
			return fmt.Errorf("demo: produce: %w", err)
		}
		n += len(buf)
		buf = buf[:0]
		return nil
	}
	last := time.Now()
	for {
		m, ok := g.Next()
		if !ok {
			break
		}
		buf = append(buf, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
		if len(buf) == cap(buf) {
			if err := flush(); err != nil {
				return n, err
			}
			if time.Since(last) > 2*time.Second {
				fmt.Fprintf(out, "  … produced %d\n", n)
				last = time.Now()
			}
		}
	}
	return n, flush()
}

// waitConsumed polls the group's committed offsets until every partition of
// the events topic is committed up to its end, printing progress.
func waitConsumed(ctx context.Context, cfg *config.Config, out io.Writer) error {
	client := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Timeout: 10 * time.Second}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastPrint := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		committed, end, err := groupProgress(ctx, client, cfg.Kafka.Topic, cfg.Kafka.GroupID)
		if err != nil {
			continue // the group may still be forming
		}
		if time.Since(lastPrint) > 2*time.Second {
			fmt.Fprintf(out, "  … committed %d of %d messages\n", committed, end)
			lastPrint = time.Now()
		}
		if committed == end {
			fmt.Fprintf(out, "▸ all %d messages processed and committed\n", end)
			return nil
		}
	}
}

// groupProgress sums committed and end offsets over the topic's partitions.
func groupProgress(ctx context.Context, client *kafka.Client, topic, group string) (committed, end int64, err error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, 0, err
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return 0, 0, fmt.Errorf("topic %s not found", topic)
	}
	var offsetReqs []kafka.OffsetRequest
	var parts []int
	for _, p := range meta.Topics[0].Partitions {
		offsetReqs = append(offsetReqs, kafka.LastOffsetOf(p.ID))
		parts = append(parts, p.ID)
	}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: offsetReqs}})
	if err != nil {
		return 0, 0, err
	}
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return 0, 0, po.Error
		}
		end += po.LastOffset
	}
	of, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return 0, 0, err
	}
	for _, po := range of.Topics[topic] {
		if po.CommittedOffset > 0 {
			committed += po.CommittedOffset
		}
	}
	return committed, end, nil
}

func sumInvalid(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
