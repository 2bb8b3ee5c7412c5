-- churn_scores: history of churn-risk scores with their factors. The
-- collector's sweep writes a row for a customer only when its band changed or
-- its risk moved by churn.write_min_delta since the last row, so the table
-- grows with changes, not with sweeps. Each factor is in [0, 1]; risk is
-- clamp(sum of weight * factor) with the weights of the config at scored_at.
-- Query the latest row per customer through churn_current.
CREATE TABLE IF NOT EXISTS {{.Database}}.churn_scores {{.OnCluster}}
(
    scored_at       DateTime64(3, 'UTC'),   -- sweep time ("now" of the score)
    customer_id     String,
    persona         LowCardinality(String),
    journey         LowCardinality(String), -- primary journey (first of the map); '' if never reached
    furthest_stage  LowCardinality(String), -- furthest stage reached in it; '' if none
    stage_index     Int16,                  -- its index, -1 if none
    stage_reached_at DateTime('UTC'),       -- when the customer first reached furthest_stage
    risk            Float32,                -- in [0, 1]
    band            LowCardinality(String), -- low | medium | high
    inactivity      Float32,                -- 1 - exp(-idle / (k * persona's typical gap))
    decline         Float32,                -- 1 - short-term rate / long-term rate
    stall           Float32,                -- 1 - exp(-time at stage / (s * persona's typical time to next stage))
    negative        Float32,                -- 1 - exp(-decayed count of negative touchpoints)
    idle_seconds    UInt32,                 -- scored_at - last_seen
    last_seen       DateTime('UTC'),        -- latest event time
    events          UInt32,                 -- events seen by the collector for this customer
    kafka_partition Int32
)
ENGINE = {{engine "MergeTree"}}
PARTITION BY toYYYYMM(scored_at)
ORDER BY (persona, customer_id, scored_at)
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}
