package schemas

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/internal/gen"
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

// BenchmarkDecodeOwned is DecodeOwned, as ingest calls it: the message is
// handed over, so the event's strings need no copy of it.
func BenchmarkDecodeOwned(b *testing.B) {
	v := newValidator(b, DefaultLimits())
	raw := []byte(benchEvent)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, inv := v.DecodeOwned(raw, recv); inv != nil {
			b.Fatal(inv)
		}
	}
}

// BenchmarkDecodeReference is Decode on the reference path alone
// (encoding/json, the jsonschema validator, build): what every event cost
// before the generated fast path, and what an event it leaves to the
// reference still costs.
func BenchmarkDecodeReference(b *testing.B) {
	v := newValidator(b, DefaultLimits())
	raw := []byte(benchEvent)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if inv := v.precheck(raw); inv != nil {
			b.Fatal(inv)
		}
		if _, inv := v.decodeReference(raw, recv); inv != nil {
			b.Fatal(inv)
		}
	}
}

// BenchmarkDecodeStages splits Decode's cost between its parts, to show
// where an optimisation would have to start: the reference path's two
// library calls, the fast path's check of properties, and their decoding
// into a map, which the Event does only when something reads them.
func BenchmarkDecodeStages(b *testing.B) {
	v := newValidator(b, DefaultLimits())
	raw := []byte(benchEvent)
	b.Run("fast path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Event
			if !v.decodeFast(raw, recv, &e, false) {
				b.Fatal("the fast path declined the benchmark event")
			}
		}
	})
	b.Run("fast path properties", func(b *testing.B) {
		props := []byte(`{"order_id":"o_1001","revenue":129.9}`)
		b.ReportAllocs()
		for b.Loop() {
			var p fastParser
			p.reset(props, 32, false)
			if _, ok := p.freeObject(); !ok {
				b.Fatal("freeObject declined")
			}
		}
	})
	b.Run("properties decoded on demand", func(b *testing.B) {
		props := []byte(`{"order_id":"o_1001","revenue":129.9}`)
		b.ReportAllocs()
		for b.Loop() {
			if decodeObject(props) == nil {
				b.Fatal("decodeObject declined")
			}
		}
	})
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

// BenchmarkDecodeGenerated decodes the valid events of the stream that
// `journeys bench` produces (internal/gen: tracks, pages, identifies, with
// context and properties), by Decode and by the reference path alone.
func BenchmarkDecodeGenerated(b *testing.B) {
	v := newValidator(b, DefaultLimits())
	g := gen.New(gen.DefaultConfig())
	var msgs []gen.Message
	var size int
	for len(msgs) < 1000 {
		m, _ := g.Next()
		if m.Invalid == "" {
			msgs = append(msgs, m)
			size += len(m.Value)
		}
	}
	for _, path := range []struct {
		name   string
		decode func(raw []byte, at time.Time) (Event, *Invalid)
	}{
		{"fast", v.Decode},
		{"reference", v.decodeReference},
	} {
		b.Run(path.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(msgs)))
			i := 0
			for b.Loop() {
				m := &msgs[i%len(msgs)]
				if _, inv := path.decode(m.Value, m.Time); inv != nil {
					b.Fatal(inv)
				}
				i++
			}
		})
	}
}
