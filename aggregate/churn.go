package aggregate

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cespare/xxhash/v2"
)

// ChurnScore is one row of churn_scores: a customer's churn risk at a sweep,
// with the factors it was computed from.
type ChurnScore struct {
	CustomerID     string
	Persona        string
	Journey        string // primary journey; "" when the customer never reached a stage of it
	FurthestStage  string
	StageIndex     int16 // -1: no stage
	StageReachedAt time.Time
	Risk           float32
	Band           string
	Inactivity     float32
	Decline        float32
	Stall          float32
	Negative       float32
	IdleSeconds    uint32
	LastSeen       time.Time
	Events         uint32
}

const churnColumnList = "scored_at, customer_id, persona, journey, furthest_stage, stage_index, stage_reached_at, " +
	"risk, band, inactivity, decline, stall, negative, idle_seconds, last_seen, events, kafka_partition"

// ChurnToken is the insert_deduplication_token of the scores a sweep of a
// partition writes: its time and a digest of the rows. A retry of that
// write carries the same token and is dropped; another sweep at the same
// instant (a tick and an explicit Sweep, a fake clock) has other rows and so
// another token, and is not lost as a "duplicate".
func ChurnToken(topic string, partition int32, scoredAt time.Time, rows []ChurnScore) string {
	d := xxhash.New()
	var buf [4]byte
	for i := range rows {
		_, _ = d.WriteString(rows[i].CustomerID)
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(rows[i].Risk))
		_, _ = d.Write(buf[:])
		_, _ = d.WriteString(rows[i].Band)
	}
	return "churn/" + topic + "/" + strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(scoredAt.UnixMilli(), 10) +
		"/" + strconv.FormatUint(d.Sum64(), 16)
}

