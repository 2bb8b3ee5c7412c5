package deploy

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/journeys-analytics/journeys/config"
)

// loadCompose loads docker-compose.yml as `docker compose` would, with schema
// validation, interpolation and the consistency checks (depends_on targets,
// declared volumes) on, and with an empty environment so that the defaults
// written in the file are what is checked.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.ResolvePaths = true })
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// envKeys maps every JOURNEYS_* variable to its config key.
func envKeys() map[string]string {
	out := map[string]string{}
	for _, k := range config.Keys() {
		out[config.EnvName(k)] = k
	}
	return out
}

func isCollector(s types.ServiceConfig) bool {
	return s.Image == "journeys:dev"
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	want := []string{"alertmanager", "clickhouse", "collector-1", "collector-2", "grafana", "kafka", "kafka-init", "prometheus"}
	if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	for name, s := range p.Services {
		if s.Image == "" {
			t.Errorf("%s: no image", name)
		}
		// A moving tag makes the stack differ between two laptops.
		if !isCollector(s) && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		for dep := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				// Compose would create a missing source as an empty
				// directory, and the service would start without its config.
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s: bind mount source: %v", name, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s: bind mount %s is writable; configuration mounts should be :ro", name, v.Source)
				}
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s: volume %s is not declared", name, v.Source)
				}
			default:
				t.Errorf("%s: unexpected volume type %s", name, v.Type)
			}
		}
	}
	for _, name := range []string{"kafka", "clickhouse"} {
		if p.Services[name].HealthCheck == nil {
			t.Errorf("%s has no healthcheck: collectors wait on it", name)
		}
	}
}

func TestComposeCollectors(t *testing.T) {
	p := loadCompose(t)
	keys := envKeys()
	var collectors []types.ServiceConfig
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if s := p.Services[name]; isCollector(s) {
			collectors = append(collectors, s)
		}
	}
	if len(collectors) != 2 {
		t.Fatalf("%d collectors, want 2", len(collectors))
	}
	groups := map[string]bool{}
	clientIDs := map[string]bool{}
	for _, s := range collectors {
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: not built from deploy/Dockerfile: %+v", s.Name, s.Build)
		}
		if s.User == "" || strings.HasPrefix(s.User, "0") || strings.HasPrefix(s.User, "root") {
			t.Errorf("%s: user %q: collectors run as non-root", s.Name, s.User)
		}
		for _, dep := range []string{"kafka-init", "clickhouse"} {
			if _, ok := s.DependsOn[dep]; !ok {
				t.Errorf("%s does not depend on %s", s.Name, dep)
			}
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			if !strings.HasPrefix(k, "JOURNEYS_") {
				continue
			}
			if _, ok := keys[k]; !ok {
				t.Errorf("%s: %s is not a config key's variable (see config.Keys)", s.Name, k)
			}
			if v == nil {
				t.Errorf("%s: %s has no value", s.Name, k)
				continue
			}
			env[k] = *v
		}
		// The environment must also be a valid configuration, as `journeys
		// run` would load it.
		if _, err := config.Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Errorf("%s: configuration from its environment:\n%v", s.Name, err)
		}
		groups[env[config.EnvName("kafka.group_id")]] = true
		clientIDs[env[config.EnvName("kafka.client_id")]] = true
		if env[config.EnvName("clickhouse.addr")] == "" || env[config.EnvName("kafka.brokers")] == "" {
			t.Errorf("%s: Kafka brokers or ClickHouse address not set", s.Name)
		}
		if !strings.HasPrefix(env[config.EnvName("http.listen")], "0.0.0.0:") {
			t.Errorf("%s: http.listen %q is not reachable from Prometheus's container", s.Name, env[config.EnvName("http.listen")])
		}
	}
	if len(groups) != 1 || groups[""] {
		t.Errorf("collectors' consumer groups = %v, want one shared group", slices.Collect(maps.Keys(groups)))
	}
	if len(clientIDs) != len(collectors) {
		t.Errorf("collectors' client ids = %v, want one each", slices.Collect(maps.Keys(clientIDs)))
	}
}

// TestComposePrometheus checks that the Prometheus configuration mounted into
// the stack scrapes both collectors and loads the mounted rules, so the
// dashboards have data and the alerts can fire.
func TestComposePrometheus(t *testing.T) {
	b, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `json:"targets"`
				} `json:"static_configs"`
			} `json:"alertmanagers"`
		} `json:"alerting"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	targets := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets[tg] = true
			}
		}
	}
	for _, want := range []string{"collector-1:9464", "collector-2:9464"} {
		if !targets[want] {
			t.Errorf("prometheus.yml does not scrape %s (targets %v)", want, slices.Sorted(maps.Keys(targets)))
		}
	}
	rules := false
	for _, f := range cfg.RuleFiles {
		rules = rules || f == "/etc/prometheus/rules.yml" || f == "rules.yml"
	}
	if !rules {
		t.Errorf("prometheus.yml rule_files %v does not load the mounted /etc/prometheus/rules.yml", cfg.RuleFiles)
	}
	am := false
	for _, a := range cfg.Alerting.Alertmanagers {
		for _, st := range a.StaticConfigs {
			am = am || slices.Contains(st.Targets, "alertmanager:9093")
		}
	}
	if !am {
		t.Error("prometheus.yml does not send alerts to alertmanager:9093")
	}
}

// TestComposeGrafana checks that the dashboard provider reads the directory
// the compose file mounts the dashboards into.
func TestComposeGrafana(t *testing.T) {
	files, err := filepath.Glob("grafana/provisioning/dashboards/*.y*ml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboard provider in grafana/provisioning/dashboards (%v)", err)
	}
	found := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var prov struct {
			Providers []struct {
				Options struct {
					Path string `json:"path"`
				} `json:"options"`
			} `json:"providers"`
		}
		if err := yaml.Unmarshal(b, &prov); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range prov.Providers {
			found = found || strings.TrimSuffix(p.Options.Path, "/") == "/var/lib/grafana/dashboards"
		}
	}
	if !found {
		t.Error("no Grafana dashboard provider reads /var/lib/grafana/dashboards, where docker-compose.yml mounts deploy/grafana/dashboards")
	}
	dash, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(dash) == 0 {
		t.Error("no dashboards in grafana/dashboards")
	}
}

// TestDockerfile checks the parts of the image that the compose file and the
// Kubernetes manifests rely on: a non-root user and only real config keys in
// its environment.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	keys := envKeys()
	// Joining continuation lines makes each instruction one line.
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var froms, users []string
	var envs []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			users = append(users, f[1])
		case "ENV":
			for _, kv := range f[1:] {
				k, _, _ := strings.Cut(kv, "=")
				envs = append(envs, k)
			}
		}
	}
	if len(froms) < 2 {
		t.Errorf("FROM %v: want a multi-stage build", froms)
	}
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1], "0") || strings.HasPrefix(users[len(users)-1], "root") {
		t.Errorf("USER %v: the image must run as non-root", users)
	}
	for _, k := range envs {
		if _, ok := keys[k]; strings.HasPrefix(k, "JOURNEYS_") && !ok {
			t.Errorf("Dockerfile ENV %s is not a config key's variable", k)
		}
	}
	if !strings.Contains(text, "CGO_ENABLED=1") {
		t.Error("the binary must be built with cgo (internal/localch)")
	}
}
