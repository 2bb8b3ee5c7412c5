package aggregate

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// scenario is a hand-built partition 0, in offset order. Expected numbers in
// the tests below are worked out by hand from it.
//
//	customer  journey persona  lifecycle events (stage: UTC time)
//	A         dev              0: 03-01 10:00   1: 03-01 12:00   2: 03-02 10:00, 03-02 11:00 (negative)
//	F         dev              0: 03-01 00:00   1: 03-01 00:30
//	B         smb              0: 03-01 09:00 (tagged unassigned)   1: 03-03 09:00
//	D         smb              0: 03-02 15:00, then 03-01 15:00 arriving late (tagged unassigned)
//	C         dev              0: 03-02 08:00   2: 03-02 20:00 (skips stage 1)
//	G         dev              onboarding 0: 03-01
//	E, Z, anon-9 and identify events carry no journey.
func scenario() []row {
	return []row{
		{offset: 0, customer: "A", persona: "dev", journey: "lifecycle", stage: 0, at: "2024-03-01 10:00:00"},
		{offset: 1, customer: "F", persona: "dev", journey: "lifecycle", stage: 0, at: "2024-03-01 00:00:00"},
		{offset: 2, customer: "F", persona: "dev", journey: "lifecycle", stage: 1, at: "2024-03-01 00:30:00"},
		{offset: 3, customer: "B", persona: "unassigned", journey: "lifecycle", stage: 0, at: "2024-03-01 09:00:00"},
		{offset: 4, customer: "A", persona: "dev", journey: "lifecycle", stage: 1, at: "2024-03-01 12:00:00"},
		{offset: 5, customer: "D", persona: "smb", journey: "lifecycle", stage: 0, at: "2024-03-02 15:00:00"},
		{offset: 6, customer: "D", persona: "unassigned", journey: "lifecycle", stage: 0, at: "2024-03-01 15:00:00"},
		{offset: 7, customer: "C", persona: "dev", journey: "lifecycle", stage: 0, at: "2024-03-02 08:00:00"},
		{offset: 8, customer: "A", persona: "dev", journey: "lifecycle", stage: 2, at: "2024-03-02 10:00:00"},
		{offset: 9, customer: "A", persona: "dev", journey: "lifecycle", stage: 2, at: "2024-03-02 11:00:00", negative: true},
		{offset: 10, customer: "C", persona: "dev", journey: "lifecycle", stage: 2, at: "2024-03-02 20:00:00"},
		{offset: 11, customer: "B", persona: "smb", journey: "lifecycle", stage: 1, at: "2024-03-03 09:00:00"},
		{offset: 12, customer: "E", persona: "unassigned", at: "2024-03-02 09:00:00", typ: "page"},
		{offset: 13, customer: "G", persona: "dev", journey: "onboarding", stage: 0, at: "2024-03-01 13:00:00"},
		{offset: 14, customer: "A", persona: "dev", at: "2024-03-01 09:59:00", typ: "identify", anon: "anon-1", user: "A"},
		{offset: 15, customer: "Z", persona: "dev", at: "2024-03-02 09:00:00", typ: "identify", anon: "anon-1", user: "Z"},
		{offset: 16, customer: "B", persona: "smb", at: "2024-03-01 08:00:00", typ: "identify", anon: "anon-2", user: "B"},
		{offset: 17, customer: "anon-9", persona: "unassigned", at: "2024-03-04 09:00:00", typ: "page", anon: "anon-9"},
	}
}

