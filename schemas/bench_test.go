package schemas

import (
	"encoding/json"
	"testing"
)

// benchEvent is a typical track event from a browser SDK, about 300 bytes.
const benchEvent = `{"event_id":"7f9c2ba4-e88f-4c1b-9d2e-3a5b6c7d8e9f","type":"track","event":"Order Completed","anonymous_id":"a_9f8e7d","timestamp":"2025-03-01T11:59:58.120Z","sent_at":"2025-03-01T11:59:59.001Z","properties":{"order_id":"o_1001","revenue":129.9},"context":{"campaign":{"source":"google","medium":"cpc"},"page":{"path":"/checkout"}}}`

func BenchmarkDecode(b *testing.B) {
	v := newValidator(b, DefaultLimits())
	raw := []byte(benchEvent)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, inv := v.Decode(raw, recv); inv != nil {
			b.Fatal(inv)
		}
	}
}

// BenchmarkDecodeStages splits Decode's cost between its two library calls,
// to show where an optimisation would have to start.
func BenchmarkDecodeStages(b *testing.B) {
	v := newValidator(b, DefaultLimits())
	raw := []byte(benchEvent)
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("schema.Validate", func(b *testing.B) {
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := v.schema.Validate(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("byte scans", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			depthExceeded(raw, 32)
			topLevelValues(raw)
		}
	})
}
