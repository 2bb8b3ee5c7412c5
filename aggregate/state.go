package aggregate

import (
	"context"
	"fmt"

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
	st := PartitionState{Links: map[string]string{}, Personas: map[string]string{}}
	wrap := func(err error) error {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return fmt.Errorf("aggregate: partition state %s/%d: %w", topic, partition, err)
	}
	args := []any{
		clickhouse.Named("topic", topic),
		clickhouse.Named("partition", partition),
		clickhouse.Named("identify", schemas.TypeIdentify),
	}
	where := " WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:Int32}"

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
