-- customers: one row per customer over ALL events, touchpoint or not.
CREATE TABLE IF NOT EXISTS {{.Database}}.customers {{.OnCluster}}
(
    customer_id     String,
    persona         AggregateFunction(argMax, LowCardinality(String), DateTime64(3, 'UTC')), -- persona of the latest event by ts
    first_seen      SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen       SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    events          SimpleAggregateFunction(sum, UInt64),
    negative_events SimpleAggregateFunction(sum, UInt64),  -- churn-signal touchpoint events
    kafka_partition SimpleAggregateFunction(max, Int32)    -- where the customer's events live
)
ENGINE = {{engine "AggregatingMergeTree"}}
ORDER BY customer_id
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}
