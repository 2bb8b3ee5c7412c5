package aggregate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/journeys-analytics/journeys/schemas"
)

// Batch is the unit of exactly-once delivery: the rows produced by a
// contiguous range of offsets of one Kafka partition.
type Batch struct {
	Topic     string
	Partition int32
	// First and Last are the offset range covered, inclusive, including
	// invalid or duplicate messages that produce no row. A retry must use the
	// same bounds: they are the deduplication token.
	First, Last int64
	Rows        []schemas.Enriched
}

// ErrInvalidBatch marks a Batch that can never be written: bounds reversed or
// a row from outside the batch's topic, partition or offset range. It is a
// bug in the caller, the only Write error that retrying cannot fix.
var ErrInvalidBatch = errors.New("invalid batch")

// Batch log statuses (ingest_batches.status) and their versions.
const (
	statusIntent  = "intent"
	statusLanded  = "landed"
	versionIntent = 0
	versionLanded = 1
)

// Token is the insert_deduplication_token of the batch covering offsets
// first..last of a partition: "topic/partition/first-last".
func Token(topic string, partition int32, first, last int64) string {
	b := make([]byte, 0, len(topic)+32)
	b = append(b, topic...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, first, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, last, 10)
	return string(b)
}

// Write makes a batch durable exactly once:
//
//  1. an 'intent' row in ingest_batches records the bounds,
//  2. the rows go into events (and through its materialized views) with
//     insert_deduplication_token = Token(b),
//  3. a 'landed' row in ingest_batches supersedes the intent.
//
// Any error may leave any prefix of this done, including part of step 2
// (one month partition of events but not another, events but not a view).
// Calling Write again with the same batch completes it without counting
// anything twice: ClickHouse drops every block it has already seen with that
// token, in events and in each view. A collector that crashed finds the bounds
// to rebuild with Resume.
func (s *Store) Write(ctx context.Context, b *Batch) error {
	if err := b.validate(); err != nil {
		return err
	}
	token := Token(b.Topic, b.Partition, b.First, b.Last)
	if err := s.logBatch(ctx, b, token, statusIntent); err != nil {
		return err
	}
	if len(b.Rows) > 0 {
		if err := s.insertEvents(ctx, b, token); err != nil {
			return err
		}
	}
	return s.logBatch(ctx, b, token, statusLanded)
}

func (b *Batch) validate() error {
	if b.First > b.Last || b.First < 0 {
		return fmt.Errorf("aggregate: batch %s: %w: bounds", Token(b.Topic, b.Partition, b.First, b.Last), ErrInvalidBatch)
	}
	if len(b.Rows) > int(b.Last-b.First+1) {
		return fmt.Errorf("aggregate: batch %s: %w: %d rows for %d offsets",
			Token(b.Topic, b.Partition, b.First, b.Last), ErrInvalidBatch, len(b.Rows), b.Last-b.First+1)
	}
	for i := range b.Rows {
		src := &b.Rows[i].Source
		if src.Topic != b.Topic || src.Partition != b.Partition || src.Offset < b.First || src.Offset > b.Last {
			return fmt.Errorf("aggregate: batch %s: %w: row %d is from %s/%d@%d",
				Token(b.Topic, b.Partition, b.First, b.Last), ErrInvalidBatch, i, src.Topic, src.Partition, src.Offset)
		}
	}
	return nil
}

// insertSettings make an insert idempotent under token. async_insert is
// forced off because a server may enable it (the 26.7 test server does) and an
// async insert is acknowledged before the rows and their views are written:
// 'landed' could then be recorded for rows still in a buffer, and the token
// would apply to the buffer's flush rather than to this batch.
func insertSettings(token string) clickhouse.Settings {
	return clickhouse.Settings{
		"insert_deduplicate":                                 1,
		"insert_deduplication_token":                         token,
		"deduplicate_blocks_in_dependent_materialized_views": 1,
		"async_insert":                                       0,
	}
}

// logBatch records the batch's status in ingest_batches. The row has its own
// token so that a retried Write does not add rows; duplicates that slip
// through (outside the dedup window) are harmless: the table keeps the highest
// version and readers group by the key.
func (s *Store) logBatch(ctx context.Context, b *Batch, token, status string) error {
	version := uint8(versionIntent)
	if status == statusLanded {
		version = versionLanded
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(insertSettings(token+"/"+status)))
	start := time.Now()
	err := s.insert(ctx, "INSERT INTO "+s.table("ingest_batches")+
		" (kafka_topic, kafka_partition, first_offset, last_offset, rows, status, version, token)",
		func(batch driver.Batch) error {
			return batch.Append(b.Topic, b.Partition, b.First, b.Last, uint32(len(b.Rows)), status, version, token)
		})
	if err != nil {
		s.metrics.errors.WithLabelValues(opInsert).Inc()
		return fmt.Errorf("aggregate: insert ingest_batches %s %s: %w", status, token, err)
	}
	s.metrics.insertDuration.WithLabelValues("ingest_batches").Observe(time.Since(start).Seconds())
	s.metrics.insertedRows.WithLabelValues("ingest_batches").Inc()
	return nil
}

