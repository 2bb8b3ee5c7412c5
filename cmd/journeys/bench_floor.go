package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/ingest"
)

// newBenchFloorCmd is the floor of `journeys bench`: the least a Kafka to
// ClickHouse loader can do. It consumes with a kafka-go group reader, inserts
// each message's raw value with its partition and offset in batches, and
// commits after each insert. No validation, enrichment, state or
// deduplication tokens. Its fetch sizes, batch limits and insert compression
// are the collector's: the configuration read from the same environment,
// which the bench passes on to both, so that the ratio compares the work.
func (a *app) newBenchFloorCmd() *cobra.Command {
	var brokers, topic, group, chAddr, database string
	cmd := &cobra.Command{
		Use:    "floor",
		Short:  "Minimal consumer for the bench floor (prints ready, starts on a line on stdin)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := a.loadConfig(nil)
			if err != nil {
				return err
			}
			conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Protocol: clickhouse.Native,
				Compression: &clickhouse.Compression{Method: aggregate.CompressionMethod(cfg.ClickHouse.Compression)}})
			if err != nil {
				return err
			}
			defer conn.Close()
			table := database + ".bench_floor"
			if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database); err != nil {
				return err
			}
			if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+
				" (kafka_partition Int32, kafka_offset Int64, raw String) ENGINE = MergeTree ORDER BY (kafka_partition, kafka_offset)"); err != nil {
				return err
			}
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers:       strings.Split(brokers, ","),
				GroupID:       group,
				Topic:         topic,
				MinBytes:      cfg.Kafka.MinBytes,
				MaxBytes:      cfg.Kafka.MaxBytes,
				MaxWait:       cfg.Kafka.MaxWait,
				QueueCapacity: cfg.Kafka.QueueCapacity,
				StartOffset:   kafka.FirstOffset,
				// The collector's partition readers' connections, so that
				// the ratio compares the work, not the socket reads.
				Dialer: ingest.ReaderDialer(nil),
			})
			defer r.Close()
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			if _, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n'); err != nil {
				return err
			}
			var (
				parts []int32
				offs  []int64
				raws  []string
				last  = map[int]kafka.Message{}
			)
			settings := clickhouse.Settings{"async_insert": 0}
			insert := func() error {
				if len(raws) == 0 {
					return nil
				}
				b, err := conn.PrepareBatch(clickhouse.Context(ctx, clickhouse.WithSettings(settings)),
					"INSERT INTO "+table+" (kafka_partition, kafka_offset, raw)")
				if err != nil {
					return err
				}
				for i, col := range []any{parts, offs, raws} {
					if err := b.Column(i).Append(col); err != nil {
						return err
					}
				}
				if err := b.Send(); err != nil {
					return err
				}
				msgs := make([]kafka.Message, 0, len(last))
				for _, m := range last {
					msgs = append(msgs, m)
				}
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				if err := r.CommitMessages(cctx, msgs...); err != nil {
					return err
				}
				parts, offs, raws = parts[:0], offs[:0], raws[:0]
				clear(last)
				return nil
			}
			for {
				fctx, cancel := context.WithTimeout(ctx, cfg.Batch.MaxWait)
				for len(raws) < cfg.Batch.MaxRows {
					m, err := r.FetchMessage(fctx)
					if err != nil {
						break
					}
					parts = append(parts, int32(m.Partition))
					offs = append(offs, m.Offset)
					raws = append(raws, string(m.Value))
					last[m.Partition] = m
				}
				cancel()
				if err := insert(); err != nil {
					return err
				}
				if ctx.Err() != nil {
					return nil
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated brokers")
	f.StringVar(&topic, "topic", benchTopic, "topic")
	f.StringVar(&group, "group", benchFloorGroup, "consumer group")
	f.StringVar(&chAddr, "clickhouse-addr", "127.0.0.1:9000", "ClickHouse native host:port")
	f.StringVar(&database, "database", benchDatabase, "database (created if missing)")
	return cmd
}

// newBenchProfiledRunCmd is `journeys run` with CPU and allocation profiles
// written on exit, for `journeys bench --profile-dir`.
func (a *app) newBenchProfiledRunCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "profiled-run",
		Short:  "journeys run, writing CPU and allocation profiles to --profile-dir on exit",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--profile-dir is required")
			}
			cfg, err := a.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			if err := cfg.RequireClickHouse(); err != nil {
				return err
			}
			cpuFile, err := os.Create(filepath.Join(dir, "collector.cpu.pprof"))
			if err != nil {
				return err
			}
			defer cpuFile.Close()
			if err := pprof.StartCPUProfile(cpuFile); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			log := newLogger(a.stderr, cfg.Log)
			p, err := newPipeline(ctx, cfg, log, newRegistry())
			if err != nil {
				pprof.StopCPUProfile()
				return err
			}
			runErr := p.run(ctx)
			pprof.StopCPUProfile()
			allocs, err := os.Create(filepath.Join(dir, "collector.allocs.pprof"))
			if err != nil {
				return err
			}
			defer allocs.Close()
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(allocs, 0); err != nil {
				return err
			}
			return runErr
		},
	}
	cmd.Flags().StringVar(&dir, "profile-dir", "", "directory for collector.cpu.pprof and collector.allocs.pprof")
	config.RegisterFlags(cmd.Flags())
	return cmd
}
