package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits that are not defaults but bounds of what makes sense.
const (
	// maxEventBytesLimit caps schema.max_event_bytes: an event is one
	// customer interaction, and the batches hold several thousand of them.
	maxEventBytesLimit = 16 * mib
	// minFetchBytes keeps kafka.max_bytes from being so small that every
	// fetch returns a handful of events.
	minFetchBytes = 64 * kib
)

// topicName is what Kafka accepts as a topic name, less "." and "..",
// which are checked apart.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// identifier is a ClickHouse name usable without quoting.
var identifier = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate checks c without any I/O and returns every problem, joined with
// errors.Join, each starting with the key to fix. The file named by
// clickhouse.password_file is checked by Load, which reads it.
func (c *Config) Validate() error {
	return c.problems().err()
}

// RequireClickHouse returns an error unless a ClickHouse server is
// configured. Validate accepts an empty clickhouse.addr because the demo
// starts its own server; `run` has none to fall back on.
func (c *Config) RequireClickHouse() error {
	if len(c.ClickHouse.Addr) == 0 {
		return &problem{key: "clickhouse.addr", msg: fmt.Sprintf(
			"no ClickHouse server configured: set clickhouse.addr in the config file, %s or --%s",
			EnvName("clickhouse.addr"), FlagName("clickhouse.addr"))}
	}
	return nil
}

// problems does the work of Validate. Cross-field problems are reported
// under the key most likely to be wrong, so that Load can drop them when
// that key failed to decode.
func (c *Config) problems() problems {
	var ps problems
	c.Kafka.check(&ps, c.Schema)
	c.ClickHouse.check(&ps)
	c.Batch.check(&ps, c.Schema)
	c.Schema.check(&ps)
	if strings.TrimSpace(c.JourneyMap) == "" {
		ps.add("journey_map", "must name the journey map file")
	}
	if c.HTTP.Listen != "" {
		if msg := checkListen(c.HTTP.Listen); msg != "" {
			ps.add("http.listen", "%q %s", c.HTTP.Listen, msg)
		}
	}
	oneOf(&ps, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&ps, "log.format", c.Log.Format, "text", "json")
	positive(&ps, "shutdown.timeout", c.Shutdown.Timeout)
	c.Churn.check(&ps)
	positive(&ps, "privacy.suppression_refresh", c.Privacy.SuppressionRefresh)
	c.Privacy.Pseudonymize.check(&ps)
	return ps
}

func (c Churn) check(ps *problems) {
	positive(ps, "churn.sweep_interval", c.SweepInterval)
	positive(ps, "churn.kpi_window", c.KPIWindow)
	shortOK := positive(ps, "churn.short_half_life", c.ShortHalfLife)
	if positive(ps, "churn.long_half_life", c.LongHalfLife) && shortOK && c.LongHalfLife <= c.ShortHalfLife {
		// The decline factor compares a fast rate with a slow one.
		ps.addCross("churn.long_half_life", []string{"churn.short_half_life"}, "%v must be longer than churn.short_half_life (%v)", c.LongHalfLife, c.ShortHalfLife)
	}
	positive(ps, "churn.negative_half_life", c.NegativeHalfLife)
	positive(ps, "churn.prior_gap", c.PriorGap)
	positive(ps, "churn.prior_stage_time", c.PriorStageTime)
	if !(c.InactivityScale > 0) {
		ps.add("churn.inactivity_scale", "%v must be positive", c.InactivityScale)
	}
	if !(c.StallScale > 0) {
		ps.add("churn.stall_scale", "%v must be positive", c.StallScale)
	}
	w := c.Weights
	for _, kw := range []struct {
		key string
		w   float64
	}{{"inactivity", w.Inactivity}, {"decline", w.Decline}, {"stall", w.Stall}, {"negative", w.Negative}} {
		if !(kw.w >= 0 && kw.w <= 1) {
			ps.add("churn.weights."+kw.key, "%v is out of range [0, 1]", kw.w)
		}
	}
	if w.Inactivity+w.Decline+w.Stall+w.Negative <= 0 {
		ps.add("churn.weights.inactivity", "all four churn weights are 0: at least one must be positive")
	}
	mediumOK := c.MediumBand > 0 && c.MediumBand < 1
	if !mediumOK {
		ps.add("churn.medium_band", "%v is out of range (0, 1)", c.MediumBand)
	}
	switch {
	case !(c.HighBand > 0 && c.HighBand <= 1):
		ps.add("churn.high_band", "%v is out of range (0, 1]", c.HighBand)
	case mediumOK && c.HighBand <= c.MediumBand:
		ps.addCross("churn.high_band", []string{"churn.medium_band"}, "%v must be above churn.medium_band (%v)", c.HighBand, c.MediumBand)
	}
	atLeast(ps, "churn.max_customers_per_partition", c.MaxCustomersPerPartition, 1)
	if !(c.WriteMinDelta >= 0 && c.WriteMinDelta <= 1) {
		ps.add("churn.write_min_delta", "%v is out of range [0, 1]", c.WriteMinDelta)
	}
}

