package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/collector"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/internal/retry"
	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

// tool finds a command-line tool of Debian's prometheus and
// prometheus-alertmanager packages (scripts/test.sh installs them). In CI a
// missing tool is a broken setup and fails; on a laptop without them the
// test says so and skips.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (apt-get install prometheus prometheus-alertmanager; scripts/test.sh does it)", name)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// runTool runs a tool and returns its standard output; amtool writes
// warnings to standard error.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool(t, name), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

func TestPrometheusRules(t *testing.T) {
	runTool(t, "promtool", "check", "rules", "prometheus/rules.yml")
	// Also loads rules.yml, relative to the config file, as the server would.
	runTool(t, "promtool", "check", "config", "prometheus/prometheus.yml")
	runTool(t, "promtool", "test", "rules", "prometheus/rules_test.yml")
}

// rulesFile is the part of rules.yml the tests look into.
type rulesFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) rulesFile {
	t.Helper()
	var rf rulesFile
	readYAML(t, "prometheus/rules.yml", &rf)
	if len(rf.Groups) == 0 {
		t.Fatal("rules.yml has no groups")
	}
	return rf
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestAlertConventions checks what Alertmanager and the on-call rely on:
// routing labels, a summary and a runbook on every alert, and a unit test in
// which every alert fires and one in which it does not.
func TestAlertConventions(t *testing.T) {
	rf := loadRules(t)
	var tests struct {
		GroupEvalOrder []string `yaml:"group_eval_order"`
		Tests          []struct {
			Name          string `yaml:"name"`
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []struct {
					ExpLabels map[string]string `yaml:"exp_labels"`
				} `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "prometheus/rules_test.yml", &tests)
	var groups []string
	for _, g := range rf.Groups {
		groups = append(groups, g.Name)
	}
	if !slices.Equal(tests.GroupEvalOrder, groups) {
		t.Errorf("rules_test.yml group_eval_order %v, want the groups of rules.yml in order %v (recording rules before the alerts that read them)", tests.GroupEvalOrder, groups)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	firingLabels := map[string][]map[string]string{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) == 0 {
				silent[a.Alertname] = true
			}
			for _, e := range a.ExpAlerts {
				fires[a.Alertname] = true
				firingLabels[a.Alertname] = append(firingLabels[a.Alertname], e.ExpLabels)
			}
		}
	}
	alerts := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			switch r.Labels["severity"] {
			case "page", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want page, warning or info", r.Alert, r.Labels["severity"])
			}
			comp := r.Labels["component"]
			if comp != "churn" && comp != "journey" && comp != "pipeline" {
				t.Errorf("%s: component %q, want churn, journey or pipeline (alertmanager.yml routes on it)", r.Alert, comp)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a runbook-style description", r.Alert)
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no test in rules_test.yml in which it fires", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("%s: no test in rules_test.yml in which it stays silent", r.Alert)
			}
			for _, l := range firingLabels[r.Alert] {
				if (comp == "churn" || comp == "journey") && l["persona"] == "" {
					t.Errorf("%s: fires without a persona label (%v): Alertmanager cannot route it to the persona's team", r.Alert, l)
				}
				if l["job"] == "" {
					t.Errorf("%s: fires without a job label (%v): the inhibit rules match on job", r.Alert, l)
				}
			}
		}
	}
	if alerts == 0 {
		t.Fatal("rules.yml defines no alerts")
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	const cfg = "alertmanager/alertmanager.yml"
	runTool(t, "amtool", "check-config", cfg)
	for _, tc := range []struct {
		labels   []string
		receiver string
	}{
		{[]string{"alertname=JourneysChurnHighRiskShareHigh", "component=churn", "persona=enterprise_buyer", "severity=warning"}, "team-enterprise"},
		{[]string{"alertname=JourneysChurnHighRiskGrowingFast", "component=churn", "persona=smb_owner", "severity=warning"}, "team-smb"},
		{[]string{"alertname=JourneysStageConversionDropped", "component=journey", "persona=developer", "severity=warning"}, "team-developer"},
		{[]string{"alertname=JourneysChurnHighRiskShareHigh", "component=churn", "persona=unassigned", "severity=warning"}, "journey-analysts"},
		{[]string{"alertname=JourneysClickHouseInsertsFailing", "component=pipeline", "severity=page"}, "data-oncall"},
		{[]string{"alertname=SomethingElse"}, "journey-analysts"},
	} {
		args := append([]string{"config", "routes", "test", "--config.file=" + cfg}, tc.labels...)
		got := strings.TrimSpace(runTool(t, "amtool", args...))
		if got != tc.receiver {
			t.Errorf("alert %v routed to %q, want %q", tc.labels, got, tc.receiver)
		}
	}
}

// dashboard is the part of a Grafana dashboard the tests look into.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
		Expr       string         `json:"expr"`
		RawSQL     string         `json:"rawSql"`
		QueryType  string         `json:"queryType"`
		Format     *int           `json:"format"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *datasourceRef  `json:"datasource"`
	Query      json.RawMessage `json:"query"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
}

// queryText is a variable's query: a string (ClickHouse, custom) or an
// object with a query field (Prometheus).
func (v variable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

// query is one query of a dashboard, named for error messages.
type query struct {
	where string
	ds    datasourceRef
	text  string
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in grafana/dashboards (%v)", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		var d dashboard
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("%s: data after the dashboard object", f)
		}
		out[f] = d
	}
	return out
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// queries lists every query of a dashboard with its data source: panel
// targets and query variables.
func (d dashboard) queries() []query {
	var out []query
	for _, p := range flatten(d.Panels) {
		for _, tg := range p.Targets {
			ds := tg.Datasource
			if ds == nil {
				ds = p.Datasource
			}
			q := query{where: fmt.Sprintf("%s panel %q target %s", d.UID, p.Title, tg.RefID)}
			if ds != nil {
				q.ds = *ds
			}
			q.text = tg.Expr
			if q.ds.Type == chType {
				q.text = tg.RawSQL
			}
			out = append(out, q)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := query{where: fmt.Sprintf("%s variable %s", d.UID, v.Name), text: v.queryText()}
		if v.Datasource != nil {
			q.ds = *v.Datasource
		}
		out = append(out, q)
	}
	return out
}

const (
	chType   = "grafana-clickhouse-datasource"
	promType = "prometheus"
)

// provisionedDatasources reads the uids and types of the provisioned data
// sources, which the dashboards must refer to.
func provisionedDatasources(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("grafana/provisioning/datasources/*.y*ml")
	out := map[string]string{}
	for _, f := range files {
		var p struct {
			Datasources []struct {
				UID  string `yaml:"uid"`
				Type string `yaml:"type"`
			} `yaml:"datasources"`
		}
		readYAML(t, f, &p)
		for _, d := range p.Datasources {
			out[d.UID] = d.Type
		}
	}
	if len(out) == 0 {
		t.Fatal("no data sources provisioned in grafana/provisioning/datasources")
	}
	return out
}

var varRef = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)`)

func TestDashboards(t *testing.T) {
	dss := provisionedDatasources(t)
	uids := map[string]string{}
	for f, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: needs a uid and a title", f)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share the uid %s", f, other, d.UID)
		}
		uids[d.UID] = f
		ids := map[int]bool{}
		for _, p := range flatten(d.Panels) {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", f, p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.Type != chType {
					continue
				}
				// The plugin's (v4) query types, and the backend's format
				// codes that go with them (sqlutil: 0 time series, 1 table).
				want, ok := map[string]int{"timeSeries": 0, "table": 1}[tg.QueryType]
				if !ok || tg.Format == nil || *tg.Format != want {
					t.Errorf("%s: panel %q target %s: queryType %q with format %v; want timeSeries/0 or table/1", f, p.Title, tg.RefID, tg.QueryType, tg.Format)
				}
				if (p.Type == "timeseries") != (tg.QueryType == "timeSeries") {
					t.Errorf("%s: panel %q of type %s has a %s query", f, p.Title, p.Type, tg.QueryType)
				}
			}
		}
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
		}
		qs := d.queries()
		if len(qs) == 0 {
			t.Errorf("%s: no queries", f)
		}
		for _, q := range qs {
			if typ, ok := dss[q.ds.UID]; !ok || typ != q.ds.Type {
				t.Errorf("%s: data source %+v is not a provisioned one (%v)", q.where, q.ds, dss)
			}
			if strings.TrimSpace(q.text) == "" {
				t.Errorf("%s: empty query", q.where)
			}
			for _, m := range varRef.FindAllStringSubmatch(q.text, -1) {
				name := m[1] + m[3]
				if !strings.HasPrefix(name, "__") && !vars[name] {
					t.Errorf("%s: uses $%s, which the dashboard does not define", q.where, name)
				}
			}
		}
	}
}

