// Package collector joins the stages: it is the ingest.Sink that enriches each
// partition's valid events and writes them to ClickHouse through aggregate.
// It is the one package besides cmd/ that imports ingest, enrich and
// aggregate; the stages themselves never import each other.
//
// Per-partition state (identity links, personas, the window of recent event
// ids that drops redeliveries) lives in one partitionSink per owned partition
// and is rebuilt from ClickHouse when the partition is taken over, so a
// restart or rebalance continues where the previous owner stopped.
//
// Write never drops a batch: it retries ClickHouse with capped, jittered
// backoff until it succeeds or the partition is revoked or shut down, which
// pauses the partition's consumption meanwhile.
package collector
