package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/journeys-analytics/journeys/aggregate"
)

type cellKey struct {
	lane  string // persona, or "*" for all personas
	stage int
}

type cellWant struct {
	reached, progressed, dropped uint64
	conversion, p50              float64
}

type touchKey struct {
	lane, touchpoint string
	stage            int
}

// want computes what the page must show for a journey and filter, from the
// views an analyst would query: stage_conversion_daily (through
// Store.StageConversion, which sums it over days), time_to_convert (the view
// itself without day bounds, else Store.TimeToConvert which filters its base
// view by day) and events for the touchpoints.
func want(t *testing.T, fx *fixture, f aggregate.Filter) (map[cellKey]cellWant, map[touchKey]uint64) {
	t.Helper()
	ctx := context.Background()
	cells := map[cellKey]cellWant{}
	conv, err := fx.store.StageConversion(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conv {
		k := cellKey{c.Persona, int(c.StageIndex)}
		cells[k] = cellWant{reached: c.Reached, progressed: c.Progressed, dropped: c.DroppedOff, conversion: c.ConversionRate}
		all := cells[cellKey{"*", int(c.StageIndex)}]
		all.reached += c.Reached
		all.progressed += c.Progressed
		all.dropped += c.DroppedOff
		cells[cellKey{"*", int(c.StageIndex)}] = all
	}
	for k, c := range cells {
		if k.lane == "*" && c.reached > 0 {
			c.conversion = float64(c.progressed) / float64(c.reached)
			cells[k] = c
		}
	}
	setP50 := func(lane string, stage uint8, p50 float64) {
		k := cellKey{lane, int(stage)}
		c := cells[k]
		c.p50 = p50
		cells[k] = c
	}
	if f.From.IsZero() && f.To.IsZero() && f.Persona == "" {
		fx.query(t, `SELECT persona, stage_index, p50_seconds FROM time_to_convert WHERE journey = {j:String}`,
			func(r driver.Rows) error {
				var p string
				var s uint8
				var v float64
				if err := r.Scan(&p, &s, &v); err != nil {
					return err
				}
				setP50(p, s, v)
				return nil
			}, clickhouse.Named("j", f.Journey))
	} else {
		ttc, err := fx.store.TimeToConvert(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ttc {
			setP50(r.Persona, r.StageIndex, r.P50Seconds)
		}
	}
	// Over all personas: time_to_convert's definition without its GROUP BY
	// persona.
	days, args := dayBounds(f)
	if f.Persona == "" {
		fx.query(t, `SELECT stage_index, quantileExact(0.5)(assumeNotNull(seconds_to_next_stage))
FROM customer_stage_progress WHERE journey = {j:String} AND has_later_stage`+days+` GROUP BY stage_index`,
			func(r driver.Rows) error {
				var s uint8
				var v float64
				if err := r.Scan(&s, &v); err != nil {
					return err
				}
				setP50("*", s, v)
				return nil
			}, append(args, clickhouse.Named("j", f.Journey))...)
	}

	touches := map[touchKey]uint64{}
	tdays, targs := dayBounds(f)
	tdays = strings.ReplaceAll(tdays, "day", "toDate(ts)")
	persona := ""
	if f.Persona != "" {
		persona = " AND persona = {p:String}"
		targs = append(targs, clickhouse.Named("p", f.Persona))
	}
	for _, by := range []string{"persona", "'*'"} {
		fx.query(t, `SELECT `+by+`, stage_index, touchpoint, uniqExact(customer_id) FROM events
WHERE journey = {j:String}`+persona+tdays+` GROUP BY 1, stage_index, touchpoint`,
			func(r driver.Rows) error {
				var k touchKey
				var s uint8
				var n uint64
				if err := r.Scan(&k.lane, &s, &k.touchpoint, &n); err != nil {
					return err
				}
				k.stage = int(s)
				touches[k] = n
				return nil
			}, append(targs, clickhouse.Named("j", f.Journey))...)
	}
	if f.Persona != "" {
		// The page shows only the persona's lane.
		for k := range cells {
			if k.lane == "*" {
				delete(cells, k)
			}
		}
		for k := range touches {
			if k.lane == "*" {
				delete(touches, k)
			}
		}
	}
	return cells, touches
}

func dayBounds(f aggregate.Filter) (string, []any) {
	var cond string
	var args []any
	if !f.From.IsZero() {
		cond += " AND day >= {from:Date}"
		args = append(args, clickhouse.Named("from", f.From.Format(time.DateOnly)))
	}
	if !f.To.IsZero() {
		cond += " AND day <= {to:Date}"
		args = append(args, clickhouse.Named("to", f.To.Format(time.DateOnly)))
	}
	return cond, args
}

// checkPage compares every number of a rendered journey map page with want.
// It returns how many cells and touchpoints it compared.
func checkPage(t *testing.T, fx *fixture, page string, f aggregate.Filter) (int, int) {
	t.Helper()
	cells, touches := want(t, fx, f)
	var stages int
	for _, j := range fx.jm.Journeys() {
		if j.Name == f.Journey {
			stages = len(j.Stages)
		}
	}
	got := elements(page, cellRE)
	if len(got) == 0 || len(got)%stages != 0 {
		t.Fatalf("%d cells on the page, want a multiple of %d stages", len(got), stages)
	}
	shown := map[cellKey]bool{}
	for _, e := range got {
		k := cellKey{e["data-lane"], int(e.uint(t, "data-stage-index"))}
		shown[k] = true
		w := cells[k]
		g := cellWant{
			reached: e.uint(t, "data-reached"), progressed: e.uint(t, "data-progressed"),
			dropped: e.uint(t, "data-dropped"), conversion: e.float(t, "data-conversion"),
			p50: e.float(t, "data-median-seconds"),
		}
		if g != w {
			t.Errorf("cell %v: page shows %+v, ClickHouse views say %+v", k, g, w)
		}
	}
	for k, w := range cells {
		if w.reached > 0 && !shown[k] {
			t.Errorf("cell %v (%d customers reached) is not on the page", k, w.reached)
		}
	}
	// Touchpoints follow their cell: the lane and stage come from the
	// enclosing <td>, so walk the page in order.
	tds := cellRE.FindAllStringIndex(page, -1)
	lis := touchRE.FindAllStringIndex(page, -1)
	var nt int
	for _, li := range lis {
		var cell element
		for i, td := range tds {
			if td[0] < li[0] {
				cell = elements(page[tds[i][0]:tds[i][1]], cellRE)[0]
			}
		}
		if cell == nil {
			t.Fatalf("touchpoint outside a cell at %d", li[0])
		}
		e := elements(page[li[0]:li[1]], touchRE)[0]
		k := touchKey{cell["data-lane"], e["data-touchpoint"], int(cell.uint(t, "data-stage-index"))}
		if g, w := e.uint(t, "data-customers"), touches[k]; g != w {
			t.Errorf("touchpoint %v: page shows %d customers, events say %d", k, g, w)
		}
		delete(touches, k)
		nt++
	}
	for k, n := range touches {
		if k.touchpoint != "" {
			t.Errorf("touchpoint %v (%d customers) is not on the page", k, n)
		}
	}
	return len(got), nt
}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestJourneyMap(t *testing.T) {
	fx := seeded(t, 400)
	srv := httptest.NewServer(newHandler(t, fx))
	defer srv.Close()

	t.Run("numbers equal the views", func(t *testing.T) {
		for _, j := range fx.jm.Journeys() {
			resp, page := get(t, srv, "/journeys/"+j.Name)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d:\n%s", j.Name, resp.StatusCode, page)
			}
			n, nt := checkPage(t, fx, page, aggregate.Filter{Journey: j.Name})
			t.Logf("%s: %d cells, %d touchpoint counts equal ClickHouse", j.Name, n, nt)
		}
	})

	t.Run("filtered numbers equal the views", func(t *testing.T) {
		from, to := time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 9, 0, 0, 0, 0, time.UTC)
		for _, f := range []aggregate.Filter{
			{Journey: "lifecycle", From: from, To: to},
			{Journey: "lifecycle", Persona: "smb_owner"},
			{Journey: "lifecycle", Persona: "developer", From: from},
			{Journey: "onboarding", To: to},
		} {
			q := url.Values{}
			if f.Persona != "" {
				q.Set("persona", f.Persona)
			}
			if !f.From.IsZero() {
				q.Set("from", f.From.Format(time.DateOnly))
			}
			if !f.To.IsZero() {
				q.Set("to", f.To.Format(time.DateOnly))
			}
			resp, page := get(t, srv, "/journeys/"+f.Journey+"?"+q.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%v: status %d", f, resp.StatusCode)
			}
			n, nt := checkPage(t, fx, page, f)
			t.Logf("%s?%s: %d cells, %d touchpoint counts equal ClickHouse", f.Journey, q.Encode(), n, nt)
		}
	})

	t.Run("invalid input is refused before any query", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			code int
			says string
		}{
			{"/journeys/lifecycle?from=2026-13-01", 400, "not a date"},
			{"/journeys/lifecycle?to=yesterday", 400, "not a date"},
			{"/journeys/lifecycle?from=1969-12-31", 400, "not a date"},
			{"/journeys/lifecycle?from=2026-10-09&to=2026-10-01", 400, "is before from"},
			{"/journeys/lifecycle?persona=" + url.QueryEscape("x' OR 1=1 --"), 400, "not a persona"},
			{"/journeys/" + url.PathEscape("lifecycle' --"), 404, "no journey"},
			{"/journeys/lifecycle/personas/" + url.PathEscape("<script>"), 404, "no persona &#34;&lt;script&gt;&#34;"},
			{"/nothing", 404, "not found"},
		} {
			resp, page := get(t, srv, tc.path)
			if resp.StatusCode != tc.code || !strings.Contains(page, tc.says) {
				t.Errorf("GET %s: status %d, want %d with %q in:\n%.400s", tc.path, resp.StatusCode, tc.code, tc.says, page)
			}
			if strings.Contains(page, "<script>") {
				t.Errorf("GET %s: input echoed unescaped", tc.path)
			}
		}
	})

	t.Run("security headers and assets", func(t *testing.T) {
		for _, path := range []string{"/journeys/lifecycle", "/static/style.css", "/nothing"} {
			resp, _ := get(t, srv, path)
			for h, v := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "no-referrer",
			} {
				if got := resp.Header.Get(h); got != v {
					t.Errorf("%s: %s = %q, want %q", path, h, got, v)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
				t.Errorf("%s: Content-Security-Policy %q", path, csp)
			}
		}
		resp, css := get(t, srv, "/static/style.css")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, "td.cell") {
			t.Errorf("style.css: status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		resp, _ = get(t, srv, "/?persona=developer")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/journeys/lifecycle?persona=developer" {
			t.Errorf("/: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("churn", func(t *testing.T) {
		ok, err := fx.store.ChurnAvailable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seedChurn(t, fx, ok)
		checkChurn(t, fx, srv)
	})
}

// TestChurnUnavailable: on a database without churn_current the churn panel
// says so and the rest of the pages work.
func TestChurnUnavailable(t *testing.T) {
	fx := seeded(t, 0)
	if err := fx.conn.Exec(context.Background(), "DROP VIEW IF EXISTS churn_current"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(t, fx))
	defer srv.Close()
	resp, page := get(t, srv, "/journeys/lifecycle")
	if resp.StatusCode != 200 || !strings.Contains(page, "Churn scoring not available") || len(elements(page, cellRE)) == 0 {
		t.Fatalf("without churn_current: status %d; want the map and the notice:\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, "data-churn-persona") {
		t.Error("band counts shown without churn scoring")
	}
	resp, page = get(t, srv, "/journeys/lifecycle/personas/developer")
	if resp.StatusCode != 200 || !strings.Contains(page, "Churn scoring not available") {
		t.Fatalf("at-risk page without churn_current: status %d:\n%s", resp.StatusCode, page)
	}
}

// seedChurn gives churn_current rows derived from customer_journeys, with
// scores that depend only on the data. When the migrations created
// churn_current (over churn_scores) the rows go into churn_scores, naming only
// the columns the web view reads; otherwise a stand-in churn_current table
// with those columns is created.
func seedChurn(t *testing.T, fx *fixture, migrated bool) {
	t.Helper()
	const scores = `SELECT toDateTime64('2026-10-20 00:00:00', 3, 'UTC') AS scored_at, customer_id, persona, journey,
    furthest_stage, round((inactivity + stall + negative) / 3, 4) AS risk,
    multiIf(risk >= 0.6, 'high', risk >= 0.35, 'medium', 'low') AS band,
    round(least(1, greatest(0, dateDiff('second', last_seen, scored_at)) / 1209600), 4) AS inactivity,
    0 AS decline, if(furthest_stage_index < 2, 0.8, 0.1) AS stall, least(1, negative_events / 2) AS negative,
    toUInt32(greatest(0, dateDiff('second', last_seen, scored_at))) AS idle_seconds
FROM customer_journeys WHERE journey = 'lifecycle'`
	const cols = "(scored_at, customer_id, persona, journey, furthest_stage, risk, band, inactivity, decline, stall, negative, idle_seconds)"
	stmts := []string{"INSERT INTO churn_scores " + cols + " " + scores}
	if !migrated {
		stmts = []string{
			`CREATE TABLE churn_current (scored_at DateTime64(3, 'UTC'), customer_id String, persona LowCardinality(String),
    journey LowCardinality(String), furthest_stage LowCardinality(String), risk Float32, band LowCardinality(String),
    inactivity Float32, decline Float32, stall Float32, negative Float32, idle_seconds UInt32)
ENGINE = MergeTree ORDER BY (persona, customer_id)`,
			"INSERT INTO churn_current " + cols + " " + scores,
		}
	}
	for _, q := range stmts {
		if err := fx.conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// checkChurn compares the band counts on the map and the at-risk list of
// every persona with churn_current.
func checkChurn(t *testing.T, fx *fixture, srv *httptest.Server) {
	t.Helper()
	wantBands := map[string]uint64{} // persona/band
	fx.query(t, `SELECT persona, toString(band), count() FROM churn_current WHERE journey = 'lifecycle' GROUP BY ALL`,
		func(r driver.Rows) error {
			var p, b string
			var n uint64
			if err := r.Scan(&p, &b, &n); err != nil {
				return err
			}
			wantBands[p+"/"+b] = n
			return nil
		})
	if len(wantBands) == 0 {
		t.Fatal("churn_current has no lifecycle rows: the check would be empty")
	}
	_, page := get(t, srv, "/journeys/lifecycle")
	if strings.Contains(page, "Churn scoring not available") {
		t.Fatal("churn_current exists but the page says it does not")
	}
	lanes := churnRE.FindAllStringIndex(page, -1)
	bands := bandRE.FindAllStringIndex(page, -1)
	gotBands := map[string]uint64{}
	for _, b := range bands {
		var lane element
		for _, l := range lanes {
			if l[0] < b[0] {
				lane = elements(page[l[0]:l[1]], churnRE)[0]
			}
		}
		e := elements(page[b[0]:b[1]], bandRE)[0]
		if n := e.uint(t, "data-count"); n > 0 {
			gotBands[lane["data-churn-persona"]+"/"+e["data-band"]] = n
		}
	}
	if fmt.Sprint(gotBands) != fmt.Sprint(wantBands) {
		t.Errorf("churn bands on the page %v, churn_current says %v", gotBands, wantBands)
	}

	personas := []string{fx.jm.DefaultPersona()}
	for _, p := range fx.jm.Personas() {
		personas = append(personas, p.Name)
	}
	for _, p := range personas {
		var want []string
		fx.query(t, `SELECT customer_id, toString(band), toFloat64(risk), toFloat64(inactivity), toFloat64(stall), toFloat64(negative)
FROM churn_current WHERE journey = 'lifecycle' AND persona = {p:String} AND toString(band) != 'low'
ORDER BY toFloat64(risk) DESC, customer_id LIMIT 200`, func(r driver.Rows) error {
			var id, band string
			var risk, inact, stall, neg float64
			if err := r.Scan(&id, &band, &risk, &inact, &stall, &neg); err != nil {
				return err
			}
			want = append(want, fmt.Sprint(id, band, risk, inact, stall, neg))
			return nil
		}, clickhouse.Named("p", p))
		resp, page := get(t, srv, "/journeys/lifecycle/personas/"+p)
		if resp.StatusCode != 200 {
			t.Fatalf("at-risk %s: status %d", p, resp.StatusCode)
		}
		var got []string
		for _, e := range elements(page, riskRE) {
			got = append(got, fmt.Sprint(e["data-customer"], e["data-band"], e.float(t, "data-risk"),
				e.float(t, "data-inactivity"), e.float(t, "data-stall"), e.float(t, "data-negative")))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("at-risk %s: page lists %d customers, churn_current %d:\npage %v\nwant %v", p, len(got), len(want), got, want)
		}
		t.Logf("at-risk %s: %d customers equal churn_current", p, len(got))
	}
}
