package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayIsCappedAndJittered(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			d := p.Delay(n)
			if d < want/2 || d >= want {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v)", n, d, want/2, want)
			}
		}
	}
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	calls := 0
	var seen []int
	err := Do(context.Background(), Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		func(context.Context) error {
			calls++
			if calls < 4 {
				return errors.New("down")
			}
			return nil
		},
		func(attempt int, err error) { seen = append(seen, attempt) })
	if err != nil || calls != 4 {
		t.Fatalf("Do = %v after %d calls, want nil after 4", err, calls)
	}
	if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 {
		t.Fatalf("onError attempts = %v, want [1 2 3]", seen)
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Do(ctx, Policy{Initial: time.Hour, Max: time.Hour},
		func(context.Context) error { calls++; cancel(); return errors.New("down") }, nil)
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}
