package enrich

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/journeys-analytics/journeys/schemas"
)

// benchEvents is a realistic mix over the example map: mostly page views
// and product events, some unknown events, a few identifies, spread over
// many customers, with numbers as the validator may decode them.
func benchEvents(n, customers int) []schemas.Event {
	r := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/", "/blog/launch", "/docs/api", "/pricing", "/account/cancel", "/features", "/about"}
	tracks := []string{"Ad Clicked", "Demo Requested", "Trial Started", "Order Completed", "Feature Used",
		"Feature Used", "Feature Used", "Support Ticket Opened", "Review Posted", "Signed Up",
		"Report Created", "Button Clicked", "Newsletter Opened"}
	sources := []string{"", "", "", "google", "linkedin", "github", "newsletter"}
	mediums := []string{"", "", "cpc", "email", "social"}
	events := make([]schemas.Event, n)
	for i := range events {
		c := r.IntN(customers)
		ev := schemas.Event{
			EventID:     fmt.Sprintf("e%d", i),
			AnonymousID: fmt.Sprintf("anon-%d", c),
			Context: schemas.Context{
				Channel:  "web",
				Campaign: schemas.Campaign{Source: sources[r.IntN(len(sources))], Medium: mediums[r.IntN(len(mediums))]},
			},
		}
		if c%3 == 0 { // a third of the customers are logged in
			ev.UserID = fmt.Sprintf("user-%d", c)
		}
		switch p := r.IntN(100); {
		case p < 45:
			ev.Type = schemas.TypePage
			ev.Context.Page.Path = paths[r.IntN(len(paths))]
		case p < 95:
			ev.Type = schemas.TypeTrack
			ev.Event = tracks[r.IntN(len(tracks))]
			ev.Properties = map[string]any{"rating": json.Number(fmt.Sprint(r.IntN(6))), "plan": "pro"}
		default:
			ev.Type = schemas.TypeIdentify
			ev.UserID = fmt.Sprintf("user-%d", c)
			ev.Traits = map[string]any{"company_size": float64(r.IntN(1000)), "email": "x@example.com"}
		}
		events[i] = ev
	}
	return events
}

func BenchmarkEnrich(b *testing.B) {
	m := loadExample(b)
	events := benchEvents(1<<16, 200_000)
	s := NewState(m)
	src := schemas.Source{Topic: "events", Partition: 0}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := &events[i%len(events)]
		src.Offset = int64(i)
		_ = m.Enrich(s, ev, src)
		i++
	}
}

// BenchmarkPersona isolates persona evaluation over the example map.
func BenchmarkPersona(b *testing.B) {
	m := loadExample(b)
	// An event that names no touchpoint, so only persona rules run.
	ev := schemas.Event{Type: schemas.TypeTrack, Event: "Button Clicked", UserID: "u",
		Traits:  map[string]any{"company_size": json.Number("120")},
		Context: schemas.Context{Campaign: schemas.Campaign{Source: "google", Medium: "organic"}}}
	b.Run("unassigned/all_rules_no_match", func(b *testing.B) {
		s := NewState(m)
		b.ReportAllocs()
		for b.Loop() {
			_ = m.Enrich(s, &ev, schemas.Source{})
		}
	})
	b.Run("assigned/one_higher_rule", func(b *testing.B) {
		s := NewState(m)
		s.RestorePersona("u", "smb_owner")
		b.ReportAllocs()
		for b.Loop() {
			_ = m.Enrich(s, &ev, schemas.Source{})
		}
	})
	b.Run("assigned/highest_no_rules", func(b *testing.B) {
		s := NewState(m)
		s.RestorePersona("u", "enterprise_buyer")
		b.ReportAllocs()
		for b.Loop() {
			_ = m.Enrich(s, &ev, schemas.Source{})
		}
	})
}

// BenchmarkRule is the cost of one rule by its shape, with its reads
// patched as compile does and as written (the VM reading Env by
// reflection), on a page event with a json.Number property. Compare with
// benchstat -col /reads.
func BenchmarkRule(b *testing.B) {
	ev := schemas.Event{Type: schemas.TypePage, Event: "Viewed",
		Properties: map[string]any{"rating": json.Number("4"), "plan": "pro"},
		Context:    schemas.Context{Campaign: schemas.Campaign{Source: "google"}, Page: schemas.Page{Path: "/docs/api"}}}
	s := NewState(mustParse(b, tierMap))
	s.env.set(&ev)
	for _, tc := range []struct{ name, src string }{
		{"string", `context.page.path == "/pricing"`},
		{"prefix_or_default", `(context.page.path ?? "") startsWith "/docs"`},
		{"key_nil_and_compare", `properties.rating != nil && properties.rating >= 4`},
		{"persona", `context.campaign.source == "linkedin" || (traits.company_size != nil && traits.company_size >= 500)`},
		{"builtin", `len(context.page.path) > 3 && lower(properties.plan) == "pro"`},
	} {
		fast, err := compile(tc.src)
		if err != nil {
			b.Fatal(err)
		}
		plain, err := expr.Compile(tc.src, options()...)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range []struct {
			name string
			p    *program
		}{{"patched", fast}, {"as_written", &program{vm: plain}}} {
			b.Run("shape="+tc.name+"/reads="+p.name, func(b *testing.B) {
				r := &rule{program: p.p}
				b.ReportAllocs()
				for b.Loop() {
					r.eval(s)
				}
			})
		}
	}
}
