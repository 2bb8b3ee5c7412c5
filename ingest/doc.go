// Package ingest consumes customer-interaction events from Kafka and hands
// validated batches to a Sink, committing offsets only after the Sink has made
// them durable.
//
// Delivery: at-least-once from Kafka. A partition's messages are processed in
// offset order by one goroutine; batches are cut per partition by rows, bytes
// and time. For each batch, in this order:
//
//  1. invalid messages are written to the dead-letter topic (reason, detail and
//     the original bytes), retried with backoff until the broker acknowledges
//     them: a dead-letter topic that cannot be written pauses the partition;
//  2. the valid events are given to the Sink, which returns only when they are
//     durable (it retries transient storage errors itself);
//  3. the offset after the batch is committed for the consumer-group
//     generation that fetched it.
//
// Batches are rebuilt identically after a crash: the Sink reports, when a
// partition is opened, which offset ranges it already started or finished
// (Resume). Messages at or below LandedThrough are skipped; each pending range
// is cut again with exactly the same bounds, so the Sink's idempotency token
// for that range matches. Batch cutting never depends on time inside a pending
// range.
//
// Rebalance: each partition runs inside the kafka-go Generation that assigned
// it. When the generation ends (partition revoked), the partition's in-flight
// batch is dropped uncommitted and the next owner re-reads it; offsets are
// never committed with a generation this member no longer holds.
//
// Shutdown (Run's context cancelled): stop fetching, write and commit the batch
// in flight within the drain timeout, close the readers, leave the group.
// Every partition of the generation drains before any of them returns: kafka-go
// ends a generation when one of its functions returns, which would otherwise
// cancel the others' drains and skip their commits.
//
// Errors: a message that fails validation is permanent (dead-lettered, its
// offset committed past); everything else (broker, dead-letter topic, Sink) is
// retried and pauses the partition rather than dropping data.
package ingest
