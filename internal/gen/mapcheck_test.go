package gen

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// This file re-derives the truth from the bytes of the stream and the
// journey map file, by the enrichment rules of the map's header, with
// expr-lang evaluating the map's own rules. It shares nothing with the
// generator but WindowFunnel, which TestWindowFunnel checks on its own. If
// the generator's hand-written model (model.go) drifts from the map, or an
// event is tagged or personified other than intended, this test fails.

type mapFile struct {
	DefaultPersona string       `yaml:"default_persona"`
	Personas       []mapPersona `yaml:"personas"`
	Journeys       []mapJourney `yaml:"journeys"`
}

type mapPersona struct {
	Name     string `yaml:"name"`
	Priority int    `yaml:"priority"`
	When     string `yaml:"when"`
}

type mapJourney struct {
	Name             string     `yaml:"name"`
	ConversionWindow string     `yaml:"conversion_window"`
	Stages           []mapStage `yaml:"stages"`
}

type mapStage struct {
	Name        string `yaml:"name"`
	Touchpoints []struct {
		Name  string   `yaml:"name"`
		Event nameList `yaml:"event"`
		Type  string   `yaml:"type"`
		When  string   `yaml:"when"`
	} `yaml:"touchpoints"`
}

// nameList is a touchpoint's event: one name or a list of names.
type nameList []string

func (n *nameList) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		*n = nameList{v.Value}
		return nil
	}
	var s []string
	err := v.Decode(&s)
	*n = s
	return err
}

// ruleEnv mirrors what the map header says rules see: missing strings of
// context are empty, missing keys of properties and traits are nil.
type ruleEnv struct {
	Event      string         `expr:"event"`
	Type       string         `expr:"type"`
	Properties map[string]any `expr:"properties"`
	Traits     map[string]any `expr:"traits"`
	Context    struct {
		Channel  string `expr:"channel"`
		Campaign struct {
			Name    string `expr:"name"`
			Source  string `expr:"source"`
			Medium  string `expr:"medium"`
			Term    string `expr:"term"`
			Content string `expr:"content"`
		} `expr:"campaign"`
		Page struct {
			Path  string `expr:"path"`
			URL   string `expr:"url"`
			Title string `expr:"title"`
		} `expr:"page"`
		Referrer string `expr:"referrer"`
		Device   struct {
			Type         string `expr:"type"`
			OS           string `expr:"os"`
			Manufacturer string `expr:"manufacturer"`
		} `expr:"device"`
		Locale string `expr:"locale"`
	} `expr:"context"`
}

type refRule struct{ prog *vm.Program }

func compileRule(t *testing.T, src string) refRule {
	t.Helper()
	if src == "" {
		return refRule{}
	}
	p, err := expr.Compile(src, expr.Env(ruleEnv{}), expr.AsBool())
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return refRule{p}
}

// match is true for an absent rule; a rule that fails at run time does not
// match.
func (r refRule) match(env *ruleEnv) bool {
	if r.prog == nil {
		return true
	}
	out, err := expr.Run(r.prog, env)
	return err == nil && out == true
}

type refTouchpoint struct {
	journey, stage string
	index          uint8
	events         nameList
	typ            string
	when           refRule
}

type refPersona struct {
	name     string
	priority int
	when     refRule
}

type refEvent struct {
	ts      time.Time
	stage   uint8
	persona string
}

func loadMap(t *testing.T) (*mapFile, []refPersona, []refTouchpoint) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "journey-map.yaml"))
	if err != nil {
		t.Fatalf("read journey map: %v", err)
	}
	var m mapFile
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("parse journey map: %v", err)
	}
	var ps []refPersona
	for _, p := range m.Personas {
		ps = append(ps, refPersona{p.Name, p.Priority, compileRule(t, p.When)})
	}
	slices.SortStableFunc(ps, func(a, b refPersona) int { return cmp.Compare(b.priority, a.priority) })
	var tps []refTouchpoint
	for _, j := range m.Journeys {
		for si, s := range j.Stages {
			for _, tp := range s.Touchpoints {
				tps = append(tps, refTouchpoint{j.Name, s.Name, uint8(si), tp.Event, tp.Type, compileRule(t, tp.When)})
			}
		}
	}
	return &m, ps, tps
}