// scenarioStore writes the scenario in two batches (with an offset gap, as
// invalid messages leave) plus one row on partition 1.
func scenarioStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s := migratedStore(t, "native")
	rows := scenario()
	for _, b := range []*Batch{
		batchOf(t, topic, 0, 0, 9, rows[:10]),
		batchOf(t, topic, 0, 10, 20, rows[10:]),
		batchOf(t, topic, 1, 0, 0, []row{{offset: 0, customer: "P", persona: "dev", journey: "lifecycle", stage: 0, at: "2024-04-01 00:00:00"}}),
	} {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestViews(t *testing.T) {
	s := scenarioStore(t)
	ctx := context.Background()
	lifecycle := Filter{Journey: "lifecycle", To: day("2024-03-31")} // leaves out P on 04-01

	t.Run("stage_reach", func(t *testing.T) {
		got, err := s.StageReach(ctx, Filter{From: day("2024-03-01"), To: day("2024-03-31")})
		if err != nil {
			t.Fatal(err)
		}
		want := []StageReachRow{
			{"lifecycle", "dev", day("2024-03-01"), 0, "awareness", 2, 2},
			{"lifecycle", "dev", day("2024-03-01"), 1, "consideration", 2, 2},
			{"lifecycle", "dev", day("2024-03-02"), 0, "awareness", 1, 1},
			{"lifecycle", "dev", day("2024-03-02"), 2, "purchase", 2, 3},
			{"lifecycle", "smb", day("2024-03-02"), 0, "awareness", 1, 1},
			{"lifecycle", "smb", day("2024-03-03"), 1, "consideration", 1, 1},
			{"lifecycle", "unassigned", day("2024-03-01"), 0, "awareness", 2, 2},
			{"onboarding", "dev", day("2024-03-01"), 0, "signup", 1, 1},
		}
		assertRows(t, got, want)

		got, err = s.StageReach(ctx, Filter{Journey: "lifecycle", Persona: "dev", From: day("2024-03-02"), To: day("2024-03-02")})
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, got, want[2:4])
	})

	t.Run("customer_journeys", func(t *testing.T) {
		got := queryString(t, s, `SELECT concat(customer_id, ' ', persona, ' ', toString(furthest_stage_index), ' ', furthest_stage,
    ' ', toString(stages_reached), ' ', toString(first_seen), ' ', toString(last_seen), ' ', toString(events), ' ', toString(negative_events))
FROM `+s.table("customer_journeys")+` WHERE journey = 'lifecycle' AND customer_id != 'P' ORDER BY customer_id`)
		want := strings.Join([]string{
			"A dev 2 purchase [0,1,2] 2024-03-01 10:00:00.000 2024-03-02 11:00:00.000 4 1",
			"B smb 1 consideration [0,1] 2024-03-01 09:00:00.000 2024-03-03 09:00:00.000 2 0",
			"C dev 2 purchase [0,2] 2024-03-02 08:00:00.000 2024-03-02 20:00:00.000 2 0",
			"D smb 0 awareness [0] 2024-03-01 15:00:00.000 2024-03-02 15:00:00.000 2 0",
			"F dev 1 consideration [0,1] 2024-03-01 00:00:00.000 2024-03-01 00:30:00.000 2 0",
		}, "\n")
		if got != want {
			t.Fatalf("customer_journeys:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("stage_conversion_daily", func(t *testing.T) {
		got := queryString(t, s, `SELECT concat(journey, ' ', persona, ' ', toString(day), ' ', toString(stage_index), ' ', stage, ' ',
    toString(reached), ' ', toString(progressed), ' ', toString(dropped_off), ' ', toString(conversion_rate), ' ', toString(drop_off_rate))
FROM `+s.table("stage_conversion_daily")+` WHERE day < '2024-04-01' ORDER BY journey, persona, day, stage_index`)
		want := strings.Join([]string{
			"lifecycle dev 2024-03-01 0 awareness 2 2 0 1 0",
			"lifecycle dev 2024-03-01 1 consideration 2 1 1 0.5 0.5",
			"lifecycle dev 2024-03-02 0 awareness 1 1 0 1 0",
			"lifecycle dev 2024-03-02 2 purchase 2 0 2 0 1",
			"lifecycle smb 2024-03-01 0 awareness 2 1 1 0.5 0.5",
			"lifecycle smb 2024-03-03 1 consideration 1 0 1 0 1",
			"onboarding dev 2024-03-01 0 signup 1 0 1 0 1",
		}, "\n")
		if got != want {
			t.Fatalf("stage_conversion_daily:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("StageConversion", func(t *testing.T) {
		got, err := s.StageConversion(ctx, lifecycle)
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, got, []StageConversion{
			{"lifecycle", "dev", 0, "awareness", 3, 3, 0, 1, 0},
			{"lifecycle", "dev", 1, "consideration", 2, 1, 1, 0.5, 0.5},
			{"lifecycle", "dev", 2, "purchase", 2, 0, 2, 0, 1},
			{"lifecycle", "smb", 0, "awareness", 2, 1, 1, 0.5, 0.5},
			{"lifecycle", "smb", 1, "consideration", 1, 0, 1, 0, 1},
		})
		got, err = s.StageConversion(ctx, Filter{Journey: "lifecycle", From: day("2024-03-01"), To: day("2024-03-01")})
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, got, []StageConversion{
			{"lifecycle", "dev", 0, "awareness", 2, 2, 0, 1, 0},
			{"lifecycle", "dev", 1, "consideration", 2, 1, 1, 0.5, 0.5},
			{"lifecycle", "smb", 0, "awareness", 2, 1, 1, 0.5, 0.5},
		})
		got, err = s.StageConversion(ctx, Filter{Persona: "smb"})
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, got, []StageConversion{
			{"lifecycle", "smb", 0, "awareness", 2, 1, 1, 0.5, 0.5},
			{"lifecycle", "smb", 1, "consideration", 1, 0, 1, 0, 1},
		})
	})

	t.Run("time_to_convert", func(t *testing.T) {
		// dev awareness: F 1800 s, A 7200 s, C 43200 s (to purchase, skipping
		// consideration). quantileExact takes index floor(level·n): p50 is
		// the 2nd of 3, p90 the 3rd.
		want := []TimeToConvertRow{
			{"lifecycle", "dev", 0, "awareness", 3, 7200, 43200, 17400},
			{"lifecycle", "dev", 1, "consideration", 1, 79200, 79200, 79200},
			{"lifecycle", "smb", 0, "awareness", 1, 172800, 172800, 172800},
		}
		got, err := s.TimeToConvert(ctx, lifecycle)
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, got, want)

		view := queryString(t, s, `SELECT concat(journey, ' ', persona, ' ', toString(stage_index), ' ', stage, ' ',
    toString(converted), ' ', toString(p50_seconds), ' ', toString(p90_seconds), ' ', toString(avg_seconds))
FROM `+s.table("time_to_convert")+` WHERE journey = 'lifecycle' ORDER BY persona, stage_index`)
		wantView := "lifecycle dev 0 awareness 3 7200 43200 17400\n" +
			"lifecycle dev 1 consideration 1 79200 79200 79200\n" +
			"lifecycle smb 0 awareness 1 172800 172800 172800"
		if view != wantView {
			t.Fatalf("time_to_convert view:\n%s\nwant:\n%s", view, wantView)
		}

		// Only C reached a stage on 03-02 and went further.
		got, err = s.TimeToConvert(ctx, Filter{Journey: "lifecycle", From: day("2024-03-02"), To: day("2024-03-02")})
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, got, []TimeToConvertRow{{"lifecycle", "dev", 0, "awareness", 1, 43200, 43200, 43200}})
	})

	t.Run("funnel_conversion", func(t *testing.T) {
		// P (partition 1, dev, awareness only) adds one dev customer at level 1.
		cases := []struct {
			window time.Duration
			want   []FunnelLevel
		}{{
			// A reaches purchase 24 h after awareness: cut. B's 48 h too.
			window: 12 * time.Hour,
			want: []FunnelLevel{
				{"lifecycle", "dev", 1, 0, 4}, {"lifecycle", "dev", 2, 1, 2}, {"lifecycle", "dev", 3, 2, 0},
				{"lifecycle", "smb", 1, 0, 2}, {"lifecycle", "smb", 2, 1, 0}, {"lifecycle", "smb", 3, 2, 0},
			},
		}, {
			// Exactly A's 24 h: the boundary is included.
			window: 24 * time.Hour,
			want: []FunnelLevel{
				{"lifecycle", "dev", 1, 0, 4}, {"lifecycle", "dev", 2, 1, 2}, {"lifecycle", "dev", 3, 2, 1},
				{"lifecycle", "smb", 1, 0, 2}, {"lifecycle", "smb", 2, 1, 0}, {"lifecycle", "smb", 3, 2, 0},
			},
		}, {
			// C skipped consideration: level 1 whatever the window.
			window: 30 * 24 * time.Hour,
			want: []FunnelLevel{
				{"lifecycle", "dev", 1, 0, 4}, {"lifecycle", "dev", 2, 1, 2}, {"lifecycle", "dev", 3, 2, 1},
				{"lifecycle", "smb", 1, 0, 2}, {"lifecycle", "smb", 2, 1, 1}, {"lifecycle", "smb", 3, 2, 0},
			},
		}}
		for _, c := range cases {
			got, err := s.Funnel(ctx, "lifecycle", c.window)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(c.window.String(), func(t *testing.T) { assertRows(t, got, c.want) })
		}
		all, err := s.Funnel(ctx, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if last := all[len(all)-1]; last != (FunnelLevel{"onboarding", "dev", 1, 0, 1}) {
			t.Fatalf("Funnel of all journeys ends with %+v, want onboarding dev level 1: 1", last)
		}
	})

	t.Run("customers", func(t *testing.T) {
		got := queryString(t, s, `SELECT concat(customer_id, ' ', argMaxMerge(persona), ' ', toString(sum(events)), ' ',
    toString(sum(negative_events)), ' ', toString(max(kafka_partition)))
FROM `+s.table("customers")+` GROUP BY customer_id ORDER BY customer_id`)
		want := "A dev 5 1 0\nB smb 3 0 0\nC dev 2 0 0\nD smb 2 0 0\nE unassigned 1 0 0\n" +
			"F dev 2 0 0\nG dev 1 0 0\nP dev 1 0 1\nZ dev 1 0 0\nanon-9 unassigned 1 0 0"
		if got != want {
			t.Fatalf("customers:\n%s\nwant:\n%s", got, want)
		}
	})
}

