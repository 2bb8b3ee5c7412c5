-- Feeds customers from each block inserted into events.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.customers_mv {{.OnCluster}}
TO {{.Database}}.customers
AS SELECT
    customer_id,
    argMaxState(persona, ts) AS persona,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    toUInt64(count()) AS events,
    toUInt64(countIf(negative)) AS negative_events,
    max(kafka_partition) AS kafka_partition
FROM {{.Database}}.events
GROUP BY customer_id