// --- metric names -----------------------------------------------------------

// recorder is a Registerer that remembers the names every registered
// collector describes, including vectors that have no series yet (which a
// scrape would not show), and the kind of the ones it can tell.
type recorder struct {
	prometheus.Registerer
	names  map[string]string   // name → "histogram", "summary" or ""
	labels map[string][]string // name → variable and constant label names
}

var (
	fqName     = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)
	constLabel = regexp.MustCompile(`(\w+)="`)
)

func (r *recorder) Register(c prometheus.Collector) error {
	kind := ""
	switch c.(type) {
	case prometheus.Histogram, *prometheus.HistogramVec:
		kind = "histogram"
	case prometheus.Summary, *prometheus.SummaryVec:
		kind = "summary"
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		r.names[m[1]] = kind
		if l := descLabels.FindStringSubmatch(d.String()); l != nil {
			for _, cl := range constLabel.FindAllStringSubmatch(l[1], -1) {
				r.labels[m[1]] = append(r.labels[m[1]], cl[1])
			}
			for _, vl := range strings.Split(l[2], ",") {
				if vl = strings.TrimSuffix(strings.TrimPrefix(vl, "c("), ")"); vl != "" {
					r.labels[m[1]] = append(r.labels[m[1]], vl)
				}
			}
		}
	}
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// registeredMetrics builds the collector's parts as cmd/journeys does, on a
// recording registry, and returns every series name they can expose
// (histograms and summaries with their suffixes) with the label names its
// series can carry once scraped.
func registeredMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg := prometheus.NewRegistry()
	rec := &recorder{Registerer: reg, names: map[string]string{}, labels: map[string][]string{}}
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	log := slog.New(slog.DiscardHandler)
	cfg := config.Default()

	jm, err := enrich.Load("journey-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(ctx, t, testenv.ClickHouse(t), rec)
	validator, err := schemas.NewValidator(schemas.Limits{
		MaxEventBytes:   cfg.Schema.MaxEventBytes,
		MaxDepth:        cfg.Schema.MaxDepth,
		FutureTolerance: cfg.Schema.FutureTolerance,
	})
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(collector.Config{
		DedupIDs: cfg.Batch.DedupIDs,
		Retry:    retry.Policy{Initial: cfg.Batch.RetryInitial, Max: cfg.Batch.RetryMax},
	}, log, rec, store, jm)
	if _, err := ingest.New(ingest.Config{
		Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.Topic, GroupID: cfg.Kafka.GroupID,
		DeadLetterTopic: cfg.Kafka.DeadLetterTopic,
		BatchMaxRows:    cfg.Batch.MaxRows, BatchMaxBytes: cfg.Batch.MaxBytes, BatchMaxWait: cfg.Batch.MaxWait,
		RetryInitial: cfg.Batch.RetryInitial, RetryMax: cfg.Batch.RetryMax,
	}, log, rec, validator, coll); err != nil {
		t.Fatal(err)
	}

	// Custom collectors say their kind only through the series they emit.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetType().String() {
		case "HISTOGRAM", "GAUGE_HISTOGRAM":
			rec.names[mf.GetName()] = "histogram"
		case "SUMMARY":
			rec.names[mf.GetName()] = "summary"
		}
	}
	out := map[string]map[string]bool{}
	add := func(name string, extra ...string) {
		ls := map[string]bool{"job": true, "instance": true} // target labels
		for _, l := range append(rec.labels[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")], extra...) {
			ls[l] = true
		}
		out[name] = ls
	}
	for n, kind := range rec.names {
		switch kind {
		case "histogram":
			add(n+"_bucket", "le")
			add(n + "_sum")
			add(n + "_count")
		case "summary":
			add(n, "quantile")
			add(n + "_sum")
			add(n + "_count")
		default:
			add(n)
		}
	}
	return out
}

