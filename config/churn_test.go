package config

import (
	"testing"
	"time"
)

// TestChurnFromEnv sets churn keys of each type (duration, float, int)
// through the environment, as a deployment tunes the model.
func TestChurnFromEnv(t *testing.T) {
	e := env{
		"JOURNEYS_CHURN_SWEEP_INTERVAL":              "15s",
		"JOURNEYS_CHURN_WEIGHTS_DECLINE":             "0.35",
		"JOURNEYS_CHURN_HIGH_BAND":                   "0.8",
		"JOURNEYS_CHURN_MAX_CUSTOMERS_PER_PARTITION": "5000",
		"JOURNEYS_CHURN_INACTIVITY_SCALE":            "2.5",
	}
	c, err := Load(nil, e.lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := Default().Churn
	want.SweepInterval = 15 * time.Second
	want.Weights.Decline = 0.35
	want.HighBand = 0.8
	want.MaxCustomersPerPartition = 5000
	want.InactivityScale = 2.5
	if c.Churn != want {
		t.Errorf("churn = %+v\nwant    %+v", c.Churn, want)
	}
}