func TestModelMatchesJourneyMap(t *testing.T) {
	m, ps, _ := loadMap(t)
	var personas []string
	for _, p := range ps {
		personas = append(personas, p.name)
	}
	var want []string
	for p := range unassigned {
		want = append(want, p.String())
	}
	if !slices.Equal(personas, want) || m.DefaultPersona != unassigned.String() {
		t.Errorf("map personas %v (default %s), model %v (default %s)", personas, m.DefaultPersona, want, unassigned)
	}
	if len(m.Journeys) != int(numJourneys-1) {
		t.Fatalf("map has %d journeys, model %d", len(m.Journeys), numJourneys-1)
	}
	for i, j := range m.Journeys {
		var stages []string
		for _, s := range j.Stages {
			stages = append(stages, s.Name)
		}
		mj := journey(i + 1)
		if j.Name != mj.String() || !slices.Equal(stages, mj.stages()) {
			t.Errorf("map journey %s %v, model %s %v", j.Name, stages, mj, mj.stages())
		}
		// The generator keeps every customer's journey inside the window,
		// which makes the funnel independent of timestamp resolution.
		w, err := time.ParseDuration(j.ConversionWindow)
		if err != nil {
			t.Fatalf("%s: conversion window: %v", j.Name, err)
		}
		if j.Name == "lifecycle" && w < maxDays*24*time.Hour {
			t.Errorf("lifecycle window %v is shorter than the longest stream, %d days", w, maxDays)
		}
	}
}