func openStore(ctx context.Context, t *testing.T, ch testenv.CH, reg prometheus.Registerer) *aggregate.Store {
	t.Helper()
	store, err := aggregate.Open(ctx, aggregate.Config{
		Addrs: []string{ch.Addr}, Protocol: "native", Database: ch.Database, Username: "default",
		DialTimeout: 5 * time.Second, MaxOpenConns: 2, DedupWindow: 1000,
	}, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promOffset   = regexp.MustCompile(`\boffset\s+-?\w+`)
	promNumbers  = regexp.MustCompile(`(^|[^\w:.])(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][\w:]*`)
	labelValues  = regexp.MustCompile(`^\s*label_values\(\s*([a-zA-Z_:][\w:]*)`)
	promKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "offset": true, "bool": true, "inf": true, "nan": true,
		"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true, "stddev": true,
		"stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
	}
)

// promMetricNames returns the metric names a PromQL expression (or a Grafana
// label_values() variable query) selects: identifiers left once strings,
// label matchers, ranges, grouping clauses and numbers are removed, that are
// neither keywords nor followed by "(" (functions).
func promMetricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, "{}")
	s = promRanges.ReplaceAllString(s, "[]")
	s = promGrouping.ReplaceAllString(s, "$1")
	s = promOffset.ReplaceAllString(s, "")
	s = promNumbers.ReplaceAllString(s, "$1")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if promKeywords[strings.ToLower(name)] || strings.HasPrefix(rest, "(") {
			continue
		}
		out = append(out, name)
	}
	return out
}

