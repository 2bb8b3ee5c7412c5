package gen

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// FunnelEvent is one event of one customer in one journey, for WindowFunnel.
type FunnelEvent struct {
	Time  time.Time
	Stage uint8 // stage_index: the event matches condition Stage+1
}

// WindowFunnel is ClickHouse's windowFunnel(window)(ts, stage_index = 0, …,
// stage_index = conditions-1) in its default mode (no strict_* options), on
// timestamps in milliseconds, i.e. as if called on
// toUInt64(toUnixTimestamp64Milli(timestamp)) with the window in
// milliseconds. It is a port of getEventLevelNonStrictOnce in ClickHouse's
// src/AggregateFunctions/AggregateFunctionWindowFunnel.cpp:
//
//   - Events that match no condition (Stage >= conditions) are not part of
//     the state at all.
//   - The state is sorted by (timestamp, condition), so of two events at the
//     same instant the lower stage counts as the earlier one.
//   - A stage-0 event starts a chain at its own time, replacing the start
//     of the previous level-1 chain; levels already reached are kept.
//   - A stage-k event (k > 0) extends the chain that reached level k if its
//     timestamp is at most that chain's start + window (inclusive); there is
//     no requirement that it be strictly later than the stage k-1 event.
//   - The result is the highest level ever reached, 0 without any stage-0
//     event, and 1 for a single condition as soon as any event matches.
//
// The generator never gives one customer two events in the same second, so
// for its streams the tie rules, and whether the view uses milliseconds or a
// DateTime, do not matter; hand-made sequences may rely on them.
func WindowFunnel(events []FunnelEvent, window time.Duration, conditions int) int {
	evs := make([]tagged, len(events))
	for i, e := range events {
		evs[i] = tagged{ts: e.Time.UnixMilli(), stage: e.Stage}
	}
	slices.SortStableFunc(evs, func(a, b tagged) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.stage, b.stage))
	})
	return windowFunnel(evs, window.Milliseconds(), conditions)
}

// maxConditions is windowFunnel's own limit on the number of conditions.
const maxConditions = 32

// windowFunnel is WindowFunnel on events already sorted by (ts, stage).
func windowFunnel(evs []tagged, window int64, conditions int) int {
	if conditions < 1 || conditions > maxConditions {
		return 0
	}
	type chain struct {
		start int64
		ok    bool
	}
	var reached [maxConditions]chain
	matched := false
	for _, e := range evs {
		k := int(e.stage)
		if k >= conditions {
			continue
		}
		matched = true
		if conditions == 1 {
			return 1
		}
		switch {
		case k == 0:
			reached[0] = chain{e.ts, true}
		case reached[k-1].ok && e.ts <= saturatingAdd(reached[k-1].start, window):
			reached[k] = chain{reached[k-1].start, true}
			if k+1 == conditions {
				return conditions
			}
		}
	}
	if !matched {
		return 0
	}
	for l := conditions; l > 0; l-- {
		if reached[l-1].ok {
			return l
		}
	}
	return 0
}

func saturatingAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
