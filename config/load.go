package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// ConfigFlag is the flag that names the YAML file; ConfigEnv names it when
// the flag is not given, which suits containers configured only through
// their environment.
const (
	ConfigFlag = "config"
	ConfigEnv  = envPrefix + "CONFIG"
)

// flagged lists the keys that have a command-line flag, with its help text.
// The flag name is the key with "." and "_" turned into "-". It is a
// function rather than a package variable so that nothing can change it.
func flagged() []struct{ key, usage string } {
	return []struct{ key, usage string }{
		{"kafka.brokers", "Kafka bootstrap brokers, host:port, comma-separated"},
		{"kafka.topic", "Kafka topic of the events"},
		{"kafka.group_id", "Kafka consumer group"},
		{"clickhouse.addr", "ClickHouse servers, host:port, comma-separated"},
		{"clickhouse.database", "ClickHouse database"},
		{"journey_map", "path of the journey map YAML"},
		{"http.listen", `address of /metrics, /healthz and /readyz; "" disables`},
		{"log.level", "log level: debug, info, warn or error"},
	}
}

// FlagName returns the command-line flag of key, whether or not
// RegisterFlags adds one: "kafka.group_id" is "kafka-group-id".
func FlagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// RegisterFlags adds to fs the --config flag and the flags that override
// config keys. Their defaults are shown from Default() for --help, but only
// a flag given on the command line overrides anything: an unset flag never
// hides the file or the environment.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "path of the YAML config file (env "+ConfigEnv+")")
	values := map[string]reflect.Value{}
	for _, l := range leaves(Default()) {
		values[l.key] = l.value
	}
	for _, f := range flagged() {
		usage := fmt.Sprintf("%s (key %s, env %s)", f.usage, f.key, EnvName(f.key))
		switch v := values[f.key].Interface().(type) {
		case []string:
			fs.StringSlice(FlagName(f.key), v, usage)
		case string:
			fs.String(FlagName(f.key), v, usage)
		default:
			// Only reachable by adding a key of a new type to flagged(),
			// which the tests do on every run.
			panic(fmt.Sprintf("config: no flag type for %s (%T)", f.key, v))
		}
	}
}

// Load builds the configuration from, lowest precedence first, Default(),
// the YAML file named by --config (else by $JOURNEYS_CONFIG; no file at all
// is fine, a named file that is missing is not), the JOURNEYS_* environment
// variables read through lookupEnv, and the flags of fs that were set on the
// command line. It then reads clickhouse.password_file and validates.
//
// The error lists every problem found, one per line, each starting with its
// key; only an unreadable or unparsable file stops Load before that. fs may
// be nil (no flags) and so may lookupEnv (no environment); main passes
// os.LookupEnv, tests pass a map so they never touch the process.
func Load(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	v := viper.New()
	defaults := leaves(Default())
	for _, l := range defaults {
		// Without a default viper does not know a key exists, and Unmarshal
		// would never look for it in the layers above.
		v.SetDefault(l.key, l.value.Interface())
	}

	path := ""
	if fs != nil {
		if f := fs.Lookup(ConfigFlag); f != nil {
			path = f.Value.String()
		}
	}
	if path == "" {
		path, _ = lookupEnv(ConfigEnv)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}

	// viper reads the environment with os.LookupEnv only, so the variables
	// are looked up here and merged over the file. That keeps them above
	// the file and below the flags, which v.Set would not: it overrides
	// flags too.
	if err := v.MergeConfigMap(envLayer(defaults, lookupEnv)); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}

	if fs != nil {
		for _, f := range flagged() {
			if fl := fs.Lookup(FlagName(f.key)); fl != nil {
				if err := v.BindPFlag(f.key, fl); err != nil {
					return nil, fmt.Errorf("config: flag --%s: %w", fl.Name, err)
				}
			}
		}
	}

	var c Config
	err := v.UnmarshalExact(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(durationHook, integerHook, listHook)))
	var ps problems
	ps.decodeError(err)
	undecoded := ps.keys()

	c.readPasswordFile(&ps)

	// A key that failed to decode was left at its zero value; validating
	// that value would only add a confusing second message for the key.
	for _, p := range c.problems() {
		if !overlaps(p.key, undecoded) && !slices.ContainsFunc(p.refs, func(r string) bool { return overlaps(r, undecoded) }) {
			ps = append(ps, p)
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// envLayer returns the values of the JOURNEYS_* variables that are set, as
// the nested map a YAML file would give. An empty value counts: it is how
// one sets http.listen to "" to disable the server.
func envLayer(keys []leaf, lookupEnv func(string) (string, bool)) map[string]any {
	out := map[string]any{}
	for _, l := range keys {
		val, ok := lookupEnv(EnvName(l.key))
		if !ok {
			continue
		}
		m := out
		parts := strings.Split(l.key, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = val
	}
	return out
}

// readPasswordFile replaces each password by the content of its password
// file, if one is named. It is the only I/O after the config file, and the
// reason Validate alone cannot check a config that has a password file.
func (c *Config) readPasswordFile(ps *problems) {
	readSecret(ps, "clickhouse.password", &c.ClickHouse.Password, c.ClickHouse.PasswordFile)
	readSecret(ps, "kafka.sasl.password", &c.Kafka.SASL.Password, c.Kafka.SASL.PasswordFile)
	readSecret(ps, "privacy.pseudonymize.key", &c.Privacy.Pseudonymize.Key, c.Privacy.Pseudonymize.KeyFile)
}

// readSecret reads file, when named, into *password, the key of which is
// passwordKey; the file's key is passwordKey + "_file".
func readSecret(ps *problems, passwordKey string, password *string, file string) {
	key := passwordKey + "_file"
	if file == "" {
		return
	}
	if *password != "" {
		ps.add(key, "is set together with %s; set only one", passwordKey)
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		ps.add(key, "%v", err)
		return
	}
	// Files written by editors and by `echo` end in a newline that is not
	// part of the password.
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		ps.add(key, "%q is empty", file)
		return
	}
	*password = pw
}

// durationHook parses strings with time.ParseDuration and refuses bare
// numbers: mapstructure would take `max_wait: 250` as 250ns, a silent
// factor of a million away from what was meant. Zero needs no unit.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		return time.ParseDuration(strings.TrimSpace(data.(string)))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("%v has no unit: write a duration like \"250ms\" or \"1m30s\"", data)
	}
	return data, nil
}