var (
	promSelector = regexp.MustCompile(`([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}`)
	promMatcher  = regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)\s*"`)
	promBy       = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// checkLabels reports label names that the metrics of expr cannot carry: in
// the label matchers of a registered metric, and in by() clauses of an
// expression that reads registered metrics only. A recording rule's labels
// (nil in known) are left to the promtool tests.
func checkLabels(expr string, names []string, known map[string]map[string]bool) []error {
	var errs []error
	for _, m := range promSelector.FindAllStringSubmatch(expr, -1) {
		ls, ok := known[m[1]]
		if !ok || ls == nil {
			continue
		}
		for _, lm := range promMatcher.FindAllStringSubmatch(m[2], -1) {
			if !ls[lm[1]] {
				errs = append(errs, fmt.Errorf("%s has no label %s", m[1], lm[1]))
			}
		}
	}
	union := map[string]bool{}
	for _, n := range names {
		ls, ok := known[n]
		if !ok || ls == nil {
			return errs
		}
		maps.Copy(union, ls)
	}
	for _, m := range promBy.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !union[l] {
				errs = append(errs, fmt.Errorf("by (%s): none of %v has the label %s", m[1], names, l))
			}
		}
	}
	return errs
}

func TestPromMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (job, persona) (rate(a_total{x="y"}[5m])) / on (job) group_left (z) b:c:d > 0.5`:          {"a_total", "b:c:d"},
		`histogram_quantile(0.99, sum by (le) (rate(h_bucket{job=~"$job"}[5m])))`:                         {"h_bucket"},
		`x{band="high"} - (x{band="high"} offset 1h) >= 20 and y2 > 1e6 or absent(up)`:                    {"x", "x", "y2", "up"},
		`label_values(journeys_churn_tracked_customers{job=~"$job"}, persona)`:                            {"journeys_churn_tracked_customers"},
		`max by (persona) (journeys_churn_risk_score{quantile="0.99", job=~"$job"}) unless bool rate5m_x`: {"journeys_churn_risk_score", "rate5m_x"},
	} {
		if got := promMetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("promMetricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}

// TestMetricsExist checks that every metric the rules and the Prometheus
// dashboard query is one the collector registers, or a recording rule.
func TestMetricsExist(t *testing.T) {
	known := registeredMetrics(t)
	known["up"] = map[string]bool{"job": true, "instance": true} // written by Prometheus for every target
	rf := loadRules(t)
	type use struct{ where, expr string }
	var uses []use
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = nil // labels not checked: promtool tests them
			}
			uses = append(uses, use{fmt.Sprintf("rules.yml %s%s", r.Record, r.Alert), r.Expr})
		}
	}
	for _, d := range loadDashboards(t) {
		for _, q := range d.queries() {
			if q.ds.Type == promType {
				uses = append(uses, use{q.where, q.text})
			}
		}
	}
	missing := map[string][]string{}
	for _, u := range uses {
		names := promMetricNames(u.expr)
		if len(names) == 0 {
			t.Errorf("%s: found no metric in %q", u.where, u.expr)
		}
		for _, n := range names {
			if _, ok := known[n]; !ok {
				missing[n] = append(missing[n], u.where)
			}
		}
		for _, err := range checkLabels(u.expr, names, known) {
			t.Errorf("%s: %v", u.where, err)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(missing)) {
		t.Errorf("metric %s is not registered by the collector nor recorded by a rule; used by:\n  %s", n, strings.Join(slices.Compact(missing[n]), "\n  "))
	}
	if t.Failed() {
		var journeys []string
		for n := range known {
			if strings.HasPrefix(n, "journeys") {
				journeys = append(journeys, n)
			}
		}
		slices.Sort(journeys)
		t.Logf("known journeys metrics and recording rules:\n  %s", strings.Join(journeys, "\n  "))
	}
}

// --- dashboard SQL ----------------------------------------------------------

// Grafana time range used for the macros in the tests.
type timeRange struct{ from, to time.Time }

var (
	chMacro = regexp.MustCompile(`\$__(\w+)(?:\(([^)]*)\))?`)
	sqlRels = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([a-z_]\w*)`)
)

