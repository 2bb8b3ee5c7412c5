-- Optional analyst role: SELECT on the analyst views, nothing else (not
-- events, not the aggregate tables, not the batch log). The views run with
-- their definer's rights (0030-0036), so this is enough to query them.
GRANT {{.OnCluster}}
    SELECT ON {{.Database}}.stage_reach,
    SELECT ON {{.Database}}.customer_journeys,
    SELECT ON {{.Database}}.customer_stage_progress,
    SELECT ON {{.Database}}.stage_conversion_daily,
    SELECT ON {{.Database}}.time_to_convert,
    SELECT ON {{.Database}}.funnel_conversion,
    SELECT ON {{.Database}}.churn_current
TO journeys_analyst
