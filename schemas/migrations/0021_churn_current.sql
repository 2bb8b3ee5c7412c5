-- churn_current: the latest score of every customer, with its factors, e.g.
--   SELECT customer_id, risk, inactivity, decline, stall, negative
--   FROM churn_current WHERE persona = 'smb_owner' AND band = 'high'
--   ORDER BY risk DESC
CREATE VIEW IF NOT EXISTS {{.Database}}.churn_current {{.OnCluster}}
AS SELECT
    customer_id,
    max(at) AS scored_at,
    argMax(persona, at) AS persona,
    argMax(journey, at) AS journey,
    argMax(furthest_stage, at) AS furthest_stage,
    argMax(stage_index, at) AS stage_index,
    argMax(stage_reached_at, at) AS stage_reached_at,
    argMax(risk, at) AS risk,
    argMax(band, at) AS band,
    argMax(inactivity, at) AS inactivity,
    argMax(decline, at) AS decline,
    argMax(stall, at) AS stall,
    argMax(negative, at) AS negative,
    argMax(idle_seconds, at) AS idle_seconds,
    argMax(last_seen, at) AS last_seen,
    argMax(events, at) AS events,
    argMax(kafka_partition, at) AS kafka_partition
-- "at" rather than scored_at inside: the result column's alias would shadow it.
FROM (SELECT *, scored_at AS at FROM {{.Database}}.churn_scores)
GROUP BY customer_id