// expandMacros does what the grafana-clickhouse-datasource plugin (v4) does
// with its macros on the server side.
func expandMacros(sql string, tr timeRange) (string, error) {
	var errs []string
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	dt64 := func(t time.Time) string { return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli()) }
	d := func(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format("2006-01-02")) }
	out := chMacro.ReplaceAllStringFunc(sql, func(m string) string {
		sub := chMacro.FindStringSubmatch(m)
		name, args := sub[1], strings.Split(sub[2], ",")
		for i := range args {
			args[i] = strings.TrimSpace(args[i])
		}
		between := func(col string, f func(time.Time) string) string {
			return fmt.Sprintf("%s >= %s AND %s <= %s", col, f(tr.from), col, f(tr.to))
		}
		switch name {
		case "timeFilter":
			return between(args[0], dt)
		case "timeFilter_ms":
			return between(args[0], dt64)
		case "dateFilter":
			return between(args[0], d)
		case "dateTimeFilter", "dt":
			return "(" + between(args[0], d) + ") AND (" + between(args[1], dt) + ")"
		case "fromTime":
			return dt(tr.from)
		case "toTime":
			return dt(tr.to)
		case "fromTime_ms":
			return dt64(tr.from)
		case "toTime_ms":
			return dt64(tr.to)
		case "timeInterval":
			return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL 3600 second)", args[0])
		case "interval_s":
			return "3600"
		}
		errs = append(errs, m)
		return m
	})
	if len(errs) > 0 {
		return "", fmt.Errorf("unknown macros %v", errs)
	}
	return out, nil
}

