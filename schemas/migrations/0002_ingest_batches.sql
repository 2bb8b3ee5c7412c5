-- ingest_batches: the batch log that makes aggregate.Store.Write idempotent
-- across crashes. Before a batch's rows are inserted an 'intent' row records
-- its exact offset bounds; after the insert a 'landed' row (higher version)
-- replaces it. A collector that restarts rebuilds every 'intent' batch above
-- the highest 'landed' offset with exactly the recorded bounds, so the retry
-- carries the same insert_deduplication_token and ClickHouse drops what had
-- already landed. Read it with GROUP BY/argMax (or FINAL): merges are lazy.
CREATE TABLE IF NOT EXISTS {{.Database}}.ingest_batches {{.OnCluster}}
(
    kafka_topic     LowCardinality(String),
    kafka_partition Int32,
    first_offset    Int64,                  -- first Kafka offset covered, including messages that produced no row
    last_offset     Int64,                  -- last Kafka offset covered (inclusive)
    rows            UInt32,                 -- rows the batch inserts into events
    status          LowCardinality(String), -- 'intent' (insert may or may not have happened) | 'landed' (done)
    version         UInt8,                  -- 0 intent, 1 landed: ReplacingMergeTree keeps the highest
    token           String                  -- insert_deduplication_token used for events: "topic/partition/first-last"
)
ENGINE = {{engine "ReplacingMergeTree" "version"}}
ORDER BY (kafka_topic, kafka_partition, first_offset)
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}