func TestPartitionState(t *testing.T) {
	s := scenarioStore(t)
	st, err := s.PartitionState(context.Background(), topic, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	assertMap(t, "Links", st.Links, map[string]string{"anon-1": "A", "anon-2": "B"})
	// D: its latest event by offset is the late one tagged unassigned, though
	// by time it is smb.
	assertMap(t, "Personas", st.Personas, map[string]string{
		"A": "dev", "B": "smb", "C": "dev", "D": "unassigned", "E": "unassigned",
		"F": "dev", "G": "dev", "Z": "dev", "anon-9": "unassigned",
	})
	if want := []string{topic + "-0-17", topic + "-0-16", topic + "-0-15"}; strings.Join(st.RecentEventIDs, " ") != strings.Join(want, " ") {
		t.Fatalf("RecentEventIDs = %v, want %v", st.RecentEventIDs, want)
	}

	other, err := s.PartitionState(context.Background(), topic, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	assertMap(t, "partition 1 Personas", other.Personas, map[string]string{"P": "dev"})
	if len(other.Links) != 0 || len(other.RecentEventIDs) != 0 {
		t.Fatalf("partition 1 state = %+v", other)
	}
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func assertRows[T comparable](t *testing.T, got, want []T) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = equalRow(got[i], want[i])
	}
	if !ok {
		var b strings.Builder
		for _, r := range got {
			b.WriteString("\n\t")
			b.WriteString(strings.TrimPrefix(strings.TrimSpace(sprintRow(r)), "aggregate."))
		}
		b.WriteString("\nwant:")
		for _, r := range want {
			b.WriteString("\n\t")
			b.WriteString(strings.TrimPrefix(strings.TrimSpace(sprintRow(r)), "aggregate."))
		}
		t.Fatalf("got:%s", b.String())
	}
}

// equalRow compares rows exactly, except that float fields (rates, seconds)
// compare within 1e-9: they are results of divisions.
func equalRow[T comparable](a, b T) bool {
	switch x := any(a).(type) {
	case StageConversion:
		y := any(b).(StageConversion)
		if !near(x.ConversionRate, y.ConversionRate) || !near(x.DropOffRate, y.DropOffRate) {
			return false
		}
		x.ConversionRate, x.DropOffRate = y.ConversionRate, y.DropOffRate
		return x == y
	case TimeToConvertRow:
		y := any(b).(TimeToConvertRow)
		if !near(x.P50Seconds, y.P50Seconds) || !near(x.P90Seconds, y.P90Seconds) || !near(x.AvgSeconds, y.AvgSeconds) {
			return false
		}
		x.P50Seconds, x.P90Seconds, x.AvgSeconds = y.P50Seconds, y.P90Seconds, y.AvgSeconds
		return x == y
	case StageReachRow:
		y := any(b).(StageReachRow)
		if !x.Day.Equal(y.Day) {
			return false
		}
		x.Day = y.Day
		return x == y
	}
	return a == b
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func sprintRow(r any) string {
	if x, ok := r.(StageReachRow); ok {
		x.Day = x.Day.UTC()
		r = x
	}
	return strings.ReplaceAll(fmtV(r), "\n", " ")
}

func assertMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}
