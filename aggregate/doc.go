// Package aggregate stores enriched events in ClickHouse and reads the
// journey analytics back. It owns the schema (the migrations embedded in
// package schemas) and is the only stage that talks to ClickHouse.
//
// # Delivery: exactly once per offset range
//
// The unit of delivery is a Batch: the rows produced by a contiguous range of
// offsets of one Kafka partition. Store.Write makes a batch durable exactly
// once by combining two mechanisms:
//
//   - Deduplication by token. The rows are inserted with
//     insert_deduplication_token = Token(topic, partition, first, last) and
//     every table has a deduplication window, so ClickHouse drops any block it
//     has already stored under that token, in events and, with
//     deduplicate_blocks_in_dependent_materialized_views, in every
//     materialized view. A retry with the same bounds therefore completes
//     whatever an earlier attempt left half done (measured on 26.7: an insert
//     that fails in one view has already written events and possibly other
//     views; its retry fills in the missing view and doubles nothing).
//   - The batch log (table ingest_batches). Before inserting, Write records
//     the bounds as 'intent'; after, as 'landed'. A collector that takes over
//     a partition calls Store.Resume: everything up to LandedThrough is
//     stored, and each Pending range must be rebuilt with exactly those bounds
//     and written again, so that the retry carries the same token.
//
// The token only protects retries that reach ClickHouse within the
// deduplication window (Config.DedupWindow blocks per table) and that send the
// same rows as one insert block: Write always sends a batch as a single block,
// over either protocol, because on 26.7 the blocks a token deduplicates are
// the client's blocks. The events table has no insert-time column, so a replay
// of the same bounds leaves it byte-for-byte unchanged.
//
// Ordering: Write does not order anything; rows keep their Kafka coordinates
// (kafka_topic, kafka_partition, kafka_offset) and every view orders by event
// time. Writes for different partitions may run concurrently; a partition's
// batches should be written one after another, which Resume relies on.
//
// # Errors
//
// Every error from Write, Resume, PartitionState and Migrate is retryable
// from the caller's point of view: the server is down, slow, or refused the
// statement, and retrying the same call (with backoff) is always safe and
// never loses or double-counts a row. Nothing is ever dropped by this package:
// a Write that returns an error may have stored part or all of the batch, and
// the only correct reaction is to retry it with the same bounds, not to skip
// it and not to commit the Kafka offsets past it. Two exceptions are bugs,
// not conditions: ErrInvalidBatch (a batch whose rows lie outside its bounds,
// which retrying cannot fix) and a migration error naming a file whose
// checksum changed after it was applied (the binary does not match the
// database; fix the deployment, not the data).
//
// # Reading
//
// The analyst-facing objects are views over the materialized tables, each
// documented in its migration: stage_reach, customer_journeys,
// stage_conversion_daily, time_to_convert and the parameterized
// funnel_conversion(window_seconds = N). Store's read methods query them
// with bound parameters only.
package aggregate
