package devbroker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Options configures Start.
type Options struct {
	// Addr is the host:port to listen on and to advertise to clients;
	// "" means 127.0.0.1 on a free port.
	Addr string
	// Partitions is the partition count of every topic in Topics; 0 means 1.
	Partitions int
	// Topics are created at start. Clients cannot create topics by
	// producing to them, as on a production cluster configured that way.
	Topics []string
	// RetentionBytes bounds each partition's log, the way Kafka's
	// retention.bytes does, so a long-running dev broker does not keep every
	// message in memory; the oldest batches are dropped first. 0 means
	// DefaultRetentionBytes, negative means unbounded.
	RetentionBytes int64
	// Logger receives the broker's warnings and errors; nil discards them.
	Logger *slog.Logger
	// SASL, when not empty, requires clients to authenticate as one of
	// these users (superusers: ACLs are not enforced).
	SASL []User
	// TLS, when set, is the listener's TLS configuration (its
	// certificate, and ClientAuth to require client certificates).
	TLS *tls.Config
}

// User is a SASL user of the broker.
type User struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// DefaultRetentionBytes is the per-partition bound when Options leaves it 0.
const DefaultRetentionBytes = 64 << 20

// cleanerIntervalMs is how often retention runs; kfake's default of an hour
// would let a busy dev broker grow far past RetentionBytes in between.
const cleanerIntervalMs = 5000

// Broker is a running single-node Kafka-protocol broker.
type Broker struct {
	c     *kfake.Cluster
	addrs []string
}

// Start listens on o.Addr and creates o.Topics.
func Start(o Options) (*Broker, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Partitions < 0 {
		return nil, fmt.Errorf("devbroker: %d partitions", o.Partitions)
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.RetentionBytes == 0 {
		o.RetentionBytes = DefaultRetentionBytes
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("devbroker: listen address %q: %w", o.Addr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake always binds 127.0.0.1 itself; this honours o.Addr instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, o.Addr) }),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": strconv.Itoa(cleanerIntervalMs)}),
		kfake.WithLogger(slogAdapter{o.Logger}),
	}
	if len(o.SASL) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range o.SASL {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("devbroker: listen on %s: %w", o.Addr, err)
	}
	// Retention is set per topic because kfake runs its cleaner only for
	// topics that carry a retention config of their own. Time retention is
	// off: kfake ages records by their producer timestamps, and replayed or
	// generated streams carry old ones (gen starts on a fixed date), so its
	// 7-day default silently deleted unconsumed messages within seconds.
	cfg := map[string]string{
		"retention.bytes": strconv.FormatInt(o.RetentionBytes, 10),
		"retention.ms":    "-1",
	}
	for _, t := range o.Topics {
		if t == "" {
			continue
		}
		if err := c.CreateTopic(t, int32(o.Partitions), cfg); err != nil {
			c.Close()
			return nil, fmt.Errorf("devbroker: create topic %q: %w", t, err)
		}
	}
	b := &Broker{c: c, addrs: c.ListenAddrs()}
	if len(b.addrs) == 0 {
		c.Close()
		return nil, errors.New("devbroker: kfake reported no listener")
	}
	o.Logger.Info("devbroker: ready", "addrs", b.addrs, "topics", o.Topics, "partitions", o.Partitions,
		"retention_bytes", o.RetentionBytes)
	return b, nil
}

// Addrs are the bootstrap addresses for clients.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Close stops listening and drops every connection and all data.
func (b *Broker) Close() { b.c.Close() }

// slogAdapter routes kfake's log lines to slog. kfake logs every request at
// its info level, so that level becomes debug here.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, format string, args ...any) {
	var l slog.Level
	switch level {
	case kfake.LogLevelError:
		l = slog.LevelError
	case kfake.LogLevelWarn:
		l = slog.LevelWarn
	default:
		l = slog.LevelDebug
	}
	if !a.l.Enabled(nil, l) {
		return
	}
	a.l.Log(nil, l, "kfake: "+fmt.Sprintf(format, args...))
}
