-- time_to_convert: per journey, persona and stage, how long customers who went
-- further took to reach their next higher stage, in seconds.
--   persona     the customer's persona in the journey (latest by ts)
--   converted   customers with an event in a higher stage (= progressed of
--               stage_conversion_daily summed over days); stages nobody left
--               have no row
--   p50_seconds quantileExact over customers of
--   p90_seconds   (earliest first event over all higher stages) - (first
--   avg_seconds   event in this stage); quantileExact returns the element at
--               0-based index floor(level * n) of the sorted values, without
--               interpolation (of 4 values p50 is the 3rd); a customer who
--               reached a higher stage first contributes a negative time
CREATE VIEW IF NOT EXISTS {{.Database}}.time_to_convert {{.OnCluster}}
AS SELECT
    journey,
    persona,
    stage_index,
    any(stage) AS stage,
    count() AS converted,
    quantileExact(0.5)(assumeNotNull(seconds_to_next_stage)) AS p50_seconds,
    quantileExact(0.9)(assumeNotNull(seconds_to_next_stage)) AS p90_seconds,
    avg(assumeNotNull(seconds_to_next_stage)) AS avg_seconds
FROM {{.Database}}.customer_stage_progress
WHERE has_later_stage
GROUP BY journey, persona, stage_index