// interpolate substitutes template variables as Grafana does before it sends
// a query: multi-value variables with :singlequote become 'a','b'.
func interpolate(sql string, vars map[string][]string) (string, error) {
	var errs []string
	out := varRef.ReplaceAllStringFunc(sql, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name, format := sub[1]+sub[3], sub[2]
		if strings.HasPrefix(name, "__") {
			return m // a macro
		}
		vals, ok := vars[name]
		if !ok {
			errs = append(errs, m)
			return m
		}
		switch format {
		case "singlequote":
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			}
			return strings.Join(q, ",")
		case "", "raw", "text", "csv":
			return strings.Join(vals, ",")
		}
		errs = append(errs, m)
		return m
	})
	if len(errs) > 0 {
		return "", fmt.Errorf("cannot interpolate %v", errs)
	}
	return out, nil
}

// seedEvents inserts a few customers walking through the lifecycle journey,
// so that every view has rows and the variable queries return values.
func seedEvents(ctx context.Context, t *testing.T, conn clickhouse.Conn, db string) {
	t.Helper()
	stages := []string{"awareness", "consideration", "purchase", "retention", "advocacy"}
	personas := []string{"enterprise_buyer", "smb_owner", "developer", "unassigned"}
	now := time.Now().UTC()
	var rows []string
	n := 0
	for c := range 12 {
		persona := personas[c%len(personas)]
		// Customer c reaches stages 0..c%5, one day apart, starting 20 days ago.
		for s := 0; s <= c%len(stages); s++ {
			ts := now.Add(-time.Duration(20-s) * 24 * time.Hour).Add(time.Duration(c) * time.Minute)
			n++
			rows = append(rows, fmt.Sprintf("('e%d', 'track', 'Seed', 'c%d', %d, 'lifecycle', '%s', 't', '%s', %d, %t)",
				n, c, ts.UnixMilli(), stages[s], persona, s, s == 3 && c%2 == 0))
		}
	}
	q := fmt.Sprintf(`INSERT INTO %s.events (event_id, type, event, customer_id, ts, journey, stage, touchpoint, persona, stage_index, negative)
SELECT event_id, type, event, customer_id, fromUnixTimestamp64Milli(ms), journey, stage, touchpoint, persona, stage_index, negative
FROM values('event_id String, type String, event String, customer_id String, ms Int64, journey String, stage String, touchpoint String, persona String, stage_index UInt8, negative Bool', %s)`,
		db, strings.Join(rows, ", "))
	if err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("seed events: %v", err)
	}
	// Two scores per customer, the latest one decides its band.
	q = fmt.Sprintf(`INSERT INTO %s.churn_scores (scored_at, customer_id, persona, journey, furthest_stage, stage_index, risk, band)
SELECT now64(3) - toIntervalHour(h), concat('c', toString(c)), ['enterprise_buyer', 'smb_owner', 'developer', 'unassigned'][c %% 4 + 1],
       'lifecycle', 'purchase', 2, r, multiIf(r >= 0.7, 'high', r >= 0.4, 'medium', 'low')
FROM (SELECT number AS c, arrayJoin([1, 0]) AS h, (c %% 10) / 10 + h / 100 AS r FROM numbers(12))`, db)
	if err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("seed churn_scores: %v", err)
	}
}

