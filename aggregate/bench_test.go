package aggregate

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/schemas"
)

// BenchmarkWrite writes 10k-row batches of realistic rows to the test server.
// rows/s is wall-clock throughput of one writer; client-cpu-ns/row is this
// process's CPU time per row (the server runs in another process), the part
// of the pipeline's CPU budget that aggregate spends.
func BenchmarkWrite(b *testing.B) {
	for _, protocol := range []string{"native", "http"} {
		b.Run(protocol, func(b *testing.B) {
			const size = 10_000
			s := migratedStore(b, protocol)
			batch := benchBatch(size)
			ctx := context.Background()

			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				batch.First, batch.Last = int64(i*size), int64(i*size+size-1)
				for j := range batch.Rows {
					batch.Rows[j].Offset = batch.First + int64(j)
				}
				if err := s.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rows := float64(b.N * size)
			b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/rows, "client-cpu-ns/row")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchBatch is a batch shaped like production traffic: many customers, a few
// journeys, stages and personas, JSON properties of a few hundred bytes.
func benchBatch(n int) *Batch {
	personas := []string{"enterprise_buyer", "smb_owner", "developer", "unassigned"}
	stages := []string{"awareness", "consideration", "purchase", "retention", "advocacy"}
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	b := &Batch{Topic: topic, Partition: 0}
	for i := range n {
		cust := fmt.Sprintf("user-%06d", i*7919%50000)
		e := schemas.Enriched{
			Event: schemas.Event{
				EventID:           fmt.Sprintf("0b7f6c2e-%08d-4e1a-9c3d-%012d", i, i),
				Type:              schemas.TypeTrack,
				Event:             "Feature Used",
				UserID:            cust,
				AnonymousID:       fmt.Sprintf("anon-%08d", i*31%90000),
				Timestamp:         base.Add(time.Duration(i) * 1500 * time.Millisecond),
				OriginalTimestamp: base.Add(time.Duration(i) * 1500 * time.Millisecond),
				SentAt:            base.Add(time.Duration(i)*1500*time.Millisecond + 20*time.Millisecond),
				ReceivedAt:        base.Add(time.Duration(i)*1500*time.Millisecond + time.Second),
				RawProperties:     fmt.Appendf(nil, `{"feature":"report_builder","plan":"pro","seats":%d,"duration_ms":%d,"source":"sidebar"}`, i%50, i%9000),
				RawTraits:         []byte(`{}`),
				Context: schemas.Context{
					Channel:  "web",
					Campaign: schemas.Campaign{Name: "spring_launch", Source: "google", Medium: "cpc"},
					Page:     schemas.Page{Path: "/app/reports", URL: "https://app.example.com/app/reports?tab=new", Title: "Reports"},
					Referrer: "https://www.google.com/",
					Device:   schemas.Device{Type: "desktop", OS: "macOS", Manufacturer: "Apple"},
					Locale:   "en-US",
				},
			},
			Source:     schemas.Source{Topic: topic, Partition: 0},
			CustomerID: cust,
			Journey:    "lifecycle",
			Stage:      stages[i%len(stages)],
			StageIndex: uint8(i % len(stages)),
			Touchpoint: "feature_use",
			Persona:    personas[i%len(personas)],
			MapVersion: "acme-saas@0123456789ab",
		}
		if i%10 == 0 {
			e.Type, e.Event.Event = schemas.TypePage, "Pricing"
		}
		b.Rows = append(b.Rows, e)
	}
	return b
}
