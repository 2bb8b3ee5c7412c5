-- customer_stages: per journey, customer and stage, when the customer was
-- first and last seen there. It is the basis of every per-customer view
-- (customer_journeys, stage_conversion_daily, time_to_convert).
CREATE TABLE IF NOT EXISTS {{.Database}}.customer_stages {{.OnCluster}}
(
    journey         LowCardinality(String),
    customer_id     String,
    stage_index     UInt8,
    -- The stage name at this index; any() because it only changes if the
    -- journey map renames a stage, and it is not part of the key.
    stage           SimpleAggregateFunction(any, LowCardinality(String)),
    first_at        SimpleAggregateFunction(min, DateTime64(3, 'UTC')),  -- earliest ts in this stage
    last_at         SimpleAggregateFunction(max, DateTime64(3, 'UTC')),  -- latest ts in this stage
    events          SimpleAggregateFunction(sum, UInt64),                -- touchpoint events in this stage
    negative_events SimpleAggregateFunction(sum, UInt64),                -- of which churn signals
    -- Persona of the customer's latest event (by ts) in this stage; merging the
    -- states of all the customer's stages gives the latest over the journey.
    persona         AggregateFunction(argMax, LowCardinality(String), DateTime64(3, 'UTC')),
    kafka_partition SimpleAggregateFunction(max, Int32)                  -- where the customer's events live
)
ENGINE = {{engine "AggregatingMergeTree"}}
ORDER BY (journey, customer_id, stage_index)
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}
