package aggregate

import (
	"context"
	"testing"
	"time"
)

func TestChurnScoresRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := migratedStore(t, "native")
	t1 := mustTime(t, "2026-03-01 12:00:00")
	t2 := t1.Add(time.Minute)
	first := []ChurnScore{
		{CustomerID: "a", Persona: "smb", Journey: "lifecycle", FurthestStage: "purchase", StageIndex: 2,
			StageReachedAt: t1.Add(-time.Hour), Risk: 0.2, Band: "low", Inactivity: 0.1, Decline: 0.3,
			IdleSeconds: 60, LastSeen: t1.Add(-time.Minute), Events: 7},
		{CustomerID: "b", Persona: "dev", StageIndex: -1, Risk: 0.8, Band: "high", Inactivity: 0.9, Negative: 0.5,
			IdleSeconds: 86400, LastSeen: t1.Add(-24 * time.Hour), Events: 1},
	}
	for range 2 { // the retry of a landed write is dropped
		if err := s.WriteChurnScores(ctx, "events", 3, t1, first); err != nil {
			t.Fatal(err)
		}
	}
	second := []ChurnScore{{CustomerID: "a", Persona: "smb", Journey: "lifecycle", FurthestStage: "purchase",
		StageIndex: 2, Risk: 0.45, Band: "medium", Inactivity: 0.6, LastSeen: t1.Add(-time.Minute), Events: 7}}
	if err := s.WriteChurnScores(ctx, "events", 3, t2, second); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, s, "SELECT toString(count()) FROM "+s.table("churn_scores")); got != "3" {
		t.Errorf("churn_scores has %s rows, want 3", got)
	}
	got := queryString(t, s, "SELECT concat(customer_id, ' ', persona, ' ', band, ' ', toString(risk), ' ', "+
		"furthest_stage, ' ', toString(stage_index), ' ', toString(kafka_partition), ' ', toString(scored_at)) FROM "+
		s.table("churn_current")+" ORDER BY customer_id")
	want := "a smb medium 0.45 purchase 2 3 2026-03-01 12:01:00.000\nb dev high 0.8  -1 3 2026-03-01 12:00:00.000"
	if got != want {
		t.Errorf("churn_current:\n%s\nwant:\n%s", got, want)
	}

	// Takeover: customers and stages from the events, last scores from
	// churn_scores, only for the partition asked for.
	b := batchOf(t, "events", 3, 0, 3, []row{
		{offset: 0, customer: "a", persona: "smb", journey: "lifecycle", stage: 0, at: "2026-02-20 10:00:00"},
		{offset: 1, customer: "a", persona: "smb", journey: "lifecycle", stage: 2, at: "2026-02-25 10:00:00", negative: true},
		{offset: 2, customer: "b", persona: "dev", at: "2026-02-28 12:00:00"},
		{offset: 3, customer: "a", persona: "smb", journey: "onboarding", stage: 1, at: "2026-02-26 10:00:00"},
	})
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, batchOf(t, "events", 4, 0, 0, []row{{offset: 0, customer: "z", at: "2026-02-28 12:00:00"}})); err != nil {
		t.Fatal(err)
	}
	st, err := s.LoadChurnState(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmtV(st.Customers), "[{CustomerID:a Persona:smb FirstSeen:2026-02-20 10:00:00 +0000 UTC "+
		"LastSeen:2026-02-26 10:00:00 +0000 UTC Events:3 NegativeEvents:1} {CustomerID:b Persona:dev "+
		"FirstSeen:2026-02-28 12:00:00 +0000 UTC LastSeen:2026-02-28 12:00:00 +0000 UTC Events:1 NegativeEvents:0}]"; got != want && fmtV(reverse(st.Customers)) != want {
		t.Errorf("customers:\n%s\nwant:\n%s", got, want)
	}
	stages := map[string]ChurnStage{}
	for _, c := range st.Stages {
		stages[c.Journey+"/"+c.CustomerID] = c
	}
	if len(stages) != 2 || stages["lifecycle/a"].StageIndex != 2 || !stages["lifecycle/a"].ReachedAt.Equal(mustTime(t, "2026-02-25 10:00:00")) ||
		stages["onboarding/a"].StageIndex != 1 {
		t.Errorf("stages: %+v", st.Stages)
	}
	if len(st.Scores) != 2 || st.Scores["a"].Band != "medium" || st.Scores["a"].Risk != 0.45 || !st.Scores["b"].ScoredAt.Equal(t1) {
		t.Errorf("scores: %+v", st.Scores)
	}
}

func reverse[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
