package config

import (
	"slices"
	"time"
)

// Config is the whole configuration of journeys. The mapstructure tags are
// the keys of the YAML file; environment variable and flag names are derived
// from them (see doc.go), so renaming a tag renames all three.
type Config struct {
	Kafka      Kafka      `mapstructure:"kafka"`
	ClickHouse ClickHouse `mapstructure:"clickhouse"`
	Batch      Batch      `mapstructure:"batch"`
	Schema     Schema     `mapstructure:"schema"`
	// JourneyMap is the path of the journey map YAML. It is only checked for
	// being non-empty here: whoever parses the map reports a missing file with
	// the parse error, which says more than a bare stat would.
	JourneyMap string   `mapstructure:"journey_map"`
	HTTP       HTTP     `mapstructure:"http"`
	Log        Log      `mapstructure:"log"`
	Shutdown   Shutdown `mapstructure:"shutdown"`
}

// Kafka configures the consumer group that reads events and the producer
// that writes dead letters.
type Kafka struct {
	Brokers []string `mapstructure:"brokers"`
	Topic   string   `mapstructure:"topic"`
	GroupID string   `mapstructure:"group_id"`
	// DeadLetterTopic receives permanently invalid events. It must not be
	// Topic, or every invalid event would be consumed again forever.
	DeadLetterTopic string `mapstructure:"dead_letter_topic"`
	ClientID        string `mapstructure:"client_id"`
	MinBytes        int    `mapstructure:"min_bytes"`
	// MaxBytes is the fetch size per partition. It must be at least
	// Schema.MaxEventBytes: kafka-go may truncate a message larger than the
	// fetch size, and an event we would accept must be fetchable.
	MaxBytes int           `mapstructure:"max_bytes"`
	MaxWait  time.Duration `mapstructure:"max_wait"`
	// QueueCapacity is the number of messages prefetched per partition; it
	// trades memory for smoother throughput.
	QueueCapacity     int           `mapstructure:"queue_capacity"`
	SessionTimeout    time.Duration `mapstructure:"session_timeout"`
	RebalanceTimeout  time.Duration `mapstructure:"rebalance_timeout"`
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	// StartOffset is where a group with no committed offset starts:
	// "earliest" so that a new deployment does not silently skip the
	// retained backlog, or "latest".
	StartOffset string `mapstructure:"start_offset"`
}

// ClickHouse configures the sink.
type ClickHouse struct {
	// Addr lists host:port of the servers. Empty means "no ClickHouse
	// configured": the demo starts an embedded one, and `run` refuses to
	// start (see RequireClickHouse), so it is valid for Validate.
	Addr     []string `mapstructure:"addr"`
	Protocol string   `mapstructure:"protocol"`
	// Database is restricted to an unquoted identifier because the
	// migrations interpolate it into DDL.
	Database string `mapstructure:"database"`
	Username string `mapstructure:"username"`
	// Password is a secret: it is blanked by Redacted and so never printed
	// by YAML.
	Password string `mapstructure:"password"`
	// PasswordFile, when set, is read by Load into Password (one trailing
	// newline removed), so the secret can come from a mounted file instead
	// of the environment. Setting both is an error rather than a silent
	// precedence rule.
	PasswordFile string        `mapstructure:"password_file"`
	Secure       bool          `mapstructure:"secure"`
	DialTimeout  time.Duration `mapstructure:"dial_timeout"`
	MaxOpenConns int           `mapstructure:"max_open_conns"`
	// DedupWindow is non_replicated_deduplication_window of the tables: how
	// many inserted blocks ClickHouse remembers so that a retried batch
	// with the same deduplication token is not counted twice.
	DedupWindow int `mapstructure:"dedup_window"`
}

