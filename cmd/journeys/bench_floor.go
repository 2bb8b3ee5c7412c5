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

	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/ingest"
)

// newBenchFloorCmd is the floor of `journeys bench`: the least a Kafka to
// ClickHouse loader can do. It consumes with a kafka-go group reader, inserts
// each message's raw value with its partition and offset in batches of the
// collector's default size, and commits after each insert. No validation,
// enrichment, state or deduplication tokens.
func newBenchFloorCmd() *cobra.Command {
	var (
		brokers, topic, group, chAddr, database string
		compression                             string
		batchRows                               int
		batchWait                               time.Duration
	)
	def := config.Default()
	cmd := &cobra.Command{
		Use:    "floor",
		Short:  "Minimal consumer for the bench floor (prints ready, starts on a line on stdin)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			method := map[string]clickhouse.CompressionMethod{
				"lz4": clickhouse.CompressionLZ4, "zstd": clickhouse.CompressionZSTD, "none": clickhouse.CompressionNone,
			}
			m, ok := method[compression]
			if !ok {
				return fmt.Errorf("floor: compression %q: want lz4, zstd or none", compression)
			}
			conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Protocol: clickhouse.Native,
				Compression: &clickhouse.Compression{Method: m}})
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
				MinBytes:      def.Kafka.MinBytes,
				MaxBytes:      def.Kafka.MaxBytes,
				MaxWait:       def.Kafka.MaxWait,
				QueueCapacity: def.Kafka.QueueCapacity,
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
				fctx, cancel := context.WithTimeout(ctx, batchWait)
				for len(raws) < batchRows {
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
	f.StringVar(&compression, "compression", def.ClickHouse.Compression, "compression of inserts: lz4, zstd or none, as the collector's clickhouse.compression")
	f.IntVar(&batchRows, "batch-rows", def.Batch.MaxRows, "rows per insert")
	f.DurationVar(&batchWait, "batch-wait", def.Batch.MaxWait, "longest a batch waits to fill")
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
