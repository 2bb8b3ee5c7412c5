-- stage_reach_daily: per journey, persona, UTC day and stage, the customers
-- that had at least one touchpoint event in that stage that day. persona is
-- the persona tagged on each event, so a customer whose persona changed during
-- a day counts under both. Read through the stage_reach view (the rows are
-- partial aggregates until merged).
CREATE TABLE IF NOT EXISTS {{.Database}}.stage_reach_daily {{.OnCluster}}
(
    journey     LowCardinality(String),
    persona     LowCardinality(String),
    day         Date,                                    -- toDate(ts), UTC
    stage_index UInt8,
    stage       LowCardinality(String),
    customers   AggregateFunction(uniqExact, String),    -- distinct customer_id
    events      SimpleAggregateFunction(sum, UInt64)     -- touchpoint events
)
ENGINE = {{engine "AggregatingMergeTree"}}
ORDER BY (journey, persona, day, stage_index, stage)
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}