// TestDashboardSQL runs every ClickHouse query of the dashboards, with the
// plugin's macros and the template variables substituted, against a database
// migrated by the collector and holding a few journeys.
func TestDashboardSQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch := testenv.ClickHouse(t)
	openStore(ctx, t, ch, nil)
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{ch.Addr},
		Auth: clickhouse.Auth{Database: ch.Database, Username: "default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	seedEvents(ctx, t, conn, ch.Database)

	rels := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		rels[n] = true
	}
	rows.Close()

	now := time.Now().UTC()
	tr := timeRange{from: now.Add(-30 * 24 * time.Hour), to: now}
	ran := 0
	for _, d := range loadDashboards(t) {
		vars := map[string][]string{}
		// Variables in order, as Grafana resolves them: a query variable
		// takes every value its query returns (the "All" option).
		for _, v := range d.Templating.List {
			switch v.Type {
			case "custom", "constant", "textbox":
				vars[v.Name] = []string{fmt.Sprint(v.Current.Value)}
			case "query":
				if v.Datasource == nil || v.Datasource.Type != chType {
					continue
				}
				sql := runnable(t, v.queryText(), vars, tr, "variable "+v.Name)
				vals := runQuery(ctx, t, conn, sql, "variable "+v.Name)
				if len(vals) == 0 {
					t.Fatalf("%s variable %s: no values from the seeded data", d.UID, v.Name)
				}
				vars[v.Name] = vals
			}
		}
		for _, q := range d.queries() {
			if q.ds.Type != chType {
				continue
			}
			for _, m := range sqlRels.FindAllStringSubmatch(q.text, -1) {
				if !rels[m[1]] {
					t.Errorf("%s: reads %s, which the migrations do not create", q.where, m[1])
				}
			}
			sql := runnable(t, q.text, vars, tr, q.where)
			got := runQuery(ctx, t, conn, sql, q.where)
			if len(got) == 0 {
				t.Errorf("%s: no rows from the seeded data:\n%s", q.where, sql)
			}
			t.Logf("%s: %d rows, first column %v", q.where, len(got), got[:min(len(got), 6)])
			ran++
		}
	}
	if ran == 0 {
		t.Fatal("no ClickHouse query in the dashboards")
	}
}

func runnable(t *testing.T, sql string, vars map[string][]string, tr timeRange, where string) string {
	t.Helper()
	s, err := interpolate(sql, vars)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if s, err = expandMacros(s, tr); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return s
}

// runQuery returns the first column of every row, as text.
func runQuery(ctx context.Context, t *testing.T, conn clickhouse.Conn, sql, where string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT toString(tuple(*).1) FROM ("+sql+")")
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, sql)
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Errorf("%s: %v\n%s", where, err, sql)
	}
	return out
}

// --- dashboard PromQL -------------------------------------------------------

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.*),\s*(\w+)\s*\)\s*$`)

// TestDashboardPromQL sends every Prometheus query of the dashboards, with
// the template variables substituted, to a real Prometheus server: promtool
// checks the rules, but nothing else would parse the dashboards' PromQL.
func TestDashboardPromQL(t *testing.T) {
	bin := tool(t, "prometheus")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := startPrometheus(ctx, t, bin)
	vars := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h",
		"$job", ".*", "$persona", ".*", "$journey", ".*")
	n := 0
	for _, d := range loadDashboards(t) {
		for _, q := range d.queries() {
			if q.ds.Type != promType {
				continue
			}
			expr := q.text
			if m := labelValuesQuery.FindStringSubmatch(expr); m != nil {
				expr = fmt.Sprintf("count by (%s) (%s)", m[2], m[1])
			}
			expr = vars.Replace(expr)
			if strings.Contains(expr, "$") {
				t.Errorf("%s: variable left in %q", q.where, expr)
				continue
			}
			if err := promQuery(ctx, base, expr); err != nil {
				t.Errorf("%s: %v", q.where, err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no Prometheus query in the dashboards")
	}
}

// startPrometheus runs a Prometheus server with no targets until the test
// ends and returns its base URL.
func startPrometheus(ctx context.Context, t *testing.T, bin string) string {
	t.Helper()
	return testenv.Prometheus(ctx, t, bin, "global:\n  scrape_interval: 15s\n")
}

func promQuery(ctx context.Context, base, expr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s", expr, r.Error)
	}
	return nil
}