func (k Kafka) check(ps *problems, s Schema) {
	hostPorts(ps, "kafka.brokers", k.Brokers)
	if len(k.Brokers) == 0 {
		ps.add("kafka.brokers", "at least one broker is required")
	}
	topicOK := topic(ps, "kafka.topic", k.Topic)
	if k.GroupID == "" {
		ps.add("kafka.group_id", "must not be empty")
	}
	dlqOK := topic(ps, "kafka.dead_letter_topic", k.DeadLetterTopic)
	switch {
	case !topicOK || !dlqOK:
		// Comparing names that are wrong anyway would only add noise.
	case k.DeadLetterTopic == k.Topic:
		ps.addCross("kafka.dead_letter_topic", []string{"kafka.topic"}, "%q is also kafka.topic: dead letters would be consumed again", k.DeadLetterTopic)
	case strings.ReplaceAll(k.DeadLetterTopic, ".", "_") == strings.ReplaceAll(k.Topic, ".", "_"):
		ps.addCross("kafka.dead_letter_topic", []string{"kafka.topic"}, "%q collides with kafka.topic %q: Kafka treats '.' and '_' alike and refuses to have both", k.DeadLetterTopic, k.Topic)
	}
	if k.ClientID == "" {
		ps.add("kafka.client_id", "must not be empty")
	}
	atLeast(ps, "kafka.min_bytes", k.MinBytes, 1)
	switch {
	case k.MaxBytes < minFetchBytes:
		ps.add("kafka.max_bytes", "%d must be at least %d", k.MaxBytes, minFetchBytes)
	case k.MaxBytes < k.MinBytes:
		ps.addCross("kafka.max_bytes", []string{"kafka.min_bytes"}, "%d is less than kafka.min_bytes (%d)", k.MaxBytes, k.MinBytes)
	case s.inRange() && k.MaxBytes < s.MaxEventBytes:
		ps.addCross("kafka.max_bytes", []string{"schema.max_event_bytes"}, "%d is less than schema.max_event_bytes (%d): the largest valid event could not be fetched", k.MaxBytes, s.MaxEventBytes)
	}
	positive(ps, "kafka.max_wait", k.MaxWait)
	atLeast(ps, "kafka.queue_capacity", k.QueueCapacity, 1)
	sessionOK := positive(ps, "kafka.session_timeout", k.SessionTimeout)
	positive(ps, "kafka.rebalance_timeout", k.RebalanceTimeout)
	if positive(ps, "kafka.heartbeat_interval", k.HeartbeatInterval) && sessionOK && k.HeartbeatInterval >= k.SessionTimeout {
		// Kafka's own rule; it advises a third of the session timeout.
		ps.addCross("kafka.heartbeat_interval", []string{"kafka.session_timeout"}, "%v must be less than kafka.session_timeout (%v)", k.HeartbeatInterval, k.SessionTimeout)
	}
	oneOf(ps, "kafka.start_offset", k.StartOffset, "earliest", "latest")
	k.TLS.Files.check(ps, "kafka.tls.files")
	if !k.TLS.Enabled && k.TLS.Files != (TLSFiles{}) {
		// Files without TLS would be ignored: the operator meant TLS.
		ps.add("kafka.tls.enabled", "is false but kafka.tls.files are set; set it to true")
	}
	sasl := k.SASL
	oneOf(ps, "kafka.sasl.mechanism", sasl.Mechanism, "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
	if sasl.Mechanism != "" {
		if sasl.Username == "" {
			ps.add("kafka.sasl.username", "must be set for SASL %s", sasl.Mechanism)
		}
		if sasl.Password == "" && sasl.PasswordFile == "" {
			ps.add("kafka.sasl.password", "must be set for SASL %s (or kafka.sasl.password_file)", sasl.Mechanism)
		}
		if sasl.Mechanism == "PLAIN" && !k.TLS.Enabled {
			ps.addCross("kafka.sasl.mechanism", []string{"kafka.tls.enabled"},
				"PLAIN sends the password in clear text: enable kafka.tls.enabled, or use SCRAM-SHA-512")
		}
	}
	if sasl.Mechanism == "" && (sasl.Username != "" || sasl.Password != "" || sasl.PasswordFile != "") {
		ps.add("kafka.sasl.mechanism", "is empty but SASL credentials are set; set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
}

// check reports a certificate without its key or the reverse; whether the
// files exist and parse is found when they are loaded, with the reason.
func (f TLSFiles) check(ps *problems, prefix string) {
	if (f.CertFile == "") != (f.KeyFile == "") {
		ps.add(prefix+".cert_file", "and %s.key_file must be set together", prefix)
	}
}

func (c ClickHouse) check(ps *problems) {
	hostPorts(ps, "clickhouse.addr", c.Addr)
	oneOf(ps, "clickhouse.protocol", c.Protocol, "native", "http")
	oneOf(ps, "clickhouse.compression", c.Compression, "lz4", "zstd", "none")
	if !identifier.MatchString(c.Database) {
		ps.add("clickhouse.database", "%q is not a plain identifier ([a-zA-Z_][a-zA-Z0-9_]*)", c.Database)
	}
	if c.Username == "" {
		ps.add("clickhouse.username", "must not be empty")
	}
	positive(ps, "clickhouse.dial_timeout", c.DialTimeout)
	atLeast(ps, "clickhouse.max_open_conns", c.MaxOpenConns, 1)
	// Zero would turn deduplication off, and with it the guarantee that a
	// retried batch is not counted twice.
	atLeast(ps, "clickhouse.dedup_window", c.DedupWindow, 1)
	c.TLS.check(ps, "clickhouse.tls")
	atLeast(ps, "clickhouse.events_ttl_days", c.EventsTTLDays, 0)
	if !c.Secure && c.TLS != (TLSFiles{}) {
		ps.add("clickhouse.secure", "is false but clickhouse.tls files are set; set it to true")
	}
	// The name goes into DDL (ON CLUSTER, Distributed); quoting would make
	// anything safe, but a name that needs it is a typo more often than not.
	if c.Cluster != "" && !clusterName.MatchString(c.Cluster) {
		ps.add("clickhouse.cluster", "%q is not a cluster name ([a-zA-Z0-9_-], starting with a letter or _)", c.Cluster)
	}
}

// clusterName is a remote_servers entry name as people write them.
var clusterName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]*$`)

func (b Batch) check(ps *problems, s Schema) {
	atLeast(ps, "batch.max_rows", b.MaxRows, 1)
	positive(ps, "batch.max_wait", b.MaxWait)
	if s.inRange() && b.MaxBytes < s.MaxEventBytes {
		ps.addCross("batch.max_bytes", []string{"schema.max_event_bytes"}, "%d is less than schema.max_event_bytes (%d): a batch must hold the largest valid event", b.MaxBytes, s.MaxEventBytes)
	}
	if positive(ps, "batch.retry_initial", b.RetryInitial) && b.RetryMax < b.RetryInitial {
		ps.addCross("batch.retry_max", []string{"batch.retry_initial"}, "%v is less than batch.retry_initial (%v)", b.RetryMax, b.RetryInitial)
	}
	atLeast(ps, "batch.dedup_ids", b.DedupIDs, 1)
}

// inRange reports whether MaxEventBytes is valid, and so worth comparing
// other sizes with: when it is not, its own problem is the one to fix.
func (s Schema) inRange() bool {
	return s.MaxEventBytes >= 1 && s.MaxEventBytes <= maxEventBytesLimit
}

func (s Schema) check(ps *problems) {
	if !s.inRange() {
		ps.add("schema.max_event_bytes", "%d is out of range [1, %d]", s.MaxEventBytes, maxEventBytesLimit)
	}
	atLeast(ps, "schema.max_depth", s.MaxDepth, 1)
	if s.FutureTolerance < 0 {
		ps.add("schema.future_tolerance", "%v must not be negative", s.FutureTolerance)
	}
	oneOf(ps, "schema.future_policy", s.FuturePolicy, "reject", "clamp")
}

func oneOf(ps *problems, key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	ps.add(key, "%q is not one of %s", val, strings.Join(allowed, ", "))
}

func atLeast(ps *problems, key string, val, floor int) {
	if val < floor {
		ps.add(key, "%d must be at least %d", val, floor)
	}
}

// positive reports whether d > 0, adding a problem if not, so that checks
// comparing d with another duration run only on a sensible d.
func positive(ps *problems, key string, d time.Duration) bool {
	if d <= 0 {
		ps.add(key, "%v must be positive", d)
		return false
	}
	return true
}

func topic(ps *problems, key, name string) bool {
	if !topicName.MatchString(name) || name == "." || name == ".." {
		ps.add(key, "%q is not a valid Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -, not . or ..)", name)
		return false
	}
	return true
}

func hostPorts(ps *problems, key string, addrs []string) {
	seen := map[string]bool{}
	for i, a := range addrs {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch host, port, err := net.SplitHostPort(a); {
		case err != nil:
			ps.add(k, "%q is not host:port (%s)", a, splitErr(err))
		case host == "" || strings.ContainsAny(host, " \t/"):
			ps.add(k, "%q is not host:port (bad host)", a)
		case !validPort(port, 1):
			ps.add(k, "%q is not host:port (bad port)", a)
		case seen[a]:
			ps.add(k, "%q is listed twice", a)
		}
		seen[a] = true
	}
}

// checkListen returns what is wrong with a listen address, or "". Unlike a
// broker address its host may be empty (all interfaces) and its port 0
// (any free port, which tests use).
func checkListen(a string) string {
	host, port, err := net.SplitHostPort(a)
	switch {
	case err != nil:
		return "is not host:port (" + splitErr(err) + ")"
	case strings.ContainsAny(host, " \t/"):
		return "is not host:port (bad host)"
	case !validPort(port, 0):
		return "is not host:port (bad port)"
	}
	return ""
}

func validPort(port string, floor int) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= floor && n <= 65535
}

// splitErr is the reason net.SplitHostPort gives, without the address it
// repeats.
func splitErr(err error) string {
	if ae, ok := err.(*net.AddrError); ok {
		return ae.Err
	}
	return err.Error()
}

// minPseudonymKey is privacy.MinKeyBytes; config does not import the
// stages' packages.
const minPseudonymKey = 32

func (p Pseudonymize) check(ps *problems) {
	oneOf(ps, "privacy.pseudonymize.property_action", p.PropertyAction, "hash", "drop")
	if !p.Enabled {
		if p.Key != "" || p.KeyFile != "" || len(p.Properties) > 0 {
			ps.add("privacy.pseudonymize.enabled", "is false but a key or properties are set; set it to true")
		}
		return
	}
	switch {
	case p.Key == "" && p.KeyFile == "":
		ps.add("privacy.pseudonymize.key", "must be set (or privacy.pseudonymize.key_file) when pseudonymisation is enabled")
	case len(p.Key) < minPseudonymKey && p.Key != "":
		ps.add("privacy.pseudonymize.key", "has %d bytes, want at least %d (e.g. openssl rand -hex 32)", len(p.Key), minPseudonymKey)
	}
	for i, k := range p.Properties {
		if strings.TrimSpace(k) == "" {
			ps.add(fmt.Sprintf("privacy.pseudonymize.properties[%d]", i), "is empty")
		}
	}
}
