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
	Churn      Churn    `mapstructure:"churn"`
	Privacy    Privacy  `mapstructure:"privacy"`
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
	// TLS and SASL apply to every connection to the brokers: the group
	// reader, the dead-letter writer and the readiness check.
	TLS  KafkaTLS  `mapstructure:"tls"`
	SASL KafkaSASL `mapstructure:"sasl"`
}

// KafkaTLS turns TLS to the brokers on; the files are optional.
type KafkaTLS struct {
	Enabled bool     `mapstructure:"enabled"`
	Files   TLSFiles `mapstructure:"files"`
}

// TLSFiles are the PEM files of a TLS client. All are optional: no CA file
// means the system roots, no certificate means no client authentication.
type TLSFiles struct {
	CAFile   string `mapstructure:"ca_file"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// ServerName overrides the name verified in the server's certificate
	// (default: the host of the address dialled).
	ServerName string `mapstructure:"server_name"`
}

// KafkaSASL authenticates to the brokers. Mechanism "" turns it off.
type KafkaSASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. PLAIN sends the
	// password as it is, so it is refused without TLS.
	Mechanism string `mapstructure:"mechanism"`
	Username  string `mapstructure:"username"`
	// Password and PasswordFile work as ClickHouse's: a secret, redacted
	// when printed, read from the file by Load.
	Password     string `mapstructure:"password"`
	PasswordFile string `mapstructure:"password_file"`
}

// ClickHouse configures the sink.
type ClickHouse struct {
	// Addr lists host:port of the servers. Empty means "no ClickHouse
	// configured": the demo starts an embedded one, and `run` refuses to
	// start (see RequireClickHouse), so it is valid for Validate.
	Addr     []string `mapstructure:"addr"`
	Protocol string   `mapstructure:"protocol"`
	// Compression of inserted blocks on the wire: lz4 trades client CPU
	// for bandwidth, which pays across a network; none suits a collector
	// on the same host as ClickHouse.
	Compression string `mapstructure:"compression"`
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
	// Cluster, when set, is the ClickHouse cluster (remote_servers) that
	// migrations create the tables on: Replicated*MergeTree tables sharded
	// by customer behind Distributed tables, all ON CLUSTER. "" is a single
	// server.
	Cluster string `mapstructure:"cluster"`
	// EventsTTLDays is how long raw events are kept, by event time; 0 keeps
	// them forever. The aggregate tables keep everything either way.
	EventsTTLDays int `mapstructure:"events_ttl_days"`
	// AnalystRole makes migrate create the read-only analyst role
	// (journeys_analyst: SELECT on the analyst views only, readonly=1) and
	// switch those views to SQL SECURITY DEFINER. It needs SQL access
	// control on the server, which the local chDB server lacks.
	AnalystRole bool `mapstructure:"analyst_role"`
	// TLS are the files of the TLS connection when Secure is on.
	TLS TLSFiles `mapstructure:"tls"`
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
	// WebConfigFile is a Prometheus exporter-toolkit web configuration
	// (TLS, basic auth, headers) for the server; "" serves plain HTTP
	// without authentication.
	WebConfigFile string `mapstructure:"web_config_file"`
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

// Churn configures the churn-risk model of the collector (see the README,
// "Churn risk"): the score is clamp(Σ weight·factor) over factors in [0, 1].
type Churn struct {
	// SweepInterval is how often every tracked customer is re-scored, so
	// that inactivity is noticed without new events.
	SweepInterval time.Duration `mapstructure:"sweep_interval"`
	// KPIWindow bounds, by event time before now, the customers counted in
	// the journeys_stage_*customers gauges.
	KPIWindow time.Duration `mapstructure:"kpi_window"`
	// ShortHalfLife and LongHalfLife are the half-lives of the two decayed
	// event rates compared by the decline factor.
	ShortHalfLife time.Duration `mapstructure:"short_half_life"`
	LongHalfLife  time.Duration `mapstructure:"long_half_life"`
	// NegativeHalfLife is how fast a negative touchpoint is forgotten.
	NegativeHalfLife time.Duration `mapstructure:"negative_half_life"`
	// PriorGap and PriorStageTime stand in for a persona's typical gap
	// between visits and typical time to the next stage until the collector
	// has learned them from the stream.
	PriorGap       time.Duration `mapstructure:"prior_gap"`
	PriorStageTime time.Duration `mapstructure:"prior_stage_time"`
	// InactivityScale (k) and StallScale stretch the learned typical times:
	// idle for k typical gaps gives an inactivity factor of 1 − 1/e.
	InactivityScale float64      `mapstructure:"inactivity_scale"`
	StallScale      float64      `mapstructure:"stall_scale"`
	Weights         ChurnWeights `mapstructure:"weights"`
	// MediumBand and HighBand are the risk thresholds: risk < MediumBand is
	// low, < HighBand medium, else high.
	MediumBand float64 `mapstructure:"medium_band"`
	HighBand   float64 `mapstructure:"high_band"`
	// MaxCustomersPerPartition bounds the collector's memory: past it, the
	// least recently active customers are forgotten.
	MaxCustomersPerPartition int `mapstructure:"max_customers_per_partition"`
	// WriteMinDelta: a score is written to ClickHouse again only when its
	// band changed or its risk moved at least this much.
	WriteMinDelta float64 `mapstructure:"write_min_delta"`
}

// ChurnWeights weigh the churn factors.
type ChurnWeights struct {
	Inactivity float64 `mapstructure:"inactivity"`
	Decline    float64 `mapstructure:"decline"`
	Stall      float64 `mapstructure:"stall"`
	Negative   float64 `mapstructure:"negative"`
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
			MinBytes:          64 << 10,
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
			Compression:  "lz4",
			Database:     "journeys",
			Username:     "default",
			DialTimeout:  5 * time.Second,
			MaxOpenConns: 8,
			DedupWindow:  10000,
		},
		Batch: Batch{
			MaxRows:      10000,
			MaxWait:      500 * time.Millisecond,
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
		Churn: Churn{
			SweepInterval:            time.Minute,
			KPIWindow:                168 * time.Hour,
			ShortHalfLife:            72 * time.Hour,
			LongHalfLife:             720 * time.Hour,
			NegativeHalfLife:         336 * time.Hour,
			PriorGap:                 72 * time.Hour,
			PriorStageTime:           168 * time.Hour,
			InactivityScale:          3,
			StallScale:               2,
			Weights:                  ChurnWeights{Inactivity: 0.55, Decline: 0.2, Stall: 0.1, Negative: 0.3},
			MediumBand:               0.4,
			HighBand:                 0.7,
			MaxCustomersPerPartition: 1000000,
			WriteMinDelta:            0.05,
		},
		Privacy: Privacy{
			SuppressionRefresh: 30 * time.Second,
			Pseudonymize:       Pseudonymize{Properties: []string{}, PropertyAction: "hash"},
		},
	}
}

// Privacy configures the erasure of customers (`journeys forget`).
type Privacy struct {
	// SuppressionRefresh is how often collectors reload the list of erased
	// customers. `journeys forget` waits this long (and a batch) before its
	// second pass, which removes what collectors wrote meanwhile.
	SuppressionRefresh time.Duration `mapstructure:"suppression_refresh"`
	Pseudonymize       Pseudonymize  `mapstructure:"pseudonymize"`
}

// Pseudonymize replaces user ids, anonymous ids and the listed properties by
// HMAC-SHA256 pseudonyms (or drops the properties) before anything is
// stored.
type Pseudonymize struct {
	Enabled bool `mapstructure:"enabled"`
	// Key is the HMAC secret, at least 32 bytes: a secret like the
	// passwords (redacted, or read from KeyFile). Changing it changes every
	// pseudonym, so the same person becomes a new customer.
	Key     string `mapstructure:"key"`
	KeyFile string `mapstructure:"key_file"`
	// Properties are top-level keys of properties and traits to protect.
	Properties []string `mapstructure:"properties"`
	// PropertyAction is "hash" or "drop".
	PropertyAction string `mapstructure:"property_action"`
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
	c.ClickHouse.Password = redact(c.ClickHouse.Password, c.ClickHouse.PasswordFile)
	c.Kafka.SASL.Password = redact(c.Kafka.SASL.Password, c.Kafka.SASL.PasswordFile)
	c.Privacy.Pseudonymize.Key = redact(c.Privacy.Pseudonymize.Key, c.Privacy.Pseudonymize.KeyFile)
	c.Privacy.Pseudonymize.Properties = slices.Clone(c.Privacy.Pseudonymize.Properties)
	return c
}

func redact(password, file string) string {
	switch {
	case file != "":
		return ""
	case password != "":
		return redactedMark
	}
	return ""
}
