// Package docs holds the user documentation. Its test runs every example
// query of analysts.md against a migrated database seeded with known events
// and compares each result with the answer worked out here, in Go, from the
// seed itself — never with what ClickHouse returned before.
package docs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

// The seeded journey: four stages with their touchpoints, as a journey map
// would tag them.
var stages = []struct {
	name        string
	touchpoints []string
}{
	{"awareness", []string{"ad_click", "blog_visit"}},
	{"consideration", []string{"pricing_page", "demo_request"}},
	{"purchase", []string{"checkout"}},
	{"retention", []string{"feature_use", "support_ticket"}},
}

const (
	journey  = "lifecycle"
	topic    = "docs"
	negative = "support_ticket"
)

var personas = []string{"developer", "enterprise_buyer", "smb_owner"}

// ev is one seeded event.
type ev struct {
	customer   string
	persona    string
	stage      int // -1: no touchpoint (a page view matching nothing)
	touchpoint string
	ts         time.Time
}

// seed builds customers walking the journey: each starts in awareness at a
// random time over three days, may go on stage by stage (sometimes skipping
// consideration) with gaps of minutes to days, revisits earlier stages, and
// one in eight changes persona on its last event. Every customer's events
// have distinct timestamps, so "latest" is never a tie.
func seed() []ev {
	r := rand.New(rand.NewPCG(2024, 3))
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var out []ev
	for i := range 80 {
		c := fmt.Sprintf("c%02d", i)
		p := personas[r.IntN(len(personas))]
		t := base.Add(time.Duration(r.IntN(72*3600)) * time.Second)
		var mine []ev
		add := func(stage int) {
			tp := ""
			if stage >= 0 {
				tps := stages[stage].touchpoints
				tp = tps[r.IntN(len(tps))]
			}
			mine = append(mine, ev{customer: c, persona: p, stage: stage, touchpoint: tp, ts: t})
			t = t.Add(time.Duration(1+r.IntN(3600)) * time.Second)
		}
		furthest := r.IntN(4)
		for s := 0; s <= furthest; s++ {
			if s == 1 && furthest > 1 && r.IntN(5) == 0 {
				continue // skips consideration
			}
			for range 1 + r.IntN(2) {
				add(s)
			}
			if r.IntN(3) == 0 {
				add(-1)
			}
			if r.IntN(4) == 0 && s > 0 {
				add(0) // back to awareness content
			}
			// The gap to the next stage: minutes to four days.
			t = t.Add(time.Duration(math.Exp(r.Float64()*math.Log(4*24*60))) * time.Minute)
		}
		if r.IntN(8) == 0 {
			mine[len(mine)-1].persona = personas[(slices.Index(personas, p)+1)%len(personas)]
		}
		out = append(out, mine...)
	}
	return out
}

func enriched(e ev, offset int64) schemas.Enriched {
	x := schemas.Enriched{
		Event: schemas.Event{
			EventID:           fmt.Sprintf("e%d", offset),
			Type:              schemas.TypeTrack,
			Event:             "Something",
			UserID:            e.customer,
			Timestamp:         e.ts,
			OriginalTimestamp: e.ts,
			ReceivedAt:        e.ts.Add(time.Second),
			RawProperties:     []byte(`{}`),
			RawTraits:         []byte(`{}`),
			Context:           schemas.Context{Channel: "web"},
		},
		Source:     schemas.Source{Topic: topic, Offset: offset},
		CustomerID: e.customer,
		Persona:    e.persona,
		MapVersion: "docs@000000000000",
	}
	if e.stage >= 0 {
		x.Journey, x.Stage, x.StageIndex, x.Touchpoint = journey, stages[e.stage].name, uint8(e.stage), e.touchpoint
		x.Negative = e.touchpoint == negative
	} else {
		x.Type, x.Event.Event = schemas.TypePage, "Careers"
	}
	return x
}

// churnAsOf is when the seeded churn sweeps ran; two sweeps, the second
// superseding the first for the customers it scores.
var churnAsOf = time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)

func churnScores(sweep int) []aggregate.ChurnScore {
	mk := func(c, persona, band string, risk, inact, decl, stall, neg float32, idle uint32) aggregate.ChurnScore {
		return aggregate.ChurnScore{CustomerID: c, Persona: persona, Journey: journey, FurthestStage: "purchase",
			StageIndex: 2, StageReachedAt: churnAsOf.Add(-72 * time.Hour), Risk: risk, Band: band,
			Inactivity: inact, Decline: decl, Stall: stall, Negative: neg, IdleSeconds: idle,
			LastSeen: churnAsOf.Add(-time.Duration(idle) * time.Second), Events: 7}
	}
	if sweep == 0 {
		return []aggregate.ChurnScore{
			mk("k1", "smb_owner", "low", 0.25, 0.25, 0, 0.25, 0, 3600),
			mk("k2", "smb_owner", "high", 0.875, 0.75, 0.5, 0.75, 0.5, 86400),
			mk("k3", "smb_owner", "medium", 0.5, 0.5, 0.25, 0.5, 0, 43200),
			mk("k4", "developer", "high", 0.75, 0.75, 0.5, 0.5, 0, 90000),
		}
	}
	return []aggregate.ChurnScore{
		mk("k1", "smb_owner", "high", 0.625, 0.5, 0.25, 0.5, 0.25, 172800), // rose
		mk("k2", "smb_owner", "low", 0.125, 0, 0, 0.25, 0, 600),            // came back
	}
}

