// Package collector joins the stages: it is the ingest.Sink that enriches each
// partition's valid events and writes them to ClickHouse through aggregate.
// It is the one package besides cmd/ that imports ingest, enrich and
// aggregate; the stages themselves never import each other.
//
// Per-partition state (identity links, personas, the window of recent event
// ids that drops redeliveries) lives in one partitionSink per owned partition
// and is rebuilt from ClickHouse when the partition is taken over, so a
// restart or rebalance continues where the previous owner stopped. When the
// batch log has a pending batch, the state is rebuilt from the rows below its
// first offset only: the batch is then enriched exactly as its first attempt
// was, whatever part of it had landed, so its rows and insert blocks, and
// thus what its deduplication token matches, are the same.
//
// Churn: each partitionSink also keeps a pointer-free churn state of its
// customers (churn.go), folded in as Write enriches events and held in the
// partition's enrich.State, which keeps their ids once for both, and a sweep
// goroutine (sweep.go) that re-scores every customer each sweep interval,
// publishes per-persona and per-stage counts for /metrics (summed over the
// open partitions at scrape time by churn_metrics.go) and writes the scores
// that changed to churn_scores. The state is rebuilt from ClickHouse on
// takeover, like the rest; the scores' writes are idempotent per sweep.
//
// Write never drops a batch: it retries ClickHouse with capped, jittered
// backoff until it succeeds or the partition is revoked or shut down, which
// pauses the partition's consumption meanwhile.
package collector
