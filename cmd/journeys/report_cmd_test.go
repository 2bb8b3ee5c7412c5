package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/seed"
)

// TestReportCommand runs `journeys report` on a generated stream and checks
// the numbers against the generator's own truth, for a journey, a persona and
// a day range, in every format.
func TestReportCommand(t *testing.T) {
	gcfg := gen.DefaultConfig()
	gcfg.Seed = 21
	gcfg.Customers = 400
	_, ch, truth := seed.Generated(t, gcfg)
	const (
		journey = "lifecycle"
		persona = "smb_owner"
		from    = "2026-10-03"
		to      = "2026-10-09"
	)
	type cell struct{ reached, progressed, dropped uint64 }
	want := map[uint8]cell{}
	for k, v := range truth.ConversionDaily {
		if k.Journey == journey && k.Persona == persona && k.Day >= from && k.Day <= to {
			c := want[k.StageIndex]
			want[k.StageIndex] = cell{c.reached + v.Reached, c.progressed + v.Progressed, c.dropped + v.DroppedOff}
		}
	}
	if len(want) < 3 {
		t.Fatalf("the truth has %d stages for %s/%s in %s..%s; the test needs more", len(want), journey, persona, from, to)
	}
	run := func(format string) string {
		var out, errOut bytes.Buffer
		root := newRootCmd(&out, &errOut, lookup(map[string]string{}))
		root.SetArgs([]string{"report", "--clickhouse-addr", ch.Addr, "--clickhouse-database", ch.Database,
			"--journey", journey, "--persona", persona, "--from", from, "--to", to, "--format", format})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("report --format %s: %v\n%s", format, err, errOut.String())
		}
		return out.String()
	}

	var rows []mapCellJSON
	if err := json.Unmarshal([]byte(run("json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		w := want[r.StageIndex]
		if r.Journey != journey || r.Persona != persona || r.Reached != w.reached || r.Progressed != w.progressed || r.DroppedOff != w.dropped {
			t.Errorf("stage %d: %+v, want %+v", r.StageIndex, r, w)
		}
		if (r.P50Seconds != nil) != (r.Progressed > 0) || (r.P50Seconds != nil && *r.P50Seconds > *r.P90Seconds) {
			t.Errorf("stage %d: times p50 %v p90 %v with %d progressed", r.StageIndex, r.P50Seconds, r.P90Seconds, r.Progressed)
		}
	}

	recs, err := csv.NewReader(strings.NewReader(run("csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rows)+1 || strings.Join(recs[0], ",") != strings.Join(mapCSVHeader, ",") {
		t.Errorf("csv: %d records, header %v", len(recs), recs[0])
	}

	table := run("table")
	t.Log("\n" + table)
	if !strings.Contains(table, "journey "+journey) || !strings.Contains(table, persona) {
		t.Errorf("table does not name the journey and persona:\n%s", table)
	}

	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut, lookup(map[string]string{}))
	root.SetArgs([]string{"report", "--clickhouse-addr", ch.Addr, "--from", "2026-13-01"})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Errorf("a bad --from: %v", err)
	}
}
