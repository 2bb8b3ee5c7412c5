package aggregate

import "testing"

// BenchmarkColumnsFill is the client-side row encoding that Write does before
// the driver sees the rows: 10k realistic rows spread into column slices.
// It needs no server; BenchmarkWrite measures the whole insert.
func BenchmarkColumnsFill(b *testing.B) {
	const size = 10_000
	batch := benchBatch(size)
	var cols eventColumns
	b.ReportAllocs()
	for b.Loop() {
		cols.fill(batch.Rows)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/row")
}
