-- stage_reach: stage_reach_daily merged. One row per journey, stage, persona
-- and UTC day:
--   customers  distinct customers with >= 1 touchpoint event in the stage that
--              day, under the persona tagged on those events
--   events     touchpoint events in the stage that day
-- Days do not add up to distinct customers over a period: a customer active on
-- two days counts on both.
CREATE VIEW IF NOT EXISTS {{.Database}}.stage_reach {{.OnCluster}}
AS SELECT
    journey,
    stage_index,
    stage,
    persona,
    day,
    uniqExactMerge(customers) AS customers,
    sum(events) AS events
FROM {{.Database}}.stage_reach_daily
GROUP BY journey, stage_index, stage, persona, day