// integerHook refuses a fraction where an integer is wanted, which weak
// decoding would truncate: `max_depth: 1.5` is a mistake, not 1.
func integerHook(from, to reflect.Type, data any) (any, error) {
	if to.Kind() != reflect.Int || to == durationType {
		return data, nil
	}
	if from.Kind() == reflect.Float32 || from.Kind() == reflect.Float64 {
		if f := reflect.ValueOf(data).Float(); f != float64(int64(f)) {
			return nil, fmt.Errorf("%v is not an integer", data)
		}
	}
	return data, nil
}

// listHook splits a comma-separated string into a list, so that lists can
// be given in the environment (JOURNEYS_KAFKA_BROKERS=a:9092,b:9092) and as
// a YAML string. Spaces around items and empty items are dropped, as an
// address never contains them.
func listHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	out := []string{}
	for item := range strings.SplitSeq(data.(string), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out, nil
}

// problem is one thing wrong with the configuration, reported as
// "key: message" so that every line says what to fix.
type problem struct {
	key string
	msg string
	// refs are the other keys a cross-field problem compares key with.
	refs []string
}

func (p *problem) Error() string {
	if p.key == "" {
		return p.msg
	}
	return p.key + ": " + p.msg
}

type problems []*problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, &problem{key: key, msg: fmt.Sprintf(format, args...)})
}

// addCross adds a problem of key that compares it with the ref keys.
func (ps *problems) addCross(key string, refs []string, format string, args ...any) {
	*ps = append(*ps, &problem{key: key, refs: refs, msg: fmt.Sprintf(format, args...)})
}

func (ps problems) keys() []string {
	keys := make([]string, len(ps))
	for i, p := range ps {
		keys[i] = p.key
	}
	return keys
}

// err joins the problems, one per line, or returns nil when there are none.
func (ps problems) err() error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// invalidKeys starts the message mapstructure gives for keys that no field
// takes (UnmarshalExact). Should a later mapstructure word it differently,
// the message is still reported, only not split per key.
const invalidKeys = "has invalid keys: "

// decodeError turns the tree of errors from UnmarshalExact into problems,
// one per key, with the key first as in every other problem.
func (ps *problems) decodeError(err error) {
	if err == nil {
		return
	}
	var de *mapstructure.DecodeError
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range e.Unwrap() {
			ps.decodeError(e)
		}
		return
	case *mapstructure.DecodeError:
		de = e
	case interface{ Unwrap() error }:
		// The "decoding failed due to the following error(s)" wrapper
		// around the list; anything else keeps its own words.
		if errors.As(err, &de) {
			ps.decodeError(e.Unwrap())
			return
		}
		ps.add("", "%v", err)
		return
	default:
		ps.add("", "%v", err)
		return
	}
	msg := de.Unwrap().Error()
	if rest, ok := strings.CutPrefix(msg, invalidKeys); ok {
		for name := range strings.SplitSeq(rest, ", ") {
			key := joinKey(de.Name(), name)
			if hint := closestKey(key); hint != "" {
				ps.add(key, "unknown key (did you mean %s?)", hint)
			} else {
				ps.add(key, "unknown key")
			}
		}
		return
	}
	// mapstructure's parse error names the type but not the value, which
	// is the part that tells an environment variable from a file value.
	var pe *mapstructure.ParseError
	if errors.As(de, &pe) {
		msg = fmt.Sprintf("cannot parse %q as %s", fmt.Sprint(pe.Value), pe.Expected.Type())
	}
	ps.add(de.Name(), "%s", msg)
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// overlaps reports whether key is, contains or is inside one of keys:
// "kafka" overlaps "kafka.topic", "kafka.brokers" overlaps "kafka.brokers[1]".
func overlaps(key string, keys []string) bool {
	inside := func(a, b string) bool {
		return strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
	}
	for _, k := range keys {
		if k != "" && (key == k || inside(key, k) || inside(k, key)) {
			return true
		}
	}
	return false
}

// closestKey returns the known key that an unknown one was probably meant
// to be: in the same section, at most two edits away. The common mistakes
// are a typo and a hyphen for an underscore.
func closestKey(unknown string) string {
	section, _ := splitLast(unknown)
	best, bestDist := "", 3
	for _, k := range names() {
		if s, _ := splitLast(k); s != section {
			continue
		}
		if d := editDistance(strings.ReplaceAll(unknown, "-", "_"), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// names returns every key and every section ("kafka") that holds keys.
func names() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range Keys() {
		if section, _ := splitLast(k); section != "" && !seen[section] {
			seen[section] = true
			out = append(out, section)
		}
		out = append(out, k)
	}
	return out
}

func splitLast(key string) (section, name string) {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// editDistance is the Levenshtein distance of a and b in bytes; keys are
// ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
