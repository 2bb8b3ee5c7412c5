package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/schemas"
)

// readyDecoder returns a copy of a fully populated event, so that the
// benchmarks below measure what ingest does around decoding (the copies and
// the batch's memory), not the decoder.
type readyDecoder struct{ ev schemas.Event }

func (d readyDecoder) DecodeOwned([]byte, time.Time) (schemas.Event, *schemas.Invalid) {
	return d.ev, nil
}

func benchEvent() schemas.Event {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	return schemas.Event{
		EventID: "0b5c7a8e-1f1e-4d2a-9c55-6f1d2b3c4d5e", Type: schemas.TypeTrack, Event: "Feature Used",
		UserID: "user-000042", AnonymousID: "anon-00000000042",
		Timestamp: at, OriginalTimestamp: at, SentAt: at, ReceivedAt: at,
		RawProperties: []byte(`{"feature":"reports","plan":"pro"}`), RawTraits: []byte("{}"),
		Context: schemas.Context{
			Channel:  "web",
			Campaign: schemas.Campaign{Name: "spring", Source: "google", Medium: "cpc"},
			Page:     schemas.Page{Path: "/app/reports", URL: "https://example.com/app/reports", Title: "Reports"},
			Device:   schemas.Device{Type: "desktop", OS: "macOS"},
			Locale:   "en-US",
		},
	}
}

// BenchmarkBatchFill is ingest's own per-message cost of filling a batch of
// 20,000 valid messages and resetting it, decoding excluded: "reused" is a
// partition between batches, "new_partition" the first batch of a newly
// assigned partition, which starts with no batch memory.
func BenchmarkBatchFill(b *testing.B) {
	const rows = 20_000
	cfg := testConfig([]string{"127.0.0.1:1"})
	cfg.BatchMaxRows = rows
	cfg.BatchMaxBytes = 1 << 30
	c, err := New(cfg, quiet(), prometheus.NewRegistry(), readyDecoder{benchEvent()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.dlq.Close()
	msgs := make([]kafka.Message, rows)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: topic, Offset: int64(i), Value: []byte(fmt.Sprintf("%400d", i))}
	}
	fill := func(p *partition, bt *batch) {
		for i := range msgs {
			p.add(bt, &msgs[i])
		}
		if len(bt.records) != rows {
			b.Fatalf("%d records", len(bt.records))
		}
		bt.reset()
	}
	b.Run("reused", func(b *testing.B) {
		p := &partition{c: c}
		var bt batch
		fill(p, &bt)
		b.ReportAllocs()
		for b.Loop() {
			fill(p, &bt)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/message")
	})
	b.Run("new_partition", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := &partition{c: c}
			var bt batch
			fill(p, &bt)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/message")
	})
}