// example is one fenced ```sql block of analysts.md.
type example struct {
	name   string
	query  string
	params map[string]string
}

var (
	fence     = regexp.MustCompile("(?s)```sql\n(.*?)```")
	marker    = regexp.MustCompile(`(?m)^-- example: ([a-z0-9_]+)\s*$`)
	paramLine = regexp.MustCompile(`(?m)^-- params: (.*)$`)
)

func examples(t *testing.T) []example {
	t.Helper()
	md, err := os.ReadFile("analysts.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, m := range fence.FindAllStringSubmatch(string(md), -1) {
		q := m[1]
		name := marker.FindStringSubmatch(q)
		if name == nil {
			t.Fatalf("a sql block of analysts.md has no '-- example: NAME' line, so no test runs it:\n%s", q)
		}
		ex := example{name: name[1], query: q, params: map[string]string{}}
		if p := paramLine.FindStringSubmatch(q); p != nil {
			for _, kv := range strings.Fields(p[1]) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("example %s: params: %q is not name=value", ex.name, kv)
				}
				ex.params[k] = v
			}
		}
		out = append(out, ex)
	}
	return out
}

func TestAnalystExamples(t *testing.T) {
	exs := examples(t)
	evs := seed()
	want := expectations(evs)
	for _, ex := range exs {
		if _, ok := want[ex.name]; !ok {
			t.Errorf("example %s has no expectation in docs_test.go", ex.name)
		}
	}
	if names := slices.Sorted(maps.Keys(want)); len(exs) != len(names) {
		t.Errorf("analysts.md has %d examples, the test expects %d: %v", len(exs), len(names), names)
	}

	ctx := context.Background()
	ch := testenv.ClickHouse(t)
	store, err := aggregate.Open(ctx, aggregate.Config{Addrs: []string{ch.Addr}, Database: ch.Database, DedupWindow: 100},
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Two batches, so views see more than one insert block.
	half := len(evs) / 2
	for _, part := range []struct{ first, last int }{{0, half - 1}, {half, len(evs) - 1}} {
		b := &aggregate.Batch{Topic: topic, First: int64(part.first), Last: int64(part.last)}
		for i := part.first; i <= part.last; i++ {
			b.Rows = append(b.Rows, enriched(evs[i], int64(i)))
		}
		if err := store.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for sweep := range 2 {
		at := churnAsOf.Add(time.Duration(sweep-1) * time.Hour)
		if err := store.WriteChurnScores(ctx, topic, 0, at, churnScores(sweep)); err != nil {
			t.Fatal(err)
		}
	}

	for _, ex := range exs {
		t.Run(ex.name, func(t *testing.T) {
			got := queryTSV(t, ch, ex)
			w := want[ex.name]
			if len(w) == 0 {
				t.Fatal("the expectation is empty: the example would prove nothing")
			}
			t.Logf("%d rows, e.g. %q", len(got), got[0])
			if !sameTSV(got, w) {
				t.Errorf("result differs from the expectation\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
			}
		})
	}
}

// queryTSV runs an example over HTTP, as clickhouse-client would with
// --param_NAME=VALUE, in the test's database.
func queryTSV(t *testing.T, ch testenv.CH, ex example) []string {
	t.Helper()
	v := url.Values{"database": {ch.Database}, "default_format": {"TabSeparated"}}
	for k, p := range ex.params {
		v.Set("param_"+k, p)
	}
	resp, err := http.Post("http://"+ch.HTTPAddr+"/?"+v.Encode(), "text/plain", strings.NewReader(ex.query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	s := strings.TrimRight(string(body), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// sameTSV compares row by row and cell by cell; cells that are both numbers
// compare as numbers (to 1e-9 relative), so 0.5 and 0.50 agree.
func sameTSV(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := strings.Split(got[i], "\t"), strings.Split(want[i], "\t")
		if len(g) != len(w) {
			return false
		}
		for j := range g {
			if g[j] == w[j] {
				continue
			}
			gf, err1 := strconv.ParseFloat(g[j], 64)
			wf, err2 := strconv.ParseFloat(w[j], 64)
			if err1 != nil || err2 != nil || math.Abs(gf-wf) > 1e-9*math.Max(1, math.Abs(wf)) {
				return false
			}
		}
	}
	return true
}

func row(cells ...any) string {
	s := make([]string, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case float64:
			s[i] = strconv.FormatFloat(v, 'f', -1, 64)
		case float32:
			s[i] = strconv.FormatFloat(float64(v), 'f', -1, 32)
		case time.Time:
			s[i] = v.UTC().Format("2006-01-02 15:04:05.000")
		default:
			s[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(s, "\t")
}
