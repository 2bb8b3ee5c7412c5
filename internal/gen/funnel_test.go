package gen

import (
	"testing"
	"time"
)

func TestWindowFunnel(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	at := func(stage uint8, ms int64) FunnelEvent {
		return FunnelEvent{Time: t0.Add(time.Duration(ms) * time.Millisecond), Stage: stage}
	}
	const w = 100 * time.Millisecond
	tests := []struct {
		name       string
		events     []FunnelEvent
		window     time.Duration
		conditions int
		want       int
	}{
		{"no events", nil, w, 3, 0},
		{"no first stage", []FunnelEvent{at(1, 0), at(2, 10)}, w, 3, 0},
		{"full chain", []FunnelEvent{at(0, 0), at(1, 10), at(2, 20)}, w, 3, 3},
		{"input order does not matter", []FunnelEvent{at(2, 20), at(0, 0), at(1, 10)}, w, 3, 3},
		{"skipped stage stops the chain", []FunnelEvent{at(0, 0), at(2, 10), at(3, 20)}, w, 4, 1},
		{"stage before the first stage is ignored", []FunnelEvent{at(1, 0), at(0, 10), at(2, 20)}, w, 3, 1},
		{"window end is inclusive", []FunnelEvent{at(0, 0), at(1, 50), at(2, 100)}, w, 3, 3},
		{"one past the window", []FunnelEvent{at(0, 0), at(1, 50), at(2, 101)}, w, 3, 2},
		// The window runs from the chain's first event, not from the
		// previous step.
		{"window counts from chain start", []FunnelEvent{at(0, 0), at(1, 90), at(2, 120)}, w, 3, 2},
		// A later first-stage event restarts the chain with a later start.
		{"later start rescues the chain", []FunnelEvent{at(0, 0), at(0, 100), at(1, 150), at(2, 190)}, w, 3, 3},
		// ... but a level already reached is kept.
		{"restart keeps reached level", []FunnelEvent{at(0, 0), at(1, 10), at(0, 1000)}, w, 3, 2},
		// Equal timestamps sort by condition, so the chain advances even
		// when the later stage was delivered first; no strict increase.
		{"same instant, stage order", []FunnelEvent{at(2, 5), at(1, 5), at(0, 5)}, w, 3, 3},
		{"same instant earlier stage after", []FunnelEvent{at(0, 0), at(2, 10), at(1, 10)}, w, 3, 3},
		{"repeated stages", []FunnelEvent{at(0, 0), at(1, 10), at(1, 20), at(0, 30), at(1, 40)}, w, 3, 2},
		{"single condition matches anything of it", []FunnelEvent{at(0, 7)}, w, 1, 1},
		{"events beyond the conditions are not in the state", []FunnelEvent{at(3, 0)}, w, 1, 0},
		{"events beyond the conditions are skipped", []FunnelEvent{at(0, 0), at(5, 1), at(1, 2)}, w, 2, 2},
		{"zero window", []FunnelEvent{at(0, 0), at(1, 0), at(2, 1)}, 0, 3, 2},
		{"huge window does not overflow", []FunnelEvent{at(0, 0), at(1, 1e12)}, time.Duration(1<<63 - 1), 2, 2},
		{"sub-millisecond window truncates", []FunnelEvent{at(0, 0), at(1, 1)}, 999 * time.Microsecond, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WindowFunnel(tt.events, tt.window, tt.conditions); got != tt.want {
				t.Errorf("WindowFunnel = %d, want %d", got, tt.want)
			}
		})
	}
}
