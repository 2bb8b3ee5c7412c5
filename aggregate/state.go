package aggregate

import (
	"context"
	"fmt"
	"math"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/journeys-analytics/journeys/schemas"
)

// PartitionState is what the events of one Kafka partition say about the
// stitching state a consumer built while reading it, so that the consumer
// taking the partition over continues where the previous one stopped.
type PartitionState struct {
	// Links maps anonymous_id to user_id as the first identify event of that
	// anonymous id (by Kafka offset) set it.
	Links map[string]string
	// Personas maps customer_id, anonymous customers included, to the persona
	// of its latest event by Kafka offset: the order the enricher saw them in.
	Personas map[string]string
	// RecentEventIDs are the event_ids of the last n rows by Kafka offset,
	// newest first, to drop redeliveries of what was already written.
	RecentEventIDs []string
}

// PartitionState loads the state of a partition from the events it produced.
// It scans the partition's rows in events, whose sort key is made for
// analysts rather than for this: it is meant for a partition takeover, not for
// every batch.
func (s *Store) PartitionState(ctx context.Context, topic string, partition int32, recentIDs int) (PartitionState, error) {
	return s.PartitionStateBefore(ctx, topic, partition, recentIDs, math.MaxInt64)
}

// PartitionStateBefore is PartitionState from the rows below offset before
// only: the state a consumer had when it was about to write the batch that
// starts at before. A collector rebuilding a pending batch needs exactly
// that: the rows that batch may already have stored (all of them, or one
// month's part of them after a server crash) must not count as seen, or the
// rebuilt batch would differ from the first attempt (fewer rows, other
// personas), and an insert block that differs under the same token is not
// completed but dropped or, part by part, wrongly matched.
func (s *Store) PartitionStateBefore(ctx context.Context, topic string, partition int32, recentIDs int, before int64) (PartitionState, error) {
	st := PartitionState{Links: map[string]string{}, Personas: map[string]string{}}
	wrap := func(err error) error {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return fmt.Errorf("aggregate: partition state %s/%d: %w", topic, partition, err)
	}
	args := []any{
		clickhouse.Named("topic", topic),
		clickhouse.Named("partition", partition),
		clickhouse.Named("identify", schemas.TypeIdentify),
		clickhouse.Named("before", before),
	}
	where := " WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:Int32} AND kafka_offset < {before:Int64}"

	err := s.scanPairs(ctx, `SELECT anonymous_id, argMin(user_id, kafka_offset) FROM `+s.table("events")+where+
		` AND type = {identify:String} AND anonymous_id != '' AND user_id != '' GROUP BY anonymous_id`,
		args, st.Links)
	if err != nil {
		return PartitionState{}, wrap(err)
	}
	err = s.scanPairs(ctx, `SELECT customer_id, argMax(persona, kafka_offset) FROM `+s.table("events")+where+
		` AND customer_id != '' GROUP BY customer_id`,
		args, st.Personas)
	if err != nil {
		return PartitionState{}, wrap(err)
	}
	if recentIDs > 0 {
		rows, err := s.conn.Query(ctx, `SELECT event_id FROM `+s.table("events")+where+
			` ORDER BY kafka_offset DESC LIMIT {n:UInt64}`,
			append(args, clickhouse.Named("n", uint64(recentIDs)))...)
		if err != nil {
			return PartitionState{}, wrap(err)
		}
		defer rows.Close()
		st.RecentEventIDs = make([]string, 0, min(recentIDs, 4096))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return PartitionState{}, wrap(err)
			}
			st.RecentEventIDs = append(st.RecentEventIDs, id)
		}
		if err := rows.Err(); err != nil {
			return PartitionState{}, wrap(err)
		}
	}
	return st, nil
}

func (s *Store) scanPairs(ctx context.Context, query string, args []any, into map[string]string) error {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		into[k] = v
	}
	return rows.Err()
}
