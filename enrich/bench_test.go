package enrich

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/expr-lang/expr"

	"github.com/journeys-analytics/journeys/internal/gen"
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
			ev.SetProperties(map[string]any{"rating": json.Number(fmt.Sprint(r.IntN(6))), "plan": "pro"})
		default:
			ev.Type = schemas.TypeIdentify
			ev.UserID = fmt.Sprintf("user-%d", c)
			ev.SetTraits(map[string]any{"company_size": float64(r.IntN(1000)), "email": "x@example.com"})
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
		Context: schemas.Context{Campaign: schemas.Campaign{Source: "google", Medium: "organic"}}}
	ev.SetTraits(map[string]any{"company_size": json.Number("120")})
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
		Context: schemas.Context{Campaign: schemas.Campaign{Source: "google"}, Page: schemas.Page{Path: "/docs/api"}}}
	ev.SetProperties(map[string]any{"rating": json.Number("4"), "plan": "pro"})
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

// BenchmarkRuleReadsKeys is the cost of one of the example map's rules
// that read keys, per event, as the collector runs it on an event Decode
// left: reading the key from the objects' text, as rules do ("text"), or
// decoding the objects whole first ("decode"), or with the maps already
// built ("maps", as Decode used to build them for every event, a cost
// then paid in Decode).
func BenchmarkRuleReadsKeys(b *testing.B) {
	v, err := schemas.NewValidator(schemas.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ name, raw, src string }{
		{"review", `{"event_id":"e","type":"track","event":"Review Posted","anonymous_id":"a","properties":{"rating":5,"site":"g2"}}`,
			`properties.rating != nil && properties.rating >= 4`},
		{"persona_identify", `{"event_id":"e","type":"identify","user_id":"u","anonymous_id":"a","traits":{"email":"user-000042@example.com","company_size":120,"industry":"software"}}`,
			`context.campaign.source == "linkedin" || (traits.company_size != nil && traits.company_size >= 500)`},
		{"persona_track", `{"event_id":"e","type":"track","event":"Feature Used","user_id":"u","properties":{"feature":"api"}}`,
			`context.campaign.source == "linkedin" || (traits.company_size != nil && traits.company_size >= 500)`},
	} {
		decoded, inv := v.Decode([]byte(tc.raw), at)
		if inv != nil {
			b.Fatal(inv)
		}
		p, err := compile(tc.src)
		if err != nil || p.direct == nil {
			b.Fatalf("%s: %v, or not direct", tc.src, err)
		}
		r := &rule{program: p}
		s := NewState(loadExample(b))
		for _, how := range []string{"text", "decode", "maps"} {
			b.Run(tc.name+"/"+how, func(b *testing.B) {
				withMaps := decoded
				withMaps.SetProperties(withMaps.Properties())
				withMaps.SetTraits(withMaps.Traits())
				var ev schemas.Event
				b.ReportAllocs()
				for b.Loop() {
					ev = decoded // a fresh copy: nothing decoded yet
					switch how {
					case "decode":
						ev.Properties()
						ev.Traits()
					case "maps":
						ev = withMaps
					}
					s.env.set(&ev)
					r.eval(s)
				}
			})
		}
	}
}

// BenchmarkDecodeEnrich is what the collector does per event between
// Kafka and ClickHouse, but for storage: decode a message of the stream
// `journeys bench` produces and enrich it with the example map. It uses
// only Decode and Enrich, so that it runs unchanged on older trees.
func BenchmarkDecodeEnrich(b *testing.B) {
	v, err := schemas.NewValidator(schemas.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	g := gen.New(gen.DefaultConfig())
	var msgs []gen.Message
	for len(msgs) < 1<<14 {
		m, ok := g.Next()
		if !ok {
			b.Fatal("the generator ended")
		}
		if m.Invalid == "" {
			msgs = append(msgs, m)
		}
	}
	m := loadExample(b)
	s := NewState(m)
	var row schemas.Enriched
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		msg := &msgs[i%len(msgs)]
		ev, inv := v.Decode(msg.Value, msg.Time)
		if inv != nil {
			b.Fatal(inv)
		}
		row.Event, row.Source = ev, schemas.Source{Offset: int64(i)}
		m.EnrichRow(s, &row)
		i++
	}
}
