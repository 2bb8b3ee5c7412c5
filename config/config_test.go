package config

import (
	"bufio"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// env is a fake environment for Load.
type env map[string]string

func (e env) lookup(k string) (string, bool) {
	v, ok := e[k]
	return v, ok
}

// flags returns a flag set with RegisterFlags applied and args parsed, as
// cobra would hand it to Load.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("journeys", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return fs
}

// flatten lists the leaves of an errors.Join tree, so that a test can count
// the problems reported.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.good.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(flags(t, "--config", f), nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after Load: %v", err)
			}
		})
	}
}

// TestBadConfigs loads each testdata/*.bad.yaml, whose "# want: " lines
// are the expected problems: each must match a different reported problem,
// and no other problem may be reported.
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.bad.yaml")
	}
	most := 0
	for _, f := range files {
		wants := wantLines(t, f)
		most = max(most, len(wants))
		t.Run(filepath.Base(f), func(t *testing.T) {
			if len(wants) == 0 {
				t.Fatal(`no "# want: " line`)
			}
			_, err := Load(flags(t, "--config", f), nil)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			got := flatten(err)
			used := make([]bool, len(got))
		next:
			for _, w := range wants {
				for i, e := range got {
					if !used[i] && strings.Contains(e.Error(), w) {
						used[i] = true
						continue next
					}
				}
				t.Errorf("missing problem %q", w)
			}
			for i, e := range got {
				if !used[i] {
					t.Errorf("unexpected problem %q", e)
				}
			}
			if t.Failed() {
				t.Logf("all problems:\n%v", err)
			}
		})
	}
	if most < 3 {
		t.Errorf("no bad config with 3 or more problems to show they are all listed")
	}
}

func wantLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wants []string
	for s := bufio.NewScanner(f); s.Scan(); {
		if w, ok := strings.CutPrefix(s.Text(), "# want: "); ok {
			wants = append(wants, w)
		}
	}
	return wants
}

func TestDefaults(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate(): %v", err)
	}
	c, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load with nothing: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load with nothing = %+v, want Default() %+v", c, Default())
	}
	// Default builds a new value each time: nothing is shared to mutate.
	d := Default()
	d.Kafka.Brokers[0] = "changed:1"
	if Default().Kafka.Brokers[0] == "changed:1" {
		t.Error("Default shares its slices between calls")
	}
}

