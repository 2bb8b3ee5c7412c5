package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/internal/gen"
)

// Result is a scenario's figures. Problems lists every way the run differs
// from the ground truth; an empty list is a pass.
type Result struct {
	Produced, Valid, Landed, Lost, Duplicates, DeadLettered int
	// DeadLetterCopies counts dead letters written more than once (a crash
	// between the dead-letter write and the commit re-sends them).
	DeadLetterCopies int
	// CopiedAt names the first few source offsets dead-lettered twice.
	CopiedAt []string
	Problems []string
}

// Line is the scenario's last line of output.
func (r *Result) Line() string {
	return fmt.Sprintf("produced=%d valid=%d landed=%d lost=%d duplicates=%d dead_lettered=%d",
		r.Produced, r.Valid, r.Landed, r.Lost, r.Duplicates, r.DeadLettered)
}

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// CH names the database a scenario's collectors write to.
type CH struct {
	Addr, Database string
}

// OpenStore opens the scenario's database for reading.
func OpenStore(ctx context.Context, ch CH) (*aggregate.Store, error) {
	return aggregate.Open(ctx, aggregate.Config{
		Addrs: []string{ch.Addr}, Protocol: "native", Database: ch.Database, Username: "default",
		DialTimeout: 5 * time.Second, MaxOpenConns: 2, DedupWindow: 1000,
	}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
}

// Verify compares ClickHouse and the dead-letter topic with the truth: every
// valid event once, every invalid one dead-lettered with its reason and
// original bytes, and every view equal to what the generator computed.
func Verify(ctx context.Context, ch CH, brokers []string, dlq string, truth *gen.Truth, exp *Expect) (*Result, error) {
	r := &Result{Produced: truth.Produced, Valid: truth.Valid}
	store, err := OpenStore(ctx, ch)
	if err != nil {
		return nil, err
	}
	defer store.Close()

	rows, distinct, err := store.EventCounts(ctx)
	if err != nil {
		return nil, err
	}
	r.Landed = int(distinct)
	r.Duplicates = int(rows - distinct)
	r.Lost = max(truth.Valid-int(distinct), 0)
	if int(distinct) != truth.Valid || rows != distinct {
		r.problem("events: %d rows, %d distinct event ids; want %d and %d", rows, distinct, truth.Valid, truth.Valid)
	}

	dead, err := ReadDeadLetters(ctx, brokers, dlq)
	if err != nil {
		return nil, err
	}
	type src struct {
		p int32
		o int64
	}
	seen := map[src]bool{}
	byReason := map[string]int{}
	for _, d := range dead {
		k := src{d.Partition, d.Offset}
		if seen[k] {
			r.DeadLetterCopies++
			if len(r.CopiedAt) < 5 {
				r.CopiedAt = append(r.CopiedAt, fmt.Sprintf("%d@%d", d.Partition, d.Offset))
			}
			continue
		}
		seen[k] = true
		want, ok := exp.Reasons[string(d.Value)]
		if !ok {
			r.problem("dead letter %d@%d is not a generated invalid event (original bytes changed?): %.120q", d.Partition, d.Offset, d.Value)
			continue
		}
		if string(d.Reason) != want {
			r.problem("dead letter %d@%d: reason %s, want %s (%s)", d.Partition, d.Offset, d.Reason, want, d.Detail)
		}
		byReason[want]++
	}
	r.DeadLettered = len(seen)
	for reason, n := range truth.Invalid {
		if byReason[reason] != n {
			r.problem("dead-lettered %s: %d, want %d", reason, byReason[reason], n)
		}
	}

	views, err := ReadViews(ctx, store)
	if err != nil {
		return nil, err
	}
	compare(r, "stage conversion", truth.Conversion, views.Conversion)
	compare(r, "stage reach", truth.StageReach, views.Reach)
	for w, got := range views.Funnel {
		compare(r, fmt.Sprintf("funnel (window %s)", w), truth.Funnel(w), got)
	}
	return r, nil
}

// FunnelWindows are the conversion windows the funnel is checked at.
var FunnelWindows = [...]time.Duration{time.Hour, 72 * time.Hour, 30 * 24 * time.Hour}

// Views are the analyst views read back in the generator's key types.
type Views struct {
	Conversion map[gen.ConvKey]gen.ConvValue
	Reach      map[gen.ReachKey]gen.ReachValue
	Funnel     map[time.Duration]map[gen.FunnelKey]uint64
	TimeTo     []aggregate.TimeToConvertRow
}

// ReadViews reads every view the truth covers, and time_to_convert.
func ReadViews(ctx context.Context, store *aggregate.Store) (*Views, error) {
	v := &Views{
		Conversion: map[gen.ConvKey]gen.ConvValue{},
		Reach:      map[gen.ReachKey]gen.ReachValue{},
		Funnel:     map[time.Duration]map[gen.FunnelKey]uint64{},
	}
	conv, err := store.StageConversion(ctx, aggregate.Filter{})
	if err != nil {
		return nil, err
	}
	for _, c := range conv {
		v.Conversion[gen.ConvKey{Journey: c.Journey, Persona: c.Persona, StageIndex: c.StageIndex}] = gen.ConvValue{Reached: c.Reached, Progressed: c.Progressed, DroppedOff: c.DroppedOff}
	}
	reach, err := store.StageReach(ctx, aggregate.Filter{})
	if err != nil {
		return nil, err
	}
	for _, c := range reach {
		v.Reach[gen.ReachKey{Journey: c.Journey, Stage: c.Stage, StageIndex: c.StageIndex, Persona: c.Persona, Day: c.Day.Format(time.DateOnly)}] = gen.ReachValue{Customers: c.Customers, Events: c.Events}
	}
	for _, w := range FunnelWindows {
		m := map[gen.FunnelKey]uint64{}
		for _, j := range []string{"lifecycle", "onboarding"} {
			levels, err := store.Funnel(ctx, j, w)
			if err != nil {
				return nil, err
			}
			for _, l := range levels {
				if l.Customers > 0 { // the view lists every level; the truth only those reached
					m[gen.FunnelKey{Journey: l.Journey, Persona: l.Persona, Level: l.Level}] = l.Customers
				}
			}
		}
		v.Funnel[w] = m
	}
	if v.TimeTo, err = store.TimeToConvert(ctx, aggregate.Filter{}); err != nil {
		return nil, err
	}
	return v, nil
}

func compare[K comparable, V comparable](r *Result, what string, want, got map[K]V) {
	if d := gen.Diff(what, want, got, 10); d != "" {
		r.problem("%s", d)
	}
}

// Snapshot is everything a replay must leave unchanged: the row count of
// every table (a deduplicated insert adds no rows, not even unmerged ones)
// and the content of every view.
type Snapshot struct {
	Tables map[string]uint64
	Views  *Views
}

// TakeSnapshot reads the database's tables and views. Left out: ingest_batches
// (a replay may append batch-log rows, which readers group away) and
// churn_scores, a time series the collector appends to on every sweep by the
// wall clock, replay or not.
func TakeSnapshot(ctx context.Context, ch CH) (*Snapshot, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, `SELECT name FROM system.tables
WHERE database = {db:String} AND engine LIKE '%MergeTree%' AND name NOT IN ('ingest_batches', 'schema_migrations', 'churn_scores')
ORDER BY name`, clickhouse.Named("db", ch.Database))
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s := &Snapshot{Tables: map[string]uint64{}}
	for _, n := range names {
		var c uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM `"+ch.Database+"`.`"+n+"`").Scan(&c); err != nil {
			return nil, fmt.Errorf("chaos: count %s: %w", n, err)
		}
		s.Tables[n] = c
	}
	store, err := OpenStore(ctx, ch)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if s.Views, err = ReadViews(ctx, store); err != nil {
		return nil, err
	}
	return s, nil
}

// Diff lists what differs between two snapshots.
func (s *Snapshot) Diff(after *Snapshot) []string {
	var d []string
	for n, c := range s.Tables {
		if after.Tables[n] != c {
			d = append(d, fmt.Sprintf("table %s: %d rows before, %d after", n, c, after.Tables[n]))
		}
	}
	if len(s.Tables) == 0 {
		d = append(d, "no tables found")
	}
	if !reflect.DeepEqual(s.Views, after.Views) {
		d = append(d, fmt.Sprintf("views differ:\nbefore %+v\nafter  %+v", s.Views, after.Views))
	}
	sort.Strings(d)
	return d
}
