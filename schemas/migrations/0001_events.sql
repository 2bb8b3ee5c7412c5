-- events: one row per accepted Kafka message, i.e. every field of schemas.Enriched.
-- It is the source of truth; every other table here is derived from it by a
-- materialized view, so re-deriving means re-reading this table.
--
-- There is deliberately no insert-time column (inserted_at, _version, ...): a
-- retry or a replay of the same Kafka offsets carries the same
-- insert_deduplication_token and must leave this table byte-for-byte unchanged.
--
-- The sort key serves the analyst's path (journey → persona → day → customer);
-- lookups by Kafka position (aggregate.PartitionState) scan the table instead,
-- which only happens when a consumer takes over a partition.
CREATE TABLE IF NOT EXISTS {{.Database}}.events {{.OnCluster}}
(
    event_id            String,                   -- producer's message id; dedup key of redeliveries
    type                LowCardinality(String),   -- track | identify | page
    event               LowCardinality(String),   -- event name; the page name for page events
    customer_id         String,                   -- id counted under: user_id, or the stitched user, or anonymous_id
    user_id             String,                   -- as sent; '' when anonymous
    anonymous_id        String,                   -- as sent; '' when absent
    ts                  DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)), -- event time after skew correction; all analytics use it
    original_ts         DateTime64(3, 'UTC'),     -- producer's timestamp before correction
    sent_at             DateTime64(3, 'UTC'),     -- producer's send time; 1970-01-01 when absent
    received_at         DateTime64(3, 'UTC'),     -- when the collector fetched the message
    journey             LowCardinality(String),   -- journey of the matched touchpoint; '' when none matched
    stage               LowCardinality(String),   -- stage name within journey; '' when none matched
    touchpoint          LowCardinality(String),   -- touchpoint name within stage; '' when none matched
    persona             LowCardinality(String),   -- customer's persona as of this event (journey map rules)
    map_version         LowCardinality(String),   -- "name@sha256-prefix" of the journey map that tagged the row
    schema_version      LowCardinality(String),   -- event contract version the row was validated against
    stage_index         UInt8,                    -- 0-based position of stage in journey; 0 when none matched
    negative            Bool,                     -- touchpoint is a churn signal
    channel             LowCardinality(String),   -- context.channel
    campaign_source     LowCardinality(String),   -- utm_source
    campaign_medium     LowCardinality(String),   -- utm_medium
    device_type         LowCardinality(String),
    device_os           LowCardinality(String),
    device_manufacturer LowCardinality(String),
    locale              LowCardinality(String),
    campaign_name       String,                   -- utm_campaign
    campaign_term       String,                   -- utm_term
    campaign_content    String,                   -- utm_content
    page_path           String,
    page_url            String CODEC(ZSTD(1)),
    page_title          String CODEC(ZSTD(1)),
    referrer            String CODEC(ZSTD(1)),
    properties          String CODEC(ZSTD(1)),    -- JSON object text exactly as received ('{}' when absent)
    traits              String CODEC(ZSTD(1)),    -- JSON object text exactly as received ('{}' when absent)
    kafka_topic         LowCardinality(String),   -- origin of the row: any number traces back to offsets
    kafka_partition     Int32,
    kafka_offset        Int64
)
ENGINE = {{engine "MergeTree"}}
PARTITION BY toYYYYMM(ts)
ORDER BY (journey, persona, toDate(ts), customer_id, ts)
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}
