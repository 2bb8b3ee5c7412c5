package aggregate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Filter narrows a read. Zero fields do not filter.
type Filter struct {
	Journey, Persona string
	// From and To bound the UTC day, both inclusive; only their date counts.
	From, To time.Time
}

// where renders the filter as a WHERE clause over the columns journey,
// persona and dayCol, with bound parameters only. Absent conditions are left
// out, not written as always-true alternatives (journey = {j} OR {j} = empty),
// so that the journey and day conditions certainly reach the primary keys.
func (f Filter) where(dayCol string) (string, []any) {
	var conds []string
	var args []any
	if f.Journey != "" {
		conds = append(conds, "journey = {journey:String}")
		args = append(args, clickhouse.Named("journey", f.Journey))
	}
	if f.Persona != "" {
		conds = append(conds, "persona = {persona:String}")
		args = append(args, clickhouse.Named("persona", f.Persona))
	}
	if !f.From.IsZero() {
		conds = append(conds, dayCol+" >= {from:Date}")
		args = append(args, clickhouse.Named("from", f.From.UTC().Format(time.DateOnly)))
	}
	if !f.To.IsZero() {
		conds = append(conds, dayCol+" <= {to:Date}")
		args = append(args, clickhouse.Named("to", f.To.UTC().Format(time.DateOnly)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// StageReachRow is one row of the stage_reach view.
type StageReachRow struct {
	Journey    string
	Persona    string // persona tagged on the events
	Day        time.Time
	StageIndex uint8
	Stage      string
	Customers  uint64 // distinct customers with a touchpoint event in the stage that day
	Events     uint64
}

// StageReach reads stage_reach, ordered by journey, persona, day and stage.
func (s *Store) StageReach(ctx context.Context, f Filter) ([]StageReachRow, error) {
	where, args := f.where("day")
	q := `SELECT journey, persona, day, stage_index, stage, customers, events
FROM ` + s.table("stage_reach") + where + `
ORDER BY journey, persona, day, stage_index`
	var out []StageReachRow
	err := s.query(ctx, "stage reach", q, args, func(r scanner) error {
		var x StageReachRow
		if err := r.Scan(&x.Journey, &x.Persona, &x.Day, &x.StageIndex, &x.Stage, &x.Customers, &x.Events); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// StageConversion is stage_conversion_daily summed over the days of a Filter.
// Persona is the customer's persona in the journey (its latest).
type StageConversion struct {
	Journey, Persona            string
	StageIndex                  uint8
	Stage                       string
	Reached, Progressed         uint64
	DroppedOff                  uint64
	ConversionRate, DropOffRate float64 // of the sums
}

// StageConversion sums stage_conversion_daily over the filter's days,
// ordered by journey, persona and stage_index. A customer counts on the day it
// first reached the stage, so with a day range it counts if it reached the
// stage within the range, whenever it progressed.
func (s *Store) StageConversion(ctx context.Context, f Filter) ([]StageConversion, error) {
	where, args := f.where("day")
	q := `SELECT journey, persona, stage_index, any(stage),
    sum(reached) AS r, sum(progressed) AS p, sum(dropped_off) AS d, p / r, d / r
FROM ` + s.table("stage_conversion_daily") + where + `
GROUP BY journey, persona, stage_index
ORDER BY journey, persona, stage_index`
	var out []StageConversion
	err := s.query(ctx, "stage conversion", q, args, func(r scanner) error {
		var x StageConversion
		if err := r.Scan(&x.Journey, &x.Persona, &x.StageIndex, &x.Stage,
			&x.Reached, &x.Progressed, &x.DroppedOff, &x.ConversionRate, &x.DropOffRate); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// TimeToConvertRow is one row of time_to_convert: how long the customers who
// left a stage for a higher one took to get there.
type TimeToConvertRow struct {
	Journey, Persona string
	StageIndex       uint8
	Stage            string
	Converted        uint64
	P50Seconds       float64
	P90Seconds       float64
	AvgSeconds       float64
}

// TimeToConvert computes time_to_convert for the customers who reached a
// stage on the filter's days (the day of their first event in it), ordered by
// journey, persona and stage_index. With no day bounds it equals the view.
func (s *Store) TimeToConvert(ctx context.Context, f Filter) ([]TimeToConvertRow, error) {
	where, args := f.where("day")
	if where == "" {
		where = " WHERE has_later_stage"
	} else {
		where += " AND has_later_stage"
	}
	// The same aggregation as the time_to_convert view, over the view it is
	// built on, because the view itself has no day to filter by.
	q := `SELECT journey, persona, stage_index, any(stage), count(),
    quantileExact(0.5)(assumeNotNull(seconds_to_next_stage)),
    quantileExact(0.9)(assumeNotNull(seconds_to_next_stage)),
    avg(assumeNotNull(seconds_to_next_stage))
FROM ` + s.table("customer_stage_progress") + where + `
GROUP BY journey, persona, stage_index
ORDER BY journey, persona, stage_index`
	var out []TimeToConvertRow
	err := s.query(ctx, "time to convert", q, args, func(r scanner) error {
		var x TimeToConvertRow
		if err := r.Scan(&x.Journey, &x.Persona, &x.StageIndex, &x.Stage, &x.Converted,
			&x.P50Seconds, &x.P90Seconds, &x.AvgSeconds); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// FunnelLevel is one row of funnel_conversion.
type FunnelLevel struct {
	Journey, Persona string
	Level            uint8 // 1 .. number of stages
	StageIndex       uint8 // Level - 1
	Customers        uint64
}

// Funnel reads funnel_conversion for a journey ("" for all) with a
// conversion window, ordered by journey, persona and level. The window is
// truncated to whole seconds.
func (s *Store) Funnel(ctx context.Context, journey string, window time.Duration) ([]FunnelLevel, error) {
	if window < 0 {
		return nil, fmt.Errorf("aggregate: funnel: negative window %s", window)
	}
	args := []any{clickhouse.Named("window", uint64(window/time.Second))}
	where := ""
	if journey != "" {
		where = " WHERE journey = {journey:String}"
		args = append(args, clickhouse.Named("journey", journey))
	}
	q := `SELECT journey, persona, level, stage_index, customers
FROM ` + s.table("funnel_conversion") + `(window_seconds = {window:UInt64})` + where + `
ORDER BY journey, persona, level`
	var out []FunnelLevel
	err := s.query(ctx, "funnel", q, args, func(r scanner) error {
		var x FunnelLevel
		if err := r.Scan(&x.Journey, &x.Persona, &x.Level, &x.StageIndex, &x.Customers); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

type scanner interface{ Scan(dest ...any) error }

func (s *Store) query(ctx context.Context, what, q string, args []any, row func(scanner) error) error {
	err := func() error {
		rows, err := s.conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}()
	if err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return fmt.Errorf("aggregate: %s: %w", what, err)
	}
	return nil
}
