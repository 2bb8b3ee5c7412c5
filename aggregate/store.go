package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/internal/tlsconf"
)

// Config says where ClickHouse is and how the tables are set up.
type Config struct {
	Addrs    []string // host:port; native port (9000) or HTTP port (8123) to match Protocol
	Protocol string   // "native" (default) or "http"
	// Compression of inserts on the wire: "lz4" (also ""), "zstd" or "none".
	Compression string
	Database    string
	Username    string
	Password    string
	Secure      bool          // TLS, verified against TLS.CAFile or else the system roots
	TLS         tlsconf.Files // used when Secure

	DialTimeout  time.Duration // 0: 10s
	MaxOpenConns int           // 0: the driver's default

	// BatchRows is the most rows the caller puts in one Batch (the
	// collector's batch.max_rows). Write sizes its column buffers for that
	// many rows the first time, instead of regrowing them as batches grow
	// while a backlog builds. 0: sized by the batches as they come.
	BatchRows int

	// Cluster, when set, is the ClickHouse cluster (remote_servers) the
	// tables are created on: replicated, sharded by customer, behind
	// Distributed tables of the usual names (see cluster.go). "" is a
	// single server.
	Cluster string

	// EventsTTLDays is the retention of the events table by event time,
	// applied by Migrate; 0 keeps events forever.
	EventsTTLDays int

	// DedupWindow is how many recent insert blocks each table remembers to
	// drop a retried one (non_replicated_deduplication_window). It must cover
	// every insert into a table, by all collectors, between a failed Write and
	// its retry, crash recovery included: Write inserts about one block per
	// table per batch. 0: DefaultDedupWindow. It is applied when a table is
	// created; changing it later needs ALTER TABLE ... MODIFY SETTING.
	DedupWindow int

	// AnalystRole makes Migrate apply the optional *_analyst_* migrations
	// (schemas/migrations/0030-0039): the analyst views run with their
	// definer's rights, and a role journeys_analyst gets SELECT on them only
	// and a read-only settings profile. It needs SQL access control on the
	// server. Off, those migrations are skipped and not recorded.
	AnalystRole bool
}

// DefaultDedupWindow covers, for example, 100 partitions each writing one
// batch per second for 100 seconds. The cost is a few MB of hashes per table.
const DefaultDedupWindow = 10000

const defaultDialTimeout = 10 * time.Second

// maxFreeColumns bounds the column buffers kept for reuse: one per Write
// running at once, up to this many (each holds a batch's worth of slices).
const maxFreeColumns = 8

// Store is a ClickHouse connection pool bound to one database. It is safe for
// concurrent use; Write calls for different partitions may run in parallel.
type Store struct {
	conn    driver.Conn
	db      string // quoted identifier, ready to put before ".table"
	cfg     Config // Password cleared
	log     *slog.Logger
	metrics *metrics
	// columns is a free list of column buffers for events inserts. Not a
	// sync.Pool: the GC empties pools, and Write allocates enough to trigger a
	// GC every few batches, which would make the reuse rare.
	columns chan *eventColumns
}

// Open connects to ClickHouse and checks that it answers. It creates nothing:
// the database may not exist yet (Migrate creates it), so the connection uses
// the server's default database and every statement names its tables in full.
func Open(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	opts := &clickhouse.Options{
		Addr:         cfg.Addrs,
		Protocol:     clickhouse.Native,
		Auth:         clickhouse.Auth{Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		// Every open connection may stay idle: the driver's default keeps 5,
		// and closing the others only means dialling new ones, and growing
		// their encode buffers again, for the next insert of a busy
		// partition.
		MaxIdleConns: cfg.MaxOpenConns,
		// A connection's encode buffer is sent (compressed) whenever it
		// passes this after a column, so it stays about this size instead
		// of growing to a whole batch (10 MiB by default) on every
		// connection. The rows still form one block.
		MaxCompressionBuffer: 1 << 20,
		Compression:          &clickhouse.Compression{Method: CompressionMethod(cfg.Compression)},
	}
	if cfg.Protocol == "http" {
		opts.Protocol = clickhouse.HTTP
	}
	if cfg.Secure {
		if opts.TLS, err = tlsconf.Client(cfg.TLS); err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
	}
	if cfg.Cluster != "" {
		// An insert into a Distributed table then returns only when every
		// shard has its rows, with the deduplication token applied there:
		// a queued background send would acknowledge a batch that a crash
		// can still lose, and Write records it as landed.
		opts.Settings = clickhouse.Settings{"distributed_foreground_insert": 1}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("aggregate: open %s: %w", strings.Join(cfg.Addrs, ","), err)
	}
	s := &Store{conn: conn, db: quoteIdent(cfg.Database), log: log, metrics: m}
	cfg.Password = ""
	s.cfg = cfg
	s.columns = make(chan *eventColumns, maxFreeColumns)
	if err := s.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	log.Info("clickhouse connected", "addrs", cfg.Addrs, "protocol", opts.Protocol.String(),
		"database", cfg.Database, "user", cfg.Username, "secure", cfg.Secure)
	return s, nil
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("no address"))
	}
	switch c.Protocol {
	case "", "native", "http":
	default:
		errs = append(errs, fmt.Errorf("protocol %q: want native or http", c.Protocol))
	}
	if c.Database == "" {
		errs = append(errs, errors.New("no database"))
	}
	if c.DedupWindow < 0 {
		errs = append(errs, fmt.Errorf("dedup window %d: want >= 0", c.DedupWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("aggregate: config: %w", err)
	}
	return nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		s.metrics.errors.WithLabelValues(opPing).Inc()
		return fmt.Errorf("aggregate: ping %s: %w", strings.Join(s.cfg.Addrs, ","), err)
	}
	return nil
}

// Close closes the connections. Calls in flight fail.
func (s *Store) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("aggregate: close: %w", err)
	}
	return nil
}

// table returns the fully qualified name of a table of the store's database.
func (s *Store) table(name string) string { return s.db + "." + name }

// quoteIdent makes a database name safe to splice into SQL: identifiers
// cannot be bound as parameters, and the name comes from configuration.
func quoteIdent(name string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`")
	return "`" + r.Replace(name) + "`"
}

// CompressionMethod maps a clickhouse.compression name (lz4, zstd, none;
// config validation refuses any other) to the driver's method, LZ4 for "".
func CompressionMethod(name string) clickhouse.CompressionMethod {
	switch name {
	case "none":
		return clickhouse.CompressionNone
	case "zstd":
		return clickhouse.CompressionZSTD
	}
	return clickhouse.CompressionLZ4
}
