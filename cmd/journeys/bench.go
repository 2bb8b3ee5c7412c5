package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/collector"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/internal/devbroker"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/schemas"
)

// benchMaxEventBytes is schema.max_event_bytes and the generator's limit in
// the bench: the generator's too_large defects are just over it, and 8 KiB
// keeps them small enough not to dominate the bytes moved.
const benchMaxEventBytes = 8 << 10

const (
	benchTopic      = "bench.events"
	benchDLQ        = "bench.events.dlq"
	benchGroup      = "journeys-bench"
	benchFloorGroup = "journeys-bench-floor"
	benchDatabase   = "journeys_bench"
	benchPoll       = 100 * time.Millisecond
)

type benchOptions struct {
	quick          bool
	events         int
	partitions     int
	rate           int
	steady         time.Duration
	seed           int64
	dataDir        string
	chAddr         string
	journeyMap     string
	profileDir     string
	stateCustomers int
	skipFloor      bool
}

func (a *app) newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the collector: events per CPU-second, latency, state size, and the floor",
		Long: `bench runs the real pipeline on this machine and prints what it costs:

  1. starts an in-memory Kafka-protocol broker (in this process) and, unless
     --clickhouse-addr is given, a local ClickHouse server (its own process);
  2. starts the collector as its own process ("journeys run"), so that its CPU
     time (user + sys, read from /proc) is the collector's alone;
  3. latency: produces generated events at a steady --rate for --steady, each
     stamped with its produce time (the Kafka record time, stored as
     received_at), and polls ClickHouse every 100ms for newly visible rows:
     ingest-to-queryable = time seen - produce time (so up to one poll
     interval more than the truth). A --rate above what the machine can
     sustain (compare the wall events/s) measures a growing backlog instead;
  4. throughput: with the collector stopped (SIGSTOP), produces a backlog of
     --events generated events, then resumes it and measures CPU and wall time
     until every offset is committed; valid events = rows that landed;
  5. the floor: a minimal consumer ("journeys bench floor": kafka-go group
     reader, raw value inserted into a 3-column table, with the collector's
     fetch, batch and compression settings) consumes the same topic,
     measured the same way;
  6. customer state: bytes of heap per tracked customer (identity link,
     persona and churn state) at --state-customers.

Broker, ClickHouse and the collector share this machine's cores: wall-clock
figures depend on the machine, CPU-second figures much less. The last lines
are key=value figures for scripts. Collector settings can be tuned with the
usual JOURNEYS_* environment variables (e.g. JOURNEYS_BATCH_MAX_ROWS).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.quick {
				if !cmd.Flags().Changed("events") {
					o.events = 100_000
				}
				if !cmd.Flags().Changed("steady") {
					o.steady = 3 * time.Second
				}
				if !cmd.Flags().Changed("state-customers") {
					o.stateCustomers = 200_000
				}
			}
			return a.bench(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "a smaller run that finishes in under a minute")
	f.IntVar(&o.events, "events", 1_000_000, "events in the throughput backlog")
	f.IntVar(&o.partitions, "partitions", 6, "partitions of the events topic")
	f.IntVar(&o.rate, "rate", 20_000, "events per second produced during the latency phase")
	f.DurationVar(&o.steady, "steady", 10*time.Second, "how long the latency phase produces at --rate")
	f.Int64Var(&o.seed, "seed", 1, "generator seed")
	f.StringVar(&o.dataDir, "data-dir", ".data/bench", "where the local ClickHouse keeps its data (wiped at start)")
	f.StringVar(&o.chAddr, "clickhouse-addr", "", "use this ClickHouse (native host:port) instead of starting one; database "+benchDatabase+" is dropped and recreated")
	f.StringVar(&o.journeyMap, "journey-map", "deploy/journey-map.yaml", "journey map the collector loads")
	f.StringVar(&o.profileDir, "profile-dir", "", "if set, write the collector's CPU and allocation profiles there (collector.cpu.pprof, collector.allocs.pprof)")
	f.IntVar(&o.stateCustomers, "state-customers", 1_000_000, "tracked customers for the churn-state measurement")
	f.BoolVar(&o.skipFloor, "skip-floor", false, "do not run the floor")
	cmd.AddCommand(a.newBenchFloorCmd(), a.newBenchProfiledRunCmd())
	return cmd
}

// benchResult is one consumer's run over the backlog.
type benchResult struct {
	rows    int64 // rows that landed
	cpu     time.Duration
	sys     time.Duration // the kernel's part of cpu
	wall    time.Duration
	peakRSS int64
	// faults are minor page faults: on a VM whose host backs guest memory
	// lazily, each can cost microseconds, so fresh memory shows up here.
	faults int64
}

// perCPUSecond and perWallSecond are 0 for a consumer that did not run.
func (r benchResult) perCPUSecond() float64 {
	if r.cpu <= 0 {
		return 0
	}
	return float64(r.rows) / r.cpu.Seconds()
}

func perThousand(n, rows int64) float64 {
	if rows <= 0 {
		return 0
	}
	return float64(n) * 1000 / float64(rows)
}

func (r benchResult) perWallSecond() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.rows) / r.wall.Seconds()
}

func (a *app) bench(ctx context.Context, o benchOptions) error {
	out := a.stdout
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	journeyMap, err := filepath.Abs(o.journeyMap)
	if err != nil {
		return err
	}
	jm, err := enrich.Load(journeyMap)
	if err != nil {
		return fmt.Errorf("bench: journey map %s:\n%w", journeyMap, err)
	}

	broker, err := devbroker.Start(devbroker.Options{
		Partitions:     o.partitions,
		Topics:         []string{benchTopic, benchDLQ},
		RetentionBytes: 4 << 30, // the floor re-reads everything
		Logger:         log,
	})
	if err != nil {
		return fmt.Errorf("bench: start broker: %w", err)
	}
	defer broker.Close()
	brokers := broker.Addrs()

	chAddr := o.chAddr
	if chAddr == "" {
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
		chAddr = srv.NativeAddr()
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Protocol: clickhouse.Native})
	if err != nil {
		return fmt.Errorf("bench: clickhouse: %w", err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+benchDatabase+" SYNC"); err != nil {
		return fmt.Errorf("bench: clickhouse %s: %w", chAddr, err)
	}
	fmt.Fprintf(out, "▸ broker %v (%d partitions, in this process), ClickHouse %s, journey map %s\n",
		brokers, o.partitions, chAddr, jm.Version())

	// The collector, as its own process.
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"run"}
	if o.profileDir != "" {
		dir, err := filepath.Abs(o.profileDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		args = []string{"bench", "profiled-run", "--profile-dir", dir}
	}
	coll := exec.CommandContext(ctx, exe, args...)
	coll.Env = append(os.Environ(),
		"JOURNEYS_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"JOURNEYS_KAFKA_TOPIC="+benchTopic,
		"JOURNEYS_KAFKA_DEAD_LETTER_TOPIC="+benchDLQ,
		"JOURNEYS_KAFKA_GROUP_ID="+benchGroup,
		// The collector is stopped (SIGSTOP) while the backlog is produced;
		// it must still be a member when it resumes.
		"JOURNEYS_KAFKA_SESSION_TIMEOUT=120s",
		"JOURNEYS_KAFKA_REBALANCE_TIMEOUT=120s",
		"JOURNEYS_CLICKHOUSE_ADDR="+chAddr,
		"JOURNEYS_CLICKHOUSE_PROTOCOL=native",
		"JOURNEYS_CLICKHOUSE_DATABASE="+benchDatabase,
		"JOURNEYS_SCHEMA_MAX_EVENT_BYTES="+strconv.Itoa(benchMaxEventBytes),
		"JOURNEYS_JOURNEY_MAP="+journeyMap,
		"JOURNEYS_HTTP_LISTEN="+httpAddr,
		"JOURNEYS_LOG_LEVEL=warn",
	)
	coll.Stdout, coll.Stderr = a.stderr, a.stderr
	coll.Cancel = func() error { return coll.Process.Signal(syscall.SIGTERM) }
	coll.WaitDelay = 30 * time.Second
	if err := coll.Start(); err != nil {
		return fmt.Errorf("bench: start collector: %w", err)
	}
	collDone := make(chan struct{})
	var collErr error
	go func() { collErr = coll.Wait(); close(collDone) }()
	stopped := false
	stopCollector := func() error {
		stopped = true
		_ = coll.Process.Signal(syscall.SIGCONT)
		_ = coll.Process.Signal(syscall.SIGTERM)
		<-collDone
		return collErr
	}
	defer func() {
		if !stopped {
			_ = stopCollector()
		}
	}()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	if err := waitCollectorReady(ctx, httpAddr, client, benchGroup, o.partitions, collDone, &collErr); err != nil {
		return err
	}
	fmt.Fprintf(out, "▸ collector pid %d ready (journeys %s)\n", coll.Process.Pid, strings.Join(args, " "))

	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        benchTopic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchBytes:   4 << 20,
		BatchTimeout: 2 * time.Millisecond,
	}
	defer w.Close()

	// Latency at a steady rate.
	fmt.Fprintf(out, "▸ latency: %d events/s for %s\n", o.rate, o.steady)
	lat, latRows, achieved, err := benchLatency(ctx, conn, client, w, o)
	if err != nil {
		return err
	}

	// Throughput over a backlog.
	if err := coll.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("bench: stop collector: %w", err)
	}
	gcfg := gen.DefaultConfig()
	gcfg.Seed, gcfg.MaxEventBytes = o.seed, benchMaxEventBytes
	gcfg.Customers = max(o.events/6, 1) // ~11 messages each: the stream is cut at --events, never exhausted
	produced, bytes, err := produceBacklog(ctx, w, gen.New(gcfg), o.events)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "▸ throughput: %d events produced (%d B average), collector resumed\n", produced, bytes/int64(max(produced, 1)))
	res, err := measureConsumer(ctx, coll.Process.Pid, client, benchGroup, func() error {
		return coll.Process.Signal(syscall.SIGCONT)
	})
	if err != nil {
		return err
	}
	var landed int64
	if err := conn.QueryRow(ctx, "SELECT toInt64(count()) FROM "+benchDatabase+".events").Scan(&landed); err != nil {
		return fmt.Errorf("bench: count rows: %w", err)
	}
	res.rows = landed - latRows
	diag := scrapeDiagnostics(httpAddr)
	if err := stopCollector(); err != nil {
		log.Warn("collector exit", "err", err)
	}

	// The floor, over the same topic (latency events and backlog).
	var floor benchResult
	if !o.skipFloor {
		fmt.Fprintln(out, "▸ floor: minimal consumer over the same topic")
		floor, err = runFloor(ctx, exe, brokers, chAddr, client, a.stderr)
		if err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "▸ churn state at %d customers\n", o.stateCustomers)
	bpc, what := benchStateBytes(jm, o.stateCustomers)

	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	ratio := 0.0
	if f := floor.perCPUSecond(); f > 0 {
		ratio = res.perCPUSecond() / f
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nmeasure\tjourneys\tfloor\t")
	fmt.Fprintf(tw, "rows landed\t%d\t%d\t\n", res.rows, floor.rows)
	fmt.Fprintf(tw, "collector CPU (user+sys)\t%.2fs\t%.2fs\t\n", res.cpu.Seconds(), floor.cpu.Seconds())
	fmt.Fprintf(tw, "  of which sys (kernel: sockets, page faults)\t%.2fs\t%.2fs\t\n", res.sys.Seconds(), floor.sys.Seconds())
	fmt.Fprintf(tw, "wall\t%.2fs\t%.2fs\t\n", res.wall.Seconds(), floor.wall.Seconds())
	fmt.Fprintf(tw, "events per collector CPU-second\t%.0f\t%.0f\t\n", res.perCPUSecond(), floor.perCPUSecond())
	fmt.Fprintf(tw, "wall events/s (%d cores shared with broker and ClickHouse)\t%.0f\t%.0f\t\n", runtime.NumCPU(), res.perWallSecond(), floor.perWallSecond())
	fmt.Fprintf(tw, "CPU µs per event\t%.2f\t%.2f\t\n", res.cpu.Seconds()*1e6/float64(res.rows), floor.cpu.Seconds()*1e6/float64(max(floor.rows, 1)))
	fmt.Fprintf(tw, "peak RSS\t%d MiB\t%d MiB\t\n", res.peakRSS>>20, floor.peakRSS>>20)
	fmt.Fprintf(tw, "minor page faults per 1,000 events\t%.1f\t%.1f\t\n", perThousand(res.faults, res.rows), perThousand(floor.faults, floor.rows))
	fmt.Fprintf(tw, "ingest→queryable p50 / p99 at %.0f/s produced\t%.0f / %.0f ms (%d rows)\t\t\n", achieved, p50, p99, len(lat))
	fmt.Fprintf(tw, "customer state per tracked customer\t%.0f B (%s)\t\t\n", bpc, what)
	fmt.Fprintf(tw, "collector batches (whole run)\t%s\t\t\n", diag)
	tw.Flush()
	fmt.Fprintln(out)
	fmt.Fprintf(out, "events_per_cpu_second=%.0f\n", res.perCPUSecond())
	fmt.Fprintf(out, "wall_events_per_second=%.0f\n", res.perWallSecond())
	fmt.Fprintf(out, "p50_ingest_to_queryable_ms=%.0f\n", p50)
	fmt.Fprintf(out, "p99_ingest_to_queryable_ms=%.0f\n", p99)
	fmt.Fprintf(out, "bytes_per_customer=%.0f\n", bpc)
	fmt.Fprintf(out, "peak_rss_bytes=%d\n", res.peakRSS)
	fmt.Fprintf(out, "floor_events_per_cpu_second=%.0f\n", floor.perCPUSecond())
	fmt.Fprintf(out, "ratio_to_floor=%.2f\n", ratio)
	return nil
}

// waitCollectorReady waits for /readyz and for the group to have assigned
// every partition, then a moment for the partitions' state to load.
func waitCollectorReady(ctx context.Context, httpAddr string, client *kafka.Client, group string, partitions int, done <-chan struct{}, exitErr *error) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("bench: collector exited at start: %v", *exitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("bench: collector not ready after 90s")
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		if n, err := assignedPartitions(ctx, client, group); err != nil || n < partitions {
			continue
		}
		time.Sleep(time.Second) // OpenPartition reads the partition state
		return nil
	}
}

func assignedPartitions(ctx context.Context, client *kafka.Client, group string) (int, error) {
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return 0, err
	}
	if len(resp.Groups) != 1 || resp.Groups[0].GroupState != "Stable" {
		return 0, nil
	}
	n := 0
	for _, m := range resp.Groups[0].Members {
		for _, t := range m.MemberAssignments.Topics {
			n += len(t.Partitions)
		}
	}
	return n, nil
}

// benchLatency produces at o.rate for o.steady, each message stamped with
// its produce time, and returns the ingest-to-queryable latency of every row
// seen and the rows in the table afterwards.
func benchLatency(ctx context.Context, conn driver.Conn, client *kafka.Client, w *kafka.Writer, o benchOptions) ([]float64, int64, float64, error) {
	gcfg := gen.DefaultConfig()
	gcfg.Seed, gcfg.MaxEventBytes = o.seed+1_000_003, benchMaxEventBytes
	total := int(float64(o.rate) * o.steady.Seconds())
	gcfg.Customers = max(total/6, 1)
	g := gen.New(gcfg)

	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	type pollResult struct {
		lat  []float64
		rows int64
		err  error
	}
	polled := make(chan pollResult, 1)
	seen := make([]int64, o.partitions)
	for i := range seen {
		seen[i] = -1
	}
	poll := func(ctx context.Context) ([]float64, error) {
		now := time.Now()
		offs := make([]string, len(seen))
		for i, s := range seen {
			offs[i] = strconv.FormatInt(s, 10)
		}
		rows, err := conn.Query(ctx, "SELECT kafka_partition, kafka_offset, toUnixTimestamp64Milli(received_at) FROM "+
			benchDatabase+".events WHERE kafka_topic = {t:String} AND kafka_offset > arrayElement(["+
			strings.Join(offs, ",")+"], kafka_partition + 1)", clickhouse.Named("t", benchTopic))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var lat []float64
		maxes := slices.Clone(seen)
		for rows.Next() {
			var p int32
			var off, ms int64
			if err := rows.Scan(&p, &off, &ms); err != nil {
				return nil, err
			}
			lat = append(lat, float64(now.UnixMilli()-ms))
			maxes[p] = max(maxes[p], off)
		}
		copy(seen, maxes)
		return lat, rows.Err()
	}
	go func() {
		var r pollResult
		t := time.NewTicker(benchPoll)
		defer t.Stop()
		for {
			select {
			case <-pollCtx.Done():
				polled <- r
				return
			case <-t.C:
			}
			l, err := poll(pollCtx)
			if err != nil && pollCtx.Err() == nil {
				r.err = err
			}
			r.lat = append(r.lat, l...)
		}
	}()

	// Steady produce: one small batch per millisecond tick would cost more
	// than the messages, so send every 10ms what the rate allows.
	const tick = 10 * time.Millisecond
	perTick := max(o.rate*int(tick)/int(time.Second), 1)
	start := time.Now()
	next := start
	msgs := make([]kafka.Message, 0, perTick)
	sent := 0
	for sent < total {
		next = next.Add(tick)
		msgs = msgs[:0]
		now := time.Now()
		// Catch up after a slow write, so that the mean rate holds.
		due := min(int(float64(o.rate)*now.Sub(start).Seconds())+perTick, total) - sent
		for len(msgs) < due {
			m, ok := g.Next()
			if !ok {
				total = sent + len(msgs)
				break
			}
			msgs = append(msgs, kafka.Message{Key: m.Key, Value: m.Value, Time: now})
		}
		if len(msgs) > 0 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return nil, 0, 0, fmt.Errorf("bench: produce: %w", err)
			}
		}
		sent += len(msgs)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	achieved := float64(sent) / time.Since(start).Seconds()
	if err := waitCommitted(ctx, client, benchGroup, 2*time.Minute); err != nil {
		return nil, 0, 0, err
	}
	time.Sleep(2 * benchPoll)
	stopPoll()
	r := <-polled
	if r.err != nil {
		return nil, 0, 0, fmt.Errorf("bench: poll ClickHouse: %w", r.err)
	}
	var rows int64
	if err := conn.QueryRow(ctx, "SELECT toInt64(count()) FROM "+benchDatabase+".events").Scan(&rows); err != nil {
		return nil, 0, 0, fmt.Errorf("bench: count rows: %w", err)
	}
	slices.Sort(r.lat)
	return r.lat, rows, achieved, nil
}

func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// produceBacklog writes up to n generated messages as fast as possible.
func produceBacklog(ctx context.Context, w *kafka.Writer, g *gen.Generator, n int) (int, int64, error) {
	buf := make([]kafka.Message, 0, 5000)
	produced, bytes := 0, int64(0)
	for produced < n {
		buf = buf[:0]
		for len(buf) < cap(buf) && produced+len(buf) < n {
			m, ok := g.Next()
			if !ok {
				n = produced + len(buf)
				break
			}
			bytes += int64(len(m.Value))
			// Produce time, as a real producer stamps it: the generator's
			// own times are weeks old, and the broker's time-based retention
			// would delete them before the floor reads them.
			buf = append(buf, kafka.Message{Key: m.Key, Value: m.Value, Time: time.Now()})
		}
		if len(buf) == 0 {
			break
		}
		if err := w.WriteMessages(ctx, buf...); err != nil {
			return produced, bytes, fmt.Errorf("bench: produce: %w", err)
		}
		produced += len(buf)
	}
	return produced, bytes, nil
}

// measureConsumer reads the process's CPU time, calls start (which lets it
// consume), and waits until the group has committed every offset. It reads
// CPU and peak RSS before returning, while the process still runs.
func measureConsumer(ctx context.Context, pid int, client *kafka.Client, group string, start func() error) (benchResult, error) {
	st0, err := procStat(pid)
	if err != nil {
		return benchResult{}, err
	}
	t0 := time.Now()
	if err := start(); err != nil {
		return benchResult{}, err
	}
	if err := waitCommitted(ctx, client, group, 10*time.Minute); err != nil {
		return benchResult{}, err
	}
	wall := time.Since(t0)
	st1, err := procStat(pid)
	if err != nil {
		return benchResult{}, err
	}
	return benchResult{cpu: st1.cpu - st0.cpu, sys: st1.sys - st0.sys, wall: wall, peakRSS: st1.peakRSS, faults: st1.minorFaults - st0.minorFaults}, nil
}

// waitCommitted polls until the group's committed offsets reach the end of
// every partition of the bench topic.
func waitCommitted(ctx context.Context, client *kafka.Client, group string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		committed, end, err := groupProgress(ctx, client, benchTopic, group)
		if err == nil && end > 0 && committed == end {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: group %s committed %d of %d offsets after %s (err: %v)", group, committed, end, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// procSample is what procStat reads of a process.
type procSample struct {
	cpu         time.Duration // user + sys
	sys         time.Duration
	minorFaults int64
	peakRSS     int64 // VmHWM
}

// procStat reads user+sys CPU time and minor page faults from
// /proc/PID/stat and the peak resident set (VmHWM) from /proc/PID/status.
func procStat(pid int) (procSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("bench: read CPU time: %w", err)
	}
	// The command name (field 2) may contain spaces; fields count from
	// after its closing parenthesis (field 3 is f[0]). minflt is field 10,
	// utime and stime are fields 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return procSample{}, fmt.Errorf("bench: /proc/%d/stat: too few fields", pid)
	}
	minflt, err0 := strconv.ParseInt(f[7], 10, 64)
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err0, err1, err2); err != nil {
		return procSample{}, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
	}
	// USER_HZ is 100 on every Linux that Go supports.
	cpu := time.Duration(utime+stime) * 10 * time.Millisecond
	sys := time.Duration(stime) * 10 * time.Millisecond

	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("bench: read RSS: %w", err)
	}
	var rss int64
	for line := range strings.SplitSeq(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return procSample{}, fmt.Errorf("bench: VmHWM %q: %w", v, err)
			}
			rss = kb << 10
		}
	}
	return procSample{cpu: cpu, sys: sys, minorFaults: minflt, peakRSS: rss}, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// runFloor starts "journeys bench floor", lets it go once it is connected,
// and measures it over the whole topic.
func runFloor(ctx context.Context, exe string, brokers []string, chAddr string, client *kafka.Client, stderr io.Writer) (benchResult, error) {
	cmd := exec.CommandContext(ctx, exe, "bench", "floor",
		"--brokers", strings.Join(brokers, ","), "--topic", benchTopic, "--group", benchFloorGroup,
		"--clickhouse-addr", chAddr, "--database", benchDatabase)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return benchResult{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return benchResult{}, err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return benchResult{}, fmt.Errorf("bench: start floor: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return benchResult{}, fmt.Errorf("bench: floor did not start: %q %v", line, err)
	}
	res, err := measureConsumer(ctx, cmd.Process.Pid, client, benchFloorGroup, func() error {
		_, err := io.WriteString(stdin, "go\n")
		return err
	})
	if err != nil {
		return benchResult{}, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Protocol: clickhouse.Native})
	if err != nil {
		return benchResult{}, err
	}
	defer conn.Close()
	if err := conn.QueryRow(ctx, "SELECT toInt64(count()) FROM "+benchDatabase+".bench_floor").Scan(&res.rows); err != nil {
		return benchResult{}, fmt.Errorf("bench: count floor rows: %w", err)
	}
	return res, nil
}

// benchStateBytes measures the heap that one partition's per-customer
// state takes per customer at n customers: the enrich.State and the churn
// state together, as the collector keeps them (collector.Customers), built
// by enriching each customer's events with the bench's journey map. Each
// customer is an anonymous visitor identified as a user (one identity
// link), given a persona by its campaign, then reaching stages of both
// journeys of the deploy map: four events. Ids are
// shaped like the generator's: a 36-byte UUID anonymous id, of which links
// keep a 64-bit hash, and a 20-byte user id, stored once. The partition's
// fixed costs (the map, the window of recent event ids) are not per
// customer and are not counted.
func benchStateBytes(jm *enrich.Map, n int) (float64, string) {
	// Campaigns and events of the deploy map's persona rules and
	// touchpoints; with another map some may match nothing, and the line
	// says how many customers then have a persona.
	campaigns := []schemas.Campaign{{Source: "linkedin"}, {Medium: "cpc"}, {Source: "github"}}
	events := []string{"Trial Started", "Signed Up", "Feature Used"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cs := collector.NewCustomers(churnConfig(config.Default(), func() time.Time { return base }), jm)
	var ev schemas.Event
	for i := range n {
		at := base.Add(time.Duration(i) * time.Millisecond)
		ev = schemas.Event{
			Type:        schemas.TypeIdentify,
			UserID:      fmt.Sprintf("usr_%016x", uint64(i)*0x9e3779b97f4a7c15),
			AnonymousID: fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(i), i>>16&0xffff, i&0xfff, i>>4&0xfff, uint64(i)*0x9e3779b97f4a7c15>>16),
			Timestamp:   at,
		}
		ev.Context.Campaign = campaigns[i%len(campaigns)]
		cs.Add(&ev)
		user := ev.UserID
		for k, name := range events {
			ev = schemas.Event{Type: schemas.TypeTrack, Event: name, UserID: user, Timestamp: at.Add(time.Duration(k+1) * time.Hour)}
			cs.Add(&ev)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	tracked, links, personas, stored := cs.Len()
	runtime.KeepAlive(cs)
	what := fmt.Sprintf("identity links, personas and churn state: %d links, %d personas, %d tracked, %d ids stored, %d events each",
		links, personas, tracked, stored, 1+len(events))
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n), what
}

// scrapeDiagnostics summarises the collector's own metrics: how big its
// batches were and how long ClickHouse took, which explain the wall time.
func scrapeDiagnostics(httpAddr string) string {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return "metrics unavailable: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "metrics unavailable: " + err.Error()
	}
	vals := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		vals[name] = f
	}
	avg := func(name, labels string) (float64, float64) {
		n := vals[name+"_count"+labels]
		if n == 0 {
			return 0, 0
		}
		return vals[name+"_sum"+labels] / n, n
	}
	rows, batches := avg("journeys_ingest_batch_messages", "")
	ev, _ := avg("journeys_clickhouse_insert_duration_seconds", `{table="events"}`)
	lg, _ := avg("journeys_clickhouse_insert_duration_seconds", `{table="ingest_batches"}`)
	cm, _ := avg("journeys_ingest_commit_duration_seconds", "")
	return fmt.Sprintf("%.0f batches of %.0f messages; mean events insert %.0f ms, batch-log insert %.0f ms, commit %.0f ms",
		batches, rows, ev*1000, lg*1000, cm*1000)
}
