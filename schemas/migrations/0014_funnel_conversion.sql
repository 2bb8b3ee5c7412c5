-- funnel_conversion(window_seconds = N): per journey, persona and funnel level,
-- how many customers completed stages 0..level-1 in order within N seconds of
-- their stage-0 event.
--   persona      the customer's persona in the journey (latest event by ts)
--   level        1 .. number of stages (highest stage_index seen + 1)
--   stage_index  level - 1: the last stage of the step
--   customers    customers whose windowFunnel level >= level
-- windowFunnel semantics (measured on 26.7): the chain starts at a stage-0
-- event, each next stage needs an event at the same millisecond or later, and
-- every step must fall within window_seconds of the chain's start, boundary
-- included; a skipped stage ends the chain, events of a stage before the
-- chain reached it are ignored. Journeys have at most 16 stages (0..15).
-- window_seconds is required: ClickHouse 26.7 accepts a view parameter as
-- windowFunnel's parameter, so there is no default to get wrong; the journey
-- map's conversion_window is the natural value.
CREATE VIEW IF NOT EXISTS {{.Database}}.funnel_conversion {{.OnCluster}}
AS SELECT
    journey,
    persona,
    level,
    toUInt8(level - 1) AS stage_index,
    countIf(funnel_level >= level) AS customers
FROM
(
    SELECT
        journey,
        customer_id,
        argMax(persona, ts) AS persona,
        windowFunnel({window_seconds:UInt64} * 1000)(
            toUInt64(toUnixTimestamp64Milli(ts)),
            stage_index = 0, stage_index = 1, stage_index = 2, stage_index = 3,
            stage_index = 4, stage_index = 5, stage_index = 6, stage_index = 7,
            stage_index = 8, stage_index = 9, stage_index = 10, stage_index = 11,
            stage_index = 12, stage_index = 13, stage_index = 14, stage_index = 15
        ) AS funnel_level,
        max(max(stage_index)) OVER (PARTITION BY journey) + 1 AS stages
    FROM {{.Database}}.events
    WHERE journey != ''
    GROUP BY journey, customer_id
)
ARRAY JOIN arrayMap(x -> toUInt8(x), range(1, stages + 1)) AS level
GROUP BY journey, persona, level