// Batch bounds the per-partition batches written to ClickHouse and the
// retries of a failed write.
type Batch struct {
	MaxRows int           `mapstructure:"max_rows"`
	MaxWait time.Duration `mapstructure:"max_wait"`
	// MaxBytes bounds the raw event bytes held per partition batch, and so
	// the memory of the pipeline; it must hold at least one event of
	// Schema.MaxEventBytes.
	MaxBytes     int           `mapstructure:"max_bytes"`
	RetryInitial time.Duration `mapstructure:"retry_initial"`
	RetryMax     time.Duration `mapstructure:"retry_max"`
	// DedupIDs is how many recent event ids are remembered per partition to
	// drop redeliveries before they reach ClickHouse.
	DedupIDs int `mapstructure:"dedup_ids"`
}

// Schema configures event validation.
type Schema struct {
	MaxEventBytes   int           `mapstructure:"max_event_bytes"`
	MaxDepth        int           `mapstructure:"max_depth"`
	FutureTolerance time.Duration `mapstructure:"future_tolerance"`
	// FuturePolicy says what happens to an event stamped further in the
	// future than FutureTolerance: "reject" dead-letters it, "clamp" keeps
	// it with its time clamped.
	FuturePolicy string `mapstructure:"future_policy"`
}

// HTTP configures the server of /metrics, /healthz and /readyz.
type HTTP struct {
	// Listen is host:port; "" disables the server.
	Listen string `mapstructure:"listen"`
}

// Log configures the process logger.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Shutdown configures the drain on SIGTERM.
type Shutdown struct {
	// Timeout is the budget for stopping fetches, flushing the in-flight
	// batches and committing their offsets.
	Timeout time.Duration `mapstructure:"timeout"`
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// Default returns the configuration used for every key that no file,
// environment variable or flag sets. It is valid as it is.
func Default() *Config {
	return &Config{
		Kafka: Kafka{
			Brokers:           []string{"127.0.0.1:9092"},
			Topic:             "journeys.events",
			GroupID:           "journeys",
			DeadLetterTopic:   "journeys.events.dlq",
			ClientID:          "journeys",
			MinBytes:          1,
			MaxBytes:          8 * mib,
			MaxWait:           250 * time.Millisecond,
			QueueCapacity:     10000,
			SessionTimeout:    10 * time.Second,
			RebalanceTimeout:  10 * time.Second,
			HeartbeatInterval: 3 * time.Second,
			StartOffset:       "earliest",
		},
		ClickHouse: ClickHouse{
			Addr:         []string{},
			Protocol:     "native",
			Database:     "journeys",
			Username:     "default",
			DialTimeout:  5 * time.Second,
			MaxOpenConns: 8,
			DedupWindow:  10000,
		},
		Batch: Batch{
			MaxRows:      20000,
			MaxWait:      time.Second,
			MaxBytes:     16 * mib,
			RetryInitial: 100 * time.Millisecond,
			RetryMax:     30 * time.Second,
			DedupIDs:     100000,
		},
		Schema: Schema{
			MaxEventBytes:   mib,
			MaxDepth:        32,
			FutureTolerance: 24 * time.Hour,
			FuturePolicy:    "reject",
		},
		JourneyMap: "deploy/journey-map.yaml",
		HTTP:       HTTP{Listen: "127.0.0.1:9464"},
		Log:        Log{Level: "info", Format: "text"},
		Shutdown:   Shutdown{Timeout: 30 * time.Second},
	}
}

// redactedMark replaces a secret that is set, rather than "", so that a
// printed config still tells whether a password is configured.
const redactedMark = "<redacted>"

// Redacted returns a copy of c that is safe to print or log. A password
// read from clickhouse.password_file is blanked, as the file says where it
// comes from, which keeps printed YAML loadable; any other password is
// replaced by a marker. The copy shares no memory with c.
func (c Config) Redacted() Config {
	c.Kafka.Brokers = slices.Clone(c.Kafka.Brokers)
	c.ClickHouse.Addr = slices.Clone(c.ClickHouse.Addr)
	switch {
	case c.ClickHouse.PasswordFile != "":
		c.ClickHouse.Password = ""
	case c.ClickHouse.Password != "":
		c.ClickHouse.Password = redactedMark
	}
	return c
}
