package aggregate

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Reads behind the journey map web view. Like every read here they bind all
// values as server parameters; only table names are spliced, and those come
// from configuration.

// StageCell is one cell of the journey map: the customers of one persona
// (or of all personas) who reached a stage on the filter's days, as
// stage_conversion_daily and time_to_convert count them.
type StageCell struct {
	Journey string
	// AllPersonas marks the row summed over every persona (Persona is then
	// ""); otherwise Persona is the customer's persona in the journey.
	AllPersonas bool
	Persona     string
	StageIndex  uint8
	Stage       string
	Reached     uint64
	Progressed  uint64 // reached a higher stage, at any time
	DroppedOff  uint64 // Reached - Progressed
	// P50Seconds is time_to_convert's p50_seconds over the Progressed
	// customers (quantileExact, no interpolation); 0 when Progressed is 0.
	P50Seconds float64
}

// ConversionRate is Progressed / Reached, 0 for an empty cell.
func (c StageCell) ConversionRate() float64 {
	if c.Reached == 0 {
		return 0
	}
	return float64(c.Progressed) / float64(c.Reached)
}

// DropOffRate is DroppedOff / Reached, 0 for an empty cell.
func (c StageCell) DropOffRate() float64 {
	if c.Reached == 0 {
		return 0
	}
	return float64(c.DroppedOff) / float64(c.Reached)
}