// WriteChurnScores inserts the scores of one sweep of a partition as one
// block, idempotently under ChurnToken: call it again with the same
// arguments after an error and nothing is written twice.
func (s *Store) WriteChurnScores(ctx context.Context, topic string, partition int32, scoredAt time.Time, rows []ChurnScore) error {
	if len(rows) == 0 {
		return nil
	}
	token := ChurnToken(topic, partition, scoredAt, rows)
	n := len(rows)
	var (
		at, reached, last                  = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		id, persona, journey, stage, band  = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		stageIndex                         = make([]int16, n)
		risk, inact, decline, stall, negat = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		idle, events                       = make([]uint32, n), make([]uint32, n)
		parts                              = make([]int32, n)
		scoredAtUTC                        = scoredAt.UTC()
	)
	for i := range rows {
		r := &rows[i]
		at[i], reached[i], last[i] = scoredAtUTC, storedTime(r.StageReachedAt), storedTime(r.LastSeen)
		id[i], persona[i], journey[i], stage[i], band[i] = r.CustomerID, r.Persona, r.Journey, r.FurthestStage, r.Band
		stageIndex[i] = r.StageIndex
		risk[i], inact[i], decline[i], stall[i], negat[i] = r.Risk, r.Inactivity, r.Decline, r.Stall, r.Negative
		idle[i], events[i], parts[i] = r.IdleSeconds, r.Events, partition
	}
	settings := insertSettings(token)
	settings["low_cardinality_allow_in_native_format"] = 0
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
	start := time.Now()
	err := s.insert(ctx, "INSERT INTO "+s.table("churn_scores")+" ("+churnColumnList+")", func(b driver.Batch) error {
		cols := [...]any{at, id, persona, journey, stage, stageIndex, reached, risk, band,
			inact, decline, stall, negat, idle, last, events, parts}
		for i, col := range cols {
			if err := b.Column(i).Append(col); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.metrics.errors.WithLabelValues(opInsert).Inc()
		return fmt.Errorf("aggregate: insert churn_scores %s: %w", token, err)
	}
	s.metrics.insertDuration.WithLabelValues("churn_scores").Observe(time.Since(start).Seconds())
	s.metrics.insertedRows.WithLabelValues("churn_scores").Add(float64(n))
	return nil
}

// ChurnState is what ClickHouse knows about the customers of a partition,
// for the collector taking it over to rebuild their churn state.
type ChurnState struct {
	Customers []ChurnCustomer
	// Stages holds, per journey and customer, the furthest stage reached
	// and when it was first reached.
	Stages []ChurnStage
	// Scores are the latest churn_scores rows by customer id.
	Scores map[string]ChurnLastScore
}

// ChurnCustomer is a customer's row of the customers table.
type ChurnCustomer struct {
	CustomerID     string
	Persona        string
	FirstSeen      time.Time
	LastSeen       time.Time
	Events         uint64
	NegativeEvents uint64
}

// ChurnStage is a customer's furthest stage in a journey.
type ChurnStage struct {
	Journey    string
	CustomerID string
	StageIndex uint8
	ReachedAt  time.Time
}

// ChurnLastScore is the latest written score of a customer.
type ChurnLastScore struct {
	ScoredAt time.Time
	Risk     float32
	Band     string
}

// LoadChurnState reads the customers whose events are on partition (by the
// kafka_partition the customers and customer_stages tables keep: the highest
// partition the customer's events came from), their furthest stages and
// their latest scores. Like PartitionState it is meant for a takeover.
func (s *Store) LoadChurnState(ctx context.Context, partition int32) (ChurnState, error) {
	st := ChurnState{Scores: map[string]ChurnLastScore{}}
	wrap := func(err error) error {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return fmt.Errorf("aggregate: churn state of partition %d: %w", partition, err)
	}
	arg := clickhouse.Named("partition", partition)

	rows, err := s.conn.Query(ctx, `SELECT customer_id, argMaxMerge(persona), min(first_seen), max(last_seen),
    sum(events), sum(negative_events)
FROM `+s.table("customers")+` WHERE kafka_partition = {partition:Int32}
GROUP BY customer_id`, arg)
	if err != nil {
		return ChurnState{}, wrap(err)
	}
	for rows.Next() {
		var c ChurnCustomer
		if err := rows.Scan(&c.CustomerID, &c.Persona, &c.FirstSeen, &c.LastSeen, &c.Events, &c.NegativeEvents); err != nil {
			rows.Close()
			return ChurnState{}, wrap(err)
		}
		st.Customers = append(st.Customers, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ChurnState{}, wrap(err)
	}

	rows, err = s.conn.Query(ctx, `SELECT journey, customer_id, max(stage_index), argMax(first_at, stage_index)
FROM (
    SELECT journey, customer_id, stage_index, min(first_at) AS first_at
    FROM `+s.table("customer_stages")+` WHERE kafka_partition = {partition:Int32}
    GROUP BY journey, customer_id, stage_index
)
GROUP BY journey, customer_id`, arg)
	if err != nil {
		return ChurnState{}, wrap(err)
	}
	for rows.Next() {
		var c ChurnStage
		if err := rows.Scan(&c.Journey, &c.CustomerID, &c.StageIndex, &c.ReachedAt); err != nil {
			rows.Close()
			return ChurnState{}, wrap(err)
		}
		st.Stages = append(st.Stages, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ChurnState{}, wrap(err)
	}

	// churn_current groups every customer before it could filter; this
	// reads only the partition's rows.
	rows, err = s.conn.Query(ctx, `SELECT customer_id, max(scored_at), argMax(risk, scored_at), argMax(band, scored_at)
FROM `+s.table("churn_scores")+` WHERE kafka_partition = {partition:Int32}
GROUP BY customer_id`, arg)
	if err != nil {
		return ChurnState{}, wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c ChurnLastScore
		if err := rows.Scan(&id, &c.ScoredAt, &c.Risk, &c.Band); err != nil {
			return ChurnState{}, wrap(err)
		}
		st.Scores[id] = c
	}
	if err := rows.Err(); err != nil {
		return ChurnState{}, wrap(err)
	}
	return st, nil
}