func TestFullFile(t *testing.T) {
	c, err := Load(flags(t, "--config", "testdata/full.good.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"kafka-1:9092", "kafka-2:9092", "[::1]:9092"}; !slices.Equal(c.Kafka.Brokers, want) {
		t.Errorf("brokers = %q, want %q", c.Kafka.Brokers, want)
	}
	if c.Kafka.RebalanceTimeout != time.Minute || c.Batch.RetryInitial != 50*time.Millisecond {
		t.Errorf("durations: rebalance %v, retry_initial %v", c.Kafka.RebalanceTimeout, c.Batch.RetryInitial)
	}
	if !c.ClickHouse.Secure || c.ClickHouse.Protocol != "http" || c.Schema.FutureTolerance != 0 {
		t.Errorf("clickhouse %+v, future_tolerance %v", c.ClickHouse, c.Schema.FutureTolerance)
	}
	if c.ClickHouse.Password != "s3cret" {
		t.Errorf("password from password_file = %q, want %q", c.ClickHouse.Password, "s3cret")
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "c.yaml", "kafka:\n  topic: from-file\n  group_id: from-file\n  client_id: from-file\n")
	e := env{
		"JOURNEYS_KAFKA_TOPIC":    "from-env",
		"JOURNEYS_KAFKA_GROUP_ID": "from-env",
	}
	c, err := Load(flags(t, "--config", file, "--kafka-topic", "from-flag"), e.lookup)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, got, want string }{
		{"kafka.topic", c.Kafka.Topic, "from-flag"},        // flag > env > file
		{"kafka.group_id", c.Kafka.GroupID, "from-env"},    // env > file; its unset flag hides nothing
		{"kafka.client_id", c.Kafka.ClientID, "from-file"}, // file > default
		{"kafka.dead_letter_topic", c.Kafka.DeadLetterTopic, Default().Kafka.DeadLetterTopic},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
}

// TestEnvTypes sets keys of every type through the environment only.
func TestEnvTypes(t *testing.T) {
	e := env{
		"JOURNEYS_KAFKA_BROKERS":       " a:9092, b:9092 ,,",
		"JOURNEYS_CLICKHOUSE_ADDR":     "ch:9000",
		"JOURNEYS_KAFKA_MAX_WAIT":      "500ms",
		"JOURNEYS_BATCH_MAX_ROWS":      "5000",
		"JOURNEYS_CLICKHOUSE_SECURE":   "true",
		"JOURNEYS_CLICKHOUSE_PASSWORD": "hunter2",
		"JOURNEYS_JOURNEY_MAP":         "/etc/map.yaml",
		"JOURNEYS_HTTP_LISTEN":         "", // set but empty: disables the server
	}
	c, err := Load(nil, e.lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Kafka.Brokers = []string{"a:9092", "b:9092"}
	want.ClickHouse.Addr = []string{"ch:9000"}
	want.Kafka.MaxWait = 500 * time.Millisecond
	want.Batch.MaxRows = 5000
	want.ClickHouse.Secure = true
	want.ClickHouse.Password = "hunter2"
	want.JourneyMap = "/etc/map.yaml"
	want.HTTP.Listen = ""
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestEnvProblemsNameKey(t *testing.T) {
	e := env{
		"JOURNEYS_KAFKA_BROKERS":  "a:9092,nope",
		"JOURNEYS_BATCH_MAX_ROWS": "many",
		"JOURNEYS_KAFKA_MAX_WAIT": "250",
	}
	_, err := Load(nil, e.lookup)
	for _, want := range []string{
		`kafka.brokers[1]: "nope" is not host:port`,
		`batch.max_rows: cannot parse "many" as int`,
		`kafka.max_wait: time: missing unit in duration "250"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

func TestListFlags(t *testing.T) {
	e := env{"JOURNEYS_KAFKA_BROKERS": "env:9092"}
	c, err := Load(flags(t, "--kafka-brokers=x:1,y:2", "--clickhouse-addr", "ch-1:9000", "--clickhouse-addr", "ch-2:9000"), e.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"x:1", "y:2"}; !slices.Equal(c.Kafka.Brokers, want) {
		t.Errorf("brokers = %q, want %q", c.Kafka.Brokers, want)
	}
	if want := []string{"ch-1:9000", "ch-2:9000"}; !slices.Equal(c.ClickHouse.Addr, want) {
		t.Errorf("addr = %q, want %q", c.ClickHouse.Addr, want)
	}
}

func TestEveryFlag(t *testing.T) {
	fs := flags(t,
		"--kafka-brokers=k:1", "--kafka-topic=t", "--kafka-group-id=g",
		"--clickhouse-addr=c:2", "--clickhouse-database=d", "--journey-map=m.yaml",
		"--http-listen=:3", "--log-level=debug",
	)
	c, err := Load(fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Kafka.Brokers = []string{"k:1"}
	want.Kafka.Topic = "t"
	want.Kafka.GroupID = "g"
	want.ClickHouse.Addr = []string{"c:2"}
	want.ClickHouse.Database = "d"
	want.JourneyMap = "m.yaml"
	want.HTTP.Listen = ":3"
	want.Log.Level = "debug"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	// An empty flag value is a value: it disables the HTTP server.
	c, err = Load(flags(t, "--http-listen="), env{"JOURNEYS_HTTP_LISTEN": ":9"}.lookup)
	if err != nil || c.HTTP.Listen != "" {
		t.Errorf("--http-listen= gives %q, %v; want \"\"", c.HTTP.Listen, err)
	}
}

func TestConfigPath(t *testing.T) {
	file := writeFile(t, "c.yaml", "kafka: {topic: from-file}\n")
	other := writeFile(t, "other.yaml", "kafka: {topic: from-other}\n")

	c, err := Load(nil, env{ConfigEnv: file}.lookup)
	if err != nil || c.Kafka.Topic != "from-file" {
		t.Errorf("%s: topic %v, %v", ConfigEnv, c, err)
	}
	c, err = Load(flags(t, "--config", other), env{ConfigEnv: file}.lookup)
	if err != nil || c.Kafka.Topic != "from-other" {
		t.Errorf("--config beats %s: topic %v, %v", ConfigEnv, c, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := Load(flags(t, "--config", missing), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing --config file: %v, want ErrNotExist", err)
	}
	if _, err := Load(nil, env{ConfigEnv: missing}.lookup); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing %s file: %v, want ErrNotExist", ConfigEnv, err)
	}
}

func TestPasswordFile(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"newline", "s3cret\n", "s3cret"},
		{"crlf", "s3cret\r\n", "s3cret"},
		{"none", "s3cret", "s3cret"},
		{"only one newline", "s3cret\n\n", "s3cret\n"},
		{"spaces kept", " s3 cret ", " s3 cret "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, "pw", tc.content)
			c, err := Load(nil, env{"JOURNEYS_CLICKHOUSE_PASSWORD_FILE": f}.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if c.ClickHouse.Password != tc.want {
				t.Errorf("password = %q, want %q", c.ClickHouse.Password, tc.want)
			}
			if c.ClickHouse.PasswordFile != f {
				t.Errorf("password_file = %q, want it kept", c.ClickHouse.PasswordFile)
			}
		})
	}
	// Both set, from different sources, is still both set.
	f := writeFile(t, "pw", "s3cret\n")
	_, err := Load(nil, env{"JOURNEYS_CLICKHOUSE_PASSWORD_FILE": f, "JOURNEYS_CLICKHOUSE_PASSWORD": "x"}.lookup)
	if err == nil || !strings.Contains(err.Error(), "clickhouse.password_file: is set together with clickhouse.password") {
		t.Errorf("both set: %v", err)
	}
}

func TestUnknownKey(t *testing.T) {
	file := writeFile(t, "c.yaml", "kafka:\n  brokerz: [a:9092]\n")
	_, err := Load(flags(t, "--config", file), nil)
	if got, want := errString(err), "kafka.brokerz: unknown key (did you mean kafka.brokers?)"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestRedacted(t *testing.T) {
	c := Default()
	c.ClickHouse.Password = "hunter2"
	c.ClickHouse.Addr = []string{"ch:9000"}
	r := c.Redacted()
	if r.ClickHouse.Password == "hunter2" || r.ClickHouse.Password == "" {
		t.Errorf("Redacted password = %q, want a marker", r.ClickHouse.Password)
	}
	if c.ClickHouse.Password != "hunter2" {
		t.Error("Redacted changed the original")
	}
	r.ClickHouse.Addr[0] = "changed:1"
	if c.ClickHouse.Addr[0] != "ch:9000" {
		t.Error("Redacted shares slices with the original")
	}
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("YAML prints the password:\n%s", b)
	}
	c.ClickHouse.PasswordFile = "/run/secrets/ch"
	if r := c.Redacted(); r.ClickHouse.Password != "" {
		t.Errorf("a password from password_file is redacted to %q, want \"\" so the YAML can be loaded back", r.ClickHouse.Password)
	}
	if Default().Redacted().ClickHouse.Password != "" {
		t.Error("an unset password must stay visibly unset")
	}
}

// TestYAMLRoundTrip checks that YAML prints what Load reads back: same
// keys, durations with units.
func TestYAMLRoundTrip(t *testing.T) {
	c, err := Load(flags(t, "--config", "testdata/full.good.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The password came from password_file: the printed config names the
	// file, not the password, and loading it reads the file again.
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("YAML prints the password read from password_file:\n%s", b)
	}
	if !strings.Contains(string(b), "max_wait: 500ms") {
		t.Errorf("durations are not printed with units:\n%s", b)
	}
	back, err := Load(flags(t, "--config", writeFile(t, "printed.yaml", string(b))), nil)
	if err != nil {
		t.Fatalf("Load of YAML output: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", back, c)
	}
}

// TestExample keeps journeys.example.yaml equal to the defaults and
// listing every key, so that the documented example cannot drift.
func TestExample(t *testing.T) {
	const example = "journeys.example.yaml"
	c, err := Load(flags(t, "--config", example), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("%s differs from Default():\ngot  %+v\nwant %+v", example, c, Default())
	}

	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	inFile := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
			} else {
				inFile[prefix+k] = true
			}
		}
	}
	walk("", doc)
	for _, k := range Keys() {
		if !inFile[k] {
			t.Errorf("%s does not set %s", example, k)
		}
	}
	if len(inFile) != len(Keys()) {
		t.Errorf("%s sets %d keys, there are %d: %v", example, len(inFile), len(Keys()), slices.Sorted(maps.Keys(inFile)))
	}
}

func TestRequireClickHouse(t *testing.T) {
	c := Default()
	err := c.RequireClickHouse()
	if err == nil || !strings.HasPrefix(err.Error(), "clickhouse.addr: ") || !strings.Contains(err.Error(), "JOURNEYS_CLICKHOUSE_ADDR") {
		t.Errorf("RequireClickHouse on defaults = %v", err)
	}
	c.ClickHouse.Addr = []string{"ch:9000"}
	if err := c.RequireClickHouse(); err != nil {
		t.Errorf("RequireClickHouse with an address = %v", err)
	}
}

// TestEveryProblemNamesItsKey validates the zero Config, which is wrong in
// almost every key, and requires each problem to start with a real key.
func TestEveryProblemNamesItsKey(t *testing.T) {
	var c Config
	c.Kafka.Brokers = []string{"bad"}
	problems := flatten(c.Validate())
	if len(problems) < 20 {
		t.Errorf("only %d problems in the zero Config:\n%v", len(problems), c.Validate())
	}
	keys := Keys()
	for _, p := range problems {
		key, _, _ := strings.Cut(p.Error(), ": ")
		key, _, _ = strings.Cut(key, "[")
		if !slices.Contains(keys, key) {
			t.Errorf("problem %q does not start with a key", p)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ key, env, flag string }{
		{"kafka.brokers", "JOURNEYS_KAFKA_BROKERS", "kafka-brokers"},
		{"kafka.group_id", "JOURNEYS_KAFKA_GROUP_ID", "kafka-group-id"},
		{"clickhouse.password", "JOURNEYS_CLICKHOUSE_PASSWORD", "clickhouse-password"},
		{"journey_map", "JOURNEYS_JOURNEY_MAP", "journey-map"},
	} {
		if got := EnvName(tc.key); got != tc.env {
			t.Errorf("EnvName(%q) = %q, want %q", tc.key, got, tc.env)
		}
		if got := FlagName(tc.key); got != tc.flag {
			t.Errorf("FlagName(%q) = %q, want %q", tc.key, got, tc.flag)
		}
	}
	// The flags the brief promises, and no others.
	var got []string
	flags(t).VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
	want := []string{"clickhouse-addr", "clickhouse-database", "config", "http-listen",
		"journey-map", "kafka-brokers", "kafka-group-id", "kafka-topic", "log-level"}
	if !slices.Equal(got, want) {
		t.Errorf("flags = %q, want %q", got, want)
	}
	// Every key is unique and reachable from the environment.
	seen := map[string]bool{}
	for _, k := range Keys() {
		if seen[EnvName(k)] {
			t.Errorf("two keys share %s", EnvName(k))
		}
		seen[EnvName(k)] = true
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
