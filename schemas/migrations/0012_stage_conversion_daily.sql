-- stage_conversion_daily: per journey, persona, UTC day and stage, how many
-- customers reached the stage that day and how many of them went further.
--   persona         the customer's persona in the journey (latest by ts), not
--                   the persona at the time of the stage
--   day             the day the customer FIRST had an event in the stage
--   reached         customers whose first event in the stage is on that day
--   progressed      of those, customers with an event in any higher stage, at
--                   any time (before or after, skipping stages or not)
--   dropped_off     reached - progressed
--   conversion_rate progressed / reached
--   drop_off_rate   dropped_off / reached
-- Every customer counts once per stage (on its first day there), so reached
-- and progressed add up over days; rates do not: recompute them from sums.
CREATE VIEW IF NOT EXISTS {{.Database}}.stage_conversion_daily {{.OnCluster}}
AS SELECT
    journey,
    persona,
    day,
    stage_index,
    any(stage) AS stage,
    count() AS reached,
    countIf(has_later_stage) AS progressed,
    toUInt64(reached - progressed) AS dropped_off,
    progressed / reached AS conversion_rate,
    dropped_off / reached AS drop_off_rate
FROM {{.Database}}.customer_stage_progress
GROUP BY journey, persona, day, stage_index
