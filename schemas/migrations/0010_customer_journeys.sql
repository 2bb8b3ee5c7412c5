-- customer_journeys: one row per journey and customer.
--   persona               persona of the customer's latest touchpoint event
--                         (by ts) in the journey
--   furthest_stage_index  highest stage index with >= 1 event, and its name
--   furthest_stage
--   stages_reached        sorted stage indexes with >= 1 event; a gap means a
--                         skipped stage
--   first_seen, last_seen earliest and latest touchpoint event in the journey
--   events                touchpoint events in the journey
--   negative_events       of which churn signals
CREATE VIEW IF NOT EXISTS {{.Database}}.customer_journeys {{.OnCluster}}
AS SELECT
    journey,
    customer_id,
    argMaxMerge(persona) AS persona,
    max(stage_index) AS furthest_stage_index,
    argMax(stage, stage_index) AS furthest_stage,
    -- groupUniqArray: unmerged parts can hold several rows for one stage.
    arraySort(groupUniqArray(stage_index)) AS stages_reached,
    CAST(min(first_at) AS DateTime64(3, 'UTC')) AS first_seen,
    CAST(max(last_at) AS DateTime64(3, 'UTC')) AS last_seen,
    sum(events) AS events,
    sum(negative_events) AS negative_events
FROM {{.Database}}.customer_stages
GROUP BY journey, customer_id
