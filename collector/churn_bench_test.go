package collector

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/schemas"
)

// BenchmarkChurnStateBytes reports the heap that a partition's per-customer
// state takes per customer at a million customers: enrichment's State and
// the churn state together, as a partitionSink keeps them. Each customer is
// an anonymous visitor identified as a user (one identity link), with a
// persona, and churn state after four events in both journeys of the test
// map. Ids are shaped like the generator's: a 36-byte UUID anonymous id
// (not stored: links keep its hash) and a 20-byte user id (stored once).
func BenchmarkChurnStateBytes(b *testing.B) {
	const n = 1_000_000
	jm := testMap(b)
	now := t0
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cs := NewCustomers(testChurnConfig(&now), jm)
		var ev schemas.Event
		for i := range n {
			benchCustomerEvents(&ev, i, func(ev *schemas.Event) { cs.Add(ev) })
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tracked, links, personas, stored := cs.Len(); tracked != n || links != n || personas != n || stored != n {
			b.Fatalf("%d tracked, %d links, %d personas, %d stored", tracked, links, personas, stored)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/customer")
		runtime.KeepAlive(cs)
	}
}

// benchCustomerEvents passes customer i's events to add, reusing ev: an
// identify that links its visitor and gives it a persona, then events that
// reach stages of both journeys of the test map.
func benchCustomerEvents(ev *schemas.Event, i int, add func(*schemas.Event)) {
	at := t0.Add(time.Duration(i) * time.Second)
	*ev = schemas.Event{
		Type:        schemas.TypeIdentify,
		UserID:      fmt.Sprintf("usr_%016x", uint64(i)*0x9e3779b97f4a7c15),
		AnonymousID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
		Timestamp:   at,
	}
	ev.Context.Campaign.Source = [2]string{"alpha", "beta"}[i%2]
	add(ev)
	user := ev.UserID
	for k, name := range []string{"E0", "E1", "U0"} {
		*ev = schemas.Event{Type: schemas.TypeTrack, Event: name, UserID: user, Timestamp: at.Add(time.Duration(k+1) * time.Hour)}
		add(ev)
	}
}

// BenchmarkChurnSweep scores a million customers, as one partition's sweep
// does (without the ClickHouse write).
func BenchmarkChurnSweep(b *testing.B) {
	const n = 1_000_000
	now := t0
	jm := testMap(b)
	tb := newChurnTable(newChurnModel(testChurnConfig(&now), jm), enrich.NewState(jm))
	ev := tagger(jm)
	for i := range n {
		tb.observe(ev(fmt.Sprintf("user-%011d", i), "beta", "life", i%3, false, t0.Add(time.Duration(i)*time.Second)))
	}
	at := t0.Add(30 * day).Unix()
	for b.Loop() {
		var sum float64
		for i := range tb.cust {
			sum += tb.score(i, at).risk
		}
		if sum == 0 {
			b.Fatal("no risk")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/customer")
}

// BenchmarkChurnObserve is the per-event cost Write pays for churn state,
// over 100,000 known customers.
func BenchmarkChurnObserve(b *testing.B) {
	const n = 100_000
	now := t0
	jm := testMap(b)
	tb := newChurnTable(newChurnModel(testChurnConfig(&now), jm), enrich.NewState(jm))
	ev := tagger(jm)
	events := make([]*schemas.Enriched, n)
	for i := range events {
		events[i] = ev(fmt.Sprintf("user-%011d", i), "beta", "life", i%3, i%50 == 0, t0.Add(time.Duration(i)*time.Second))
	}
	i := 0
	for b.Loop() {
		e := events[i%n]
		e.Timestamp = e.Timestamp.Add(time.Hour)
		tb.observe(e)
		i++
	}
}

// BenchmarkCustomerEvent is the per-event cost of a partition's customer
// state, enrichment and churn together as Write pays it, over a million
// known customers in random order (their state mostly out of the CPU
// cache): an event with the user id, and one with only the anonymous id
// linked to it.
func BenchmarkCustomerEvent(b *testing.B) {
	const n = 1_000_000
	now := t0
	cs := NewCustomers(testChurnConfig(&now), testMap(b))
	users, anons := make([]string, n), make([]string, n)
	var ev schemas.Event
	for i := range n {
		benchCustomerEvents(&ev, i, func(ev *schemas.Event) {
			if ev.Type == schemas.TypeIdentify {
				users[i], anons[i] = ev.UserID, ev.AnonymousID
			}
			cs.Add(ev)
		})
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	for _, linked := range []bool{false, true} {
		name := "user"
		if linked {
			name = "linked_visitor"
		}
		b.Run(name, func(b *testing.B) {
			ev := schemas.Event{Type: schemas.TypeTrack, Event: "E2", Timestamp: t0.Add(30 * day)}
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				i := order[k%n]
				k++
				if linked {
					ev.AnonymousID = anons[i]
				} else {
					ev.UserID = users[i]
				}
				cs.Add(&ev)
			}
		})
	}
}