// insertEvents is step 2 of Write.
func (s *Store) insertEvents(ctx context.Context, b *Batch, token string) error {
	var cols *eventColumns
	select {
	case cols = <-s.columns:
	default:
		cols = &eventColumns{rows: s.cfg.BatchRows}
	}
	defer func() {
		select {
		case s.columns <- cols:
		default:
		}
	}()
	cols.fill(b.Rows)

	ctx = s.eventsInsertContext(ctx, token)
	start := time.Now()
	// One block per insert, never Flush in between: on 26.7 the blocks that
	// a token deduplicates are the client's blocks, so a retry sent in other
	// chunks (another chunk size, or HTTP, which sends one block) would be
	// written again. One block is what both protocols send.
	var giveBack func()
	err := s.insert(ctx, "INSERT INTO "+s.table("events")+" ("+eventColumnList+")", func(batch driver.Batch) (err error) {
		giveBack, err = cols.appendTo(batch)
		return err
	})
	if giveBack != nil {
		giveBack() // insert has sent or abandoned the batch
	}
	if err != nil {
		s.metrics.errors.WithLabelValues(opInsert).Inc()
		return fmt.Errorf("aggregate: insert events %s: %w", token, err)
	}
	s.metrics.insertDuration.WithLabelValues("events").Observe(time.Since(start).Seconds())
	s.metrics.insertedRows.WithLabelValues("events").Add(float64(len(b.Rows)))
	return nil
}

// eventsInsertContext carries the settings of an events insert.
func (s *Store) eventsInsertContext(ctx context.Context, token string) context.Context {
	settings := insertSettings(token)
	// The server then declares LowCardinality columns as String in the
	// insert's header and builds the dictionaries itself: the driver's
	// LowCardinality encoder reflects over every value (measured: 8x the
	// allocations of the whole insert, 15% more client CPU). It also makes
	// every events column one that eventColumns can lend.
	settings["low_cardinality_allow_in_native_format"] = 0
	return clickhouse.Context(ctx, clickhouse.WithSettings(settings))
}

func (s *Store) insert(ctx context.Context, query string, fill func(driver.Batch) error) error {
	batch, err := s.conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	defer batch.Close()
	if err := fill(batch); err != nil {
		return err
	}
	return batch.Send()
}

// OffsetRange is an inclusive range of Kafka offsets.
type OffsetRange struct{ First, Last int64 }

// Resume is where a partition's batch log says a collector taking it over
// should continue.
type Resume struct {
	// LandedThrough is the highest last offset of a landed batch, -1 if none:
	// everything up to it is in ClickHouse, whatever the committed Kafka
	// offset says.
	LandedThrough int64
	// Pending are the batches above LandedThrough whose insert may or may not
	// have happened, in offset order. Rebuild each from exactly these bounds
	// (the messages that fall in the range, nothing more) and Write it: what
	// had landed is deduplicated, the rest is written.
	Pending []OffsetRange
}

// Resume reads the batch log of a partition.
func (s *Store) Resume(ctx context.Context, topic string, partition int32) (Resume, error) {
	args := []any{clickhouse.Named("topic", topic), clickhouse.Named("partition", partition)}
	var landed struct {
		last  int64
		count uint64
	}
	err := s.conn.QueryRow(ctx, `SELECT max(last_offset), count()
FROM `+s.table("ingest_batches")+`
WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:Int32} AND version = `+strconv.Itoa(versionLanded),
		args...).Scan(&landed.last, &landed.count)
	if err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return Resume{}, fmt.Errorf("aggregate: resume %s/%d: %w", topic, partition, err)
	}
	r := Resume{LandedThrough: -1}
	if landed.count > 0 {
		r.LandedThrough = landed.last
	}

	// The log is only ever appended to, so grouping by the key (rather than
	// FINAL) sees both rows of a batch whose versions have not merged yet.
	rows, err := s.conn.Query(ctx, `SELECT first_offset, argMax(last_offset, version)
FROM `+s.table("ingest_batches")+`
WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:Int32} AND first_offset > {landed:Int64}
GROUP BY first_offset
HAVING max(version) = `+strconv.Itoa(versionIntent)+`
ORDER BY first_offset`,
		append(args, clickhouse.Named("landed", r.LandedThrough))...)
	if err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return Resume{}, fmt.Errorf("aggregate: resume %s/%d: %w", topic, partition, err)
	}
	defer rows.Close()
	for rows.Next() {
		var o OffsetRange
		if err := rows.Scan(&o.First, &o.Last); err != nil {
			return Resume{}, fmt.Errorf("aggregate: resume %s/%d: %w", topic, partition, err)
		}
		r.Pending = append(r.Pending, o)
	}
	if err := rows.Err(); err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return Resume{}, fmt.Errorf("aggregate: resume %s/%d: %w", topic, partition, err)
	}
	return r, nil
}