// JourneyMapCells computes, per journey, stage and persona and also over all
// personas, the numbers of StageConversion and TimeToConvert in one pass over
// customer_stage_progress: the view both of theirs are built on, so the cells
// equal what stage_conversion_daily summed over the days and time_to_convert
// say. Rows are ordered by journey, all-personas row first, persona and
// stage_index.
func (s *Store) JourneyMapCells(ctx context.Context, f Filter) ([]StageCell, error) {
	where, args := f.where("day")
	q := `SELECT journey, toBool(grouping(persona) = 1) AS all_personas, if(all_personas, '', persona),
    stage_index, any(stage), count() AS r, countIf(has_later_stage) AS p, toUInt64(r - p),
    if(p = 0, 0, quantileExactIf(0.5)(assumeNotNull(seconds_to_next_stage), has_later_stage))
FROM ` + s.table("customer_stage_progress") + where + `
GROUP BY GROUPING SETS ((journey, persona, stage_index), (journey, stage_index))
ORDER BY journey, all_personas DESC, persona, stage_index`
	var out []StageCell
	err := s.query(ctx, "journey map cells", q, args, func(r scanner) error {
		var x StageCell
		if err := r.Scan(&x.Journey, &x.AllPersonas, &x.Persona, &x.StageIndex, &x.Stage,
			&x.Reached, &x.Progressed, &x.DroppedOff, &x.P50Seconds); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// TouchpointReachRow is how many distinct customers had at least one event at
// a touchpoint, under the persona tagged on those events.
type TouchpointReachRow struct {
	Journey     string
	AllPersonas bool   // summed over personas; Persona is then ""
	Persona     string // persona tagged on the events
	StageIndex  uint8
	Stage       string
	Touchpoint  string
	Customers   uint64 // distinct customer_id
	Events      uint64
}

// TouchpointReach counts, from events, the distinct customers and the events
// per journey, stage, touchpoint and persona, and per touchpoint over all
// personas (a customer whose persona changed counts once there), for events
// on the filter's days. Rows are ordered by journey, all-personas rows first,
// persona, stage_index and touchpoint.
func (s *Store) TouchpointReach(ctx context.Context, f Filter) ([]TouchpointReachRow, error) {
	where, args := f.where("toDate(ts)")
	if where == "" {
		where = " WHERE journey != ''"
	} else {
		where += " AND journey != ''"
	}
	q := `SELECT journey, toBool(grouping(persona) = 1) AS all_personas, if(all_personas, '', persona),
    stage_index, any(stage), touchpoint, uniqExact(customer_id), count()
FROM ` + s.table("events") + where + `
GROUP BY GROUPING SETS ((journey, persona, stage_index, touchpoint), (journey, stage_index, touchpoint))
ORDER BY journey, all_personas DESC, persona, stage_index, touchpoint`
	var out []TouchpointReachRow
	err := s.query(ctx, "touchpoint reach", q, args, func(r scanner) error {
		var x TouchpointReachRow
		if err := r.Scan(&x.Journey, &x.AllPersonas, &x.Persona, &x.StageIndex, &x.Stage,
			&x.Touchpoint, &x.Customers, &x.Events); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// churnView is the latest churn score per customer and journey, maintained by
// the churn scoring; the web view only reads it.
const churnView = "churn_current"

// ChurnAvailable reports whether churn_current exists, so that readers can
// say "not available" rather than fail on a database where churn scoring has
// not been set up.
func (s *Store) ChurnAvailable(ctx context.Context) (bool, error) {
	var ok bool
	err := s.query(ctx, "churn available", "EXISTS TABLE "+s.table(churnView), nil, func(r scanner) error {
		var v uint8
		if err := r.Scan(&v); err != nil {
			return err
		}
		ok = v == 1
		return nil
	})
	return ok, err
}

// ChurnBandCount is how many customers of a persona in a journey have their
// latest churn score in a band.
type ChurnBandCount struct {
	Journey, Persona, Band string
	Customers              uint64
	AvgRisk                float64
}

// ChurnBands counts churn_current per journey, persona and band, for the
// filter's journey and persona. The day bounds do not apply: the scores are
// current, not of a period. Ordered by journey, persona and band.
func (s *Store) ChurnBands(ctx context.Context, f Filter) ([]ChurnBandCount, error) {
	where, args := Filter{Journey: f.Journey, Persona: f.Persona}.where("")
	q := `SELECT journey, persona, toString(band), count(), avg(toFloat64(risk))
FROM ` + s.table(churnView) + where + `
GROUP BY journey, persona, band
ORDER BY journey, persona, toString(band)`
	var out []ChurnBandCount
	err := s.query(ctx, "churn bands", q, args, func(r scanner) error {
		var x ChurnBandCount
		if err := r.Scan(&x.Journey, &x.Persona, &x.Band, &x.Customers, &x.AvgRisk); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// AtRiskCustomer is a customer's latest churn score with the factors behind it.
type AtRiskCustomer struct {
	CustomerID    string
	Persona       string
	Journey       string
	FurthestStage string
	Risk          float64
	Band          string
	Inactivity    float64
	Decline       float64
	Stall         float64
	Negative      float64
	IdleSeconds   float64
	ScoredAt      time.Time
}

// AtRisk lists the customers of the filter's journey and persona from
// churn_current whose band is not excludeBand ("" excludes nothing), riskiest
// first (ties by customer id), at most limit of them.
func (s *Store) AtRisk(ctx context.Context, f Filter, excludeBand string, limit int) ([]AtRiskCustomer, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("aggregate: at risk: limit %d: want > 0", limit)
	}
	where, args := Filter{Journey: f.Journey, Persona: f.Persona}.where("")
	if where == "" {
		where = " WHERE toString(band) != {exclude:String}"
	} else {
		where += " AND toString(band) != {exclude:String}"
	}
	args = append(args, clickhouse.Named("exclude", excludeBand), clickhouse.Named("limit", uint64(limit)))
	// The casts keep this reader independent of the exact column types the
	// churn scoring chose (Float32 or Float64, an index or a name).
	q := `SELECT customer_id, persona, journey, toString(furthest_stage), toFloat64(risk), toString(band),
    toFloat64(inactivity), toFloat64(decline), toFloat64(stall), toFloat64(negative),
    toFloat64(idle_seconds), toDateTime64(scored_at, 3, 'UTC')
FROM ` + s.table(churnView) + where + `
ORDER BY toFloat64(risk) DESC, customer_id
LIMIT {limit:UInt64}`
	var out []AtRiskCustomer
	err := s.query(ctx, "at risk", q, args, func(r scanner) error {
		var x AtRiskCustomer
		if err := r.Scan(&x.CustomerID, &x.Persona, &x.Journey, &x.FurthestStage, &x.Risk, &x.Band,
			&x.Inactivity, &x.Decline, &x.Stall, &x.Negative, &x.IdleSeconds, &x.ScoredAt); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}
