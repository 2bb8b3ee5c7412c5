package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/seed"
	"github.com/journeys-analytics/journeys/personas"
)

// TestPersonasSuggestCommand runs `journeys personas suggest` on a generated
// population; personas/recover_test.go measures the clustering itself.
func TestPersonasSuggestCommand(t *testing.T) {
	gcfg := gen.DefaultConfig()
	gcfg.Seed = 14
	gcfg.Customers = 500
	_, ch, _ := seed.Generated(t, gcfg)
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut, lookup(map[string]string{}))
	root.SetArgs([]string{"personas", "suggest", "--clickhouse-addr", ch.Addr, "--clickhouse-database", ch.Database,
		"--k", "4", "--restarts", "2", "--weight", "value=2"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("personas suggest: %v\n%s", err, errOut.String())
	}
	t.Log("\n" + out.String())
	text := out.String()
	if !strings.HasPrefix(text, "500 people in 4 clusters") {
		t.Errorf("output does not start with the population and k:\n%s", text)
	}
	section := text[strings.Index(text, "personas:\n"):]
	if strings.Count(section, "- name: ") == 0 {
		t.Errorf("no persona proposed:\n%s", section)
	}
	seed.CheckPastable(t, section)
}

// TestPersonasDrift compares two halves of a generated fortnight: the
// generator's persona mix is stationary, so sizes must split the
// population consistently with the features read back.
func TestPersonasDrift(t *testing.T) {
	gcfg := gen.DefaultConfig()
	gcfg.Seed = 12
	gcfg.Customers = 600
	gcfg.Days = 14
	store, ch, _ := seed.Generated(t, gcfg)
	ctx := context.Background()
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	first, err := store.CustomerFeatures(ctx, aggregate.Filter{From: day("2026-10-01"), To: day("2026-10-07")})
	if err != nil {
		t.Fatal(err)
	}
	second, err := store.CustomerFeatures(ctx, aggregate.Filter{From: day("2026-10-08"), To: day("2026-10-31")})
	if err != nil {
		t.Fatal(err)
	}
	count := func(cs []aggregate.CustomerFeatures) map[string]int {
		m := map[string]int{}
		for _, c := range cs {
			m[c.Persona]++
		}
		return m
	}
	wantBefore, wantAfter := count(first), count(second)

	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut, lookup(map[string]string{}))
	root.SetArgs([]string{"personas", "drift", "--clickhouse-addr", ch.Addr, "--clickhouse-database", ch.Database,
		"--from", "2026-10-08", "--to", "2026-10-31", "--vs-from", "2026-10-01", "--vs-to", "2026-10-07"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("personas drift: %v\n%s", err, errOut.String())
	}
	t.Log("\n" + out.String())
	ds := personas.Drift(first, second)
	if len(ds) != len(wantAfter) {
		t.Errorf("%d personas in drift, want %d", len(ds), len(wantAfter))
	}
	for _, d := range ds {
		if d.Before.People != wantBefore[d.Persona] || d.After.People != wantAfter[d.Persona] {
			t.Errorf("%s: people %d → %d, want %d → %d", d.Persona, d.Before.People, d.After.People,
				wantBefore[d.Persona], wantAfter[d.Persona])
		}
		if !strings.Contains(out.String(), d.Persona) {
			t.Errorf("drift output does not mention %s", d.Persona)
		}
	}
}
