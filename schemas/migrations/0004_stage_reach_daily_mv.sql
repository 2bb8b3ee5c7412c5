-- Feeds stage_reach_daily from each block inserted into events. Retries are
-- deduplicated here too because Write sets
-- deduplicate_blocks_in_dependent_materialized_views=1 and the target table has
-- a deduplication window.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.stage_reach_daily_mv {{.OnCluster}}
TO {{.Database}}.stage_reach_daily
AS SELECT
    journey,
    persona,
    toDate(ts) AS day,
    stage_index,
    stage,
    uniqExactState(customer_id) AS customers,
    toUInt64(count()) AS events
FROM {{.Database}}.events
WHERE journey != ''
GROUP BY journey, persona, day, stage_index, stage
