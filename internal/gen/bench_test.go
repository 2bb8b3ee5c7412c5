package gen

import "testing"

// BenchmarkNext measures the generator alone: planning, encoding and truth
// bookkeeping, one message per iteration.
func BenchmarkNext(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Customers = 1_000_000 // planned lazily, so this costs nothing up front
	cfg.MaxEventBytes = 8 << 10
	g := New(cfg)
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		m, ok := g.Next()
		if !ok {
			b.StopTimer()
			g = New(cfg)
			b.StartTimer()
			continue
		}
		size += int64(len(m.Value))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(size)/float64(b.N), "B/msg")
}

// BenchmarkTruth measures computing the truth of a finished stream, which
// the end-to-end tests pay once.
func BenchmarkTruth(b *testing.B) {
	cfg := testConfig(10_000)
	g := New(cfg)
	for {
		if _, ok := g.Next(); !ok {
			break
		}
	}
	for b.Loop() {
		g.done = nil
		t := g.Truth()
		_ = t.Funnel(720 * 60 * 60 * 1e9)
	}
}
