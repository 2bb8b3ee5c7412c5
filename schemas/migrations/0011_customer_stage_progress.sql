-- customer_stage_progress: one row per journey, customer and stage reached.
-- It holds the per-customer definitions that stage_conversion_daily and
-- time_to_convert aggregate, so that both (and aggregate.Store.TimeToConvert,
-- which filters it by day) count the same thing.
--   persona                 the customer's persona in the journey: persona of
--                           its latest event by ts over all stages (the same
--                           for every row of the customer)
--   first_at                earliest event of the customer in this stage
--   day                     toDate(first_at), UTC: the day the stage was reached
--   furthest_stage_index    highest stage index the customer reached
--   has_later_stage         the customer reached some stage with a higher
--                           index (stages may be skipped)
--   next_stage_at           earliest first_at over the stages with a higher
--                           index; NULL when there is none
--   seconds_to_next_stage   next_stage_at - first_at in seconds (ms precision);
--                           negative when a later stage was reached before
--                           this one; NULL when there is no later stage
CREATE VIEW IF NOT EXISTS {{.Database}}.customer_stage_progress {{.OnCluster}}
AS SELECT
    journey,
    customer_id,
    stage_index,
    stage,
    finalizeAggregation(argMaxMergeState(stage_persona) OVER customer) AS persona,
    first_at,
    toDate(first_at) AS day,
    max(stage_index) OVER customer AS furthest_stage_index,
    toBool(furthest_stage_index > stage_index) AS has_later_stage,
    if(has_later_stage,
       min(first_at) OVER (customer ORDER BY stage_index DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
       NULL) AS next_stage_at,
    (toUnixTimestamp64Milli(next_stage_at) - toUnixTimestamp64Milli(first_at)) / 1000 AS seconds_to_next_stage
FROM
(
    -- Collapses the rows of parts not merged yet: one row per stage.
    SELECT
        journey,
        customer_id,
        stage_index,
        any(stage) AS stage,
        CAST(min(first_at) AS DateTime64(3, 'UTC')) AS first_at,
        argMaxMergeState(persona) AS stage_persona
    FROM {{.Database}}.customer_stages
    GROUP BY journey, customer_id, stage_index
)
WINDOW customer AS (PARTITION BY journey, customer_id)
