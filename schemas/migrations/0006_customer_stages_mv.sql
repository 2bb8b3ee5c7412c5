-- Feeds customer_stages from each block inserted into events.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.customer_stages_mv {{.OnCluster}}
TO {{.Database}}.customer_stages
AS SELECT
    journey,
    customer_id,
    stage_index,
    any(stage) AS stage,
    min(ts) AS first_at,
    max(ts) AS last_at,
    toUInt64(count()) AS events,
    toUInt64(countIf(negative)) AS negative_events,
    argMaxState(persona, ts) AS persona,
    max(kafka_partition) AS kafka_partition
FROM {{.Database}}.events
WHERE journey != ''
GROUP BY journey, customer_id, stage_index
