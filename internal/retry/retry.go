// Package retry runs an operation until it succeeds or its context ends, with
// capped, jittered exponential backoff. journeys never drops data on a
// transient failure: ClickHouse and Kafka errors wait here instead.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is the backoff schedule.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay is the wait before attempt n+1 (n counts failures so far, from 0):
// Initial·2ⁿ capped at Max, drawn uniformly from its upper half so that many
// partitions retrying a dead server do not hit it in lockstep.
func (p Policy) Delay(n int) time.Duration {
	d := p.Initial
	for i := 0; i < n && d < p.Max; i++ {
		d *= 2
	}
	if d > p.Max {
		d = p.Max
	}
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	return time.Duration(half + rand.Int64N(half))
}

// Do calls op until it returns nil or ctx ends. onError sees every failure
// (for logs and metrics) with the attempt number, counted from 1. Do returns
// nil, or ctx's error joined with nothing else: the last op error has already
// been reported through onError.
func Do(ctx context.Context, p Policy, op func(context.Context) error, onError func(attempt int, err error)) error {
	for n := 0; ; n++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if onError != nil {
			onError(n+1, err)
		}
		t := time.NewTimer(p.Delay(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
