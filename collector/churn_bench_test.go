package collector

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/schemas"
)

// BenchmarkChurnStateBytes reports the heap that a partition's churn state
// takes per tracked customer at a million customers, ids included (16-byte
// ids like "user-0000000042"; add the id length for longer ones), with
// customers in both journeys of the test map.
func BenchmarkChurnStateBytes(b *testing.B) {
	const n = 1_000_000
	jm := testMap(b)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%011d", i)
	}
	now := t0
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tb := newChurnTable(newChurnModel(testChurnConfig(&now), jm))
		for i, id := range ids {
			at := t0.Add(time.Duration(i) * time.Second)
			tb.observe(ev(id, "alpha", "life", i%3, i%50 == 0, at))
			tb.observe(ev(id, "alpha", "other", 0, false, at))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tb.len() != n {
			b.Fatalf("tracking %d customers", tb.len())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/customer")
		runtime.KeepAlive(tb)
	}
}

// BenchmarkChurnSweep scores a million customers, as one partition's sweep
// does (without the ClickHouse write).
func BenchmarkChurnSweep(b *testing.B) {
	const n = 1_000_000
	now := t0
	tb := newChurnTable(newChurnModel(testChurnConfig(&now), testMap(b)))
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
	tb := newChurnTable(newChurnModel(testChurnConfig(&now), testMap(b)))
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