func TestStreamMatchesJourneyMap(t *testing.T) {
	m, personas, touchpoints := loadMap(t)
	priority := map[string]int{}
	for _, p := range personas {
		priority[p.name] = p.priority
	}
	// The views use each journey's own window; Funnel takes one window
	// for all journeys, so check it at each of them and at shorter ones.
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	stageCount := map[string]int{}
	for _, j := range m.Journeys {
		w, err := time.ParseDuration(j.ConversionWindow)
		if err != nil {
			t.Fatalf("%s: conversion window: %v", j.Name, err)
		}
		windows = append(windows, w)
		stageCount[j.Name] = len(j.Stages)
	}

	cfg := testConfig(3000)
	cfg.Seed = 11
	msgs, truth := collect(t, cfg)

	// Enrich in stream order, as the pipeline does.
	seen := map[string]bool{}
	links := map[string]string{}
	persona := map[string]string{} // customer → assigned persona; absent: default
	firstPersona := map[string]string{}
	events := map[string]map[string][]refEvent{} // customer → journey → events
	customers := map[string]bool{}
	valid := 0
	for _, msg := range msgs {
		if msg.Invalid != "" {
			continue
		}
		e := decode(t, msg)
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		valid++

		id := e.UserID
		if id == "" {
			id = e.AnonymousID
			if u, ok := links[e.AnonymousID]; ok {
				id = u
			}
		}
		customers[id] = true
		if e.Type == "identify" && e.UserID != "" && e.AnonymousID != "" {
			if _, ok := links[e.AnonymousID]; !ok {
				links[e.AnonymousID] = e.UserID
				if _, has := persona[e.UserID]; !has {
					if p, ok := persona[e.AnonymousID]; ok {
						persona[e.UserID] = p
					}
				}
			}
		}

		env := ruleEnv{Event: e.Event, Type: e.Type, Properties: e.Properties, Traits: e.Traits}
		if env.Event == "" && e.Type == "page" {
			env.Event = e.Name
		}
		c := &env.Context
		c.Channel, c.Referrer, c.Locale = e.Context.Channel, e.Context.Referrer, e.Context.Locale
		c.Campaign.Name, c.Campaign.Source, c.Campaign.Medium = e.Context.Campaign.Name, e.Context.Campaign.Source, e.Context.Campaign.Medium
		c.Campaign.Term, c.Campaign.Content = e.Context.Campaign.Term, e.Context.Campaign.Content
		c.Page.Path, c.Page.URL, c.Page.Title = e.Context.Page.Path, e.Context.Page.URL, e.Context.Page.Title
		c.Device.Type, c.Device.OS, c.Device.Manufacturer = e.Context.Device.Type, e.Context.Device.OS, e.Context.Device.Manufacturer

		cur, has := persona[id]
		for _, p := range personas {
			if has && p.priority <= priority[cur] {
				break
			}
			if p.when.match(&env) {
				persona[id], has = p.name, true
				break
			}
		}
		who := m.DefaultPersona
		if has {
			who = persona[id]
		}
		// The generator promises a persona that never changes, so that
		// per-event and per-customer personas agree in every view.
		if first, ok := firstPersona[id]; !ok {
			firstPersona[id] = who
		} else if first != who {
			t.Fatalf("customer %s changed persona from %s to %s at %s", id, first, who, msg.Value)
		}

		for _, tp := range touchpoints {
			if len(tp.events) > 0 && !slices.Contains(tp.events, env.Event) {
				continue
			}
			if tp.typ != "" && tp.typ != env.Type {
				continue
			}
			if !tp.when.match(&env) {
				continue
			}
			if events[id] == nil {
				events[id] = map[string][]refEvent{}
			}
			events[id][tp.journey] = append(events[id][tp.journey], refEvent{e.corrected, tp.index, who})
			break
		}
	}

	if valid != truth.Valid || len(customers) != truth.Customers {
		t.Errorf("valid %d, customers %d; truth says %d, %d", valid, len(customers), truth.Valid, truth.Customers)
	}

	// The views, recomputed from the reference rows.
	stageName := func(j string, i uint8) string {
		return m.Journeys[slices.IndexFunc(m.Journeys, func(x mapJourney) bool { return x.Name == j })].Stages[i].Name
	}
	day := func(ts time.Time) string { return ts.UTC().Format(time.DateOnly) }

	reach := map[ReachKey]ReachValue{}
	conv := map[ConvKey]ConvValue{}
	convDaily := map[ConvDayKey]ConvValue{}
	funnels := map[time.Duration]map[FunnelKey]uint64{}
	for _, byJourney := range events {
		for j, evs := range byJourney {
			counted := map[ReachKey]bool{}
			first := map[uint8]time.Time{}
			latest := evs[0]
			top := uint8(0)
			var fevs []FunnelEvent
			for _, e := range evs {
				k := ReachKey{j, stageName(j, e.stage), e.stage, e.persona, day(e.ts)}
				v := reach[k]
				v.Events++
				if !counted[k] {
					counted[k] = true
					v.Customers++
				}
				reach[k] = v
				if f, ok := first[e.stage]; !ok || e.ts.Before(f) {
					first[e.stage] = e.ts
				}
				if e.ts.After(latest.ts) {
					latest = e
				}
				top = max(top, e.stage)
				fevs = append(fevs, FunnelEvent{e.ts, e.stage})
			}
			for s, at := range first {
				v := ConvValue{Reached: 1, Progressed: 1}
				if s == top {
					v = ConvValue{Reached: 1, DroppedOff: 1}
				}
				ck := ConvKey{j, latest.persona, s}
				conv[ck] = addConv(conv[ck], v)
				dk := ConvDayKey{j, latest.persona, s, day(at)}
				convDaily[dk] = addConv(convDaily[dk], v)
			}
			for _, w := range windows {
				if funnels[w] == nil {
					funnels[w] = map[FunnelKey]uint64{}
				}
				for l := 1; l <= WindowFunnel(fevs, w, stageCount[j]); l++ {
					funnels[w][FunnelKey{j, latest.persona, uint8(l)}]++
				}
			}
		}
	}
	compare(t, "StageReach", reach, truth.StageReach)
	compare(t, "Conversion", conv, truth.Conversion)
	compare(t, "ConversionDaily", convDaily, truth.ConversionDaily)
	for _, w := range windows {
		compare(t, fmt.Sprintf("Funnel(%v)", w), funnels[w], truth.Funnel(w))
	}
}

func compare[K comparable, V comparable](t *testing.T, name string, want, got map[K]V) {
	t.Helper()
	if maps.Equal(want, got) {
		return
	}
	n := 0
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			if n++; n <= 10 {
				t.Errorf("%s[%v] = %v, reference %v", name, k, g, v)
			}
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 10 {
				t.Errorf("%s[%v] = %v, reference has none", name, k, v)
			}
		}
	}
	t.Errorf("%s: %d cells differ (%d reference, %d truth)", name, n, len(want), len(got))
}
