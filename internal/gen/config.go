package gen

import (
	"errors"
	"fmt"
	"time"
)

// Config says what stream to generate. The zero Config is not useful; start
// from DefaultConfig and change what the caller cares about.
type Config struct {
	// Seed makes the stream reproducible: the same Config gives the same
	// messages, byte for byte, and the same Truth.
	Seed int64
	// Customers is the number of synthetic people. Each is one Kafka key.
	// It is not Truth.Customers: a person who signs up is counted under its
	// anonymous id before the identify event and under its user id after.
	Customers int
	// Start is the earliest event time; people arrive over the following
	// Days, weighted towards working hours (UTC). A fixed time, never the
	// wall clock, so that days in the truth do not depend on when a test ran.
	Start time.Time
	Days  int

	// InvalidRate, DuplicateRate and OutOfOrderRate are fractions of all
	// produced messages.
	InvalidRate    float64
	DuplicateRate  float64
	OutOfOrderRate float64

	// MaxEventBytes must equal the pipeline's schema.max_event_bytes: the
	// too_large defect is a message 1 B–1 KiB over it, and every other
	// message stays well under it.
	MaxEventBytes int

	// OnboardingRate is the share of sign-ups that start the onboarding
	// journey.
	OnboardingRate float64

	// ClockSkewRate is the share of people whose device clock is wrong by
	// minutes to hours. Their timestamp and sent_at carry the same error,
	// which the pipeline's clock-skew correction must remove exactly.
	ClockSkewRate float64
}

// DefaultConfig returns the configuration of the demo: 10,000 people over two
// weeks from 2026-10-01 (about 110,000 messages). MaxEventBytes is the
// pipeline's default limit, 1 MiB; a test that lowers the pipeline's limit
// must lower this one too, or too_large messages would be accepted.
func DefaultConfig() Config {
	return Config{
		Seed:           1,
		Customers:      10_000,
		Start:          time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		Days:           14,
		InvalidRate:    0.01,
		DuplicateRate:  0.005,
		OutOfOrderRate: 0.02,
		MaxEventBytes:  1 << 20,
		OnboardingRate: 0.6,
		ClockSkewRate:  0.05,
	}
}

// minEventBytes keeps every valid message, and every defect other than
// too_large, under MaxEventBytes with room to spare (the largest is the
// too_deep one, well under 1 KiB).
const minEventBytes = 2048

// maxDays keeps every customer's journey shorter than the shortest
// conversion window of the map (onboarding, 168h, is bounded separately;
// lifecycle is 720h), so that a windowFunnel computed on seconds and one
// computed on milliseconds agree.
const maxDays = 29

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Customers < 1 {
		errs = append(errs, fmt.Errorf("customers must be >= 1, got %d", c.Customers))
	}
	if c.Start.IsZero() {
		errs = append(errs, errors.New("start must be set"))
	}
	if c.Days < 1 || c.Days > maxDays {
		errs = append(errs, fmt.Errorf("days must be in [1, %d], got %d", maxDays, c.Days))
	}
	rate := func(name string, v, hi float64) {
		if !(v >= 0 && v <= hi) { // also catches NaN
			errs = append(errs, fmt.Errorf("%s must be in [0, %g], got %g", name, hi, v))
		}
	}
	rate("invalid rate", c.InvalidRate, 0.3)
	rate("duplicate rate", c.DuplicateRate, 0.3)
	rate("out-of-order rate", c.OutOfOrderRate, 0.2)
	rate("onboarding rate", c.OnboardingRate, 1)
	rate("clock skew rate", c.ClockSkewRate, 1)
	if c.MaxEventBytes < minEventBytes {
		errs = append(errs, fmt.Errorf("max event bytes must be >= %d, got %d", minEventBytes, c.MaxEventBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gen: config: %w", err)
	}
	return nil
}
