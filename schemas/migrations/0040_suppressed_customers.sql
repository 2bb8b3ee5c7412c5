-- suppressed_customers: customers erased by `journeys forget`. The collector
-- drops every event whose user id, anonymous id or customer id is listed
-- here, so that a replay of the topic cannot bring an erased customer back.
-- Only a hash of the id is kept (privacy.SuppressionKey: hex SHA-256 of a
-- fixed prefix and the id as stored), so this table is no list of the
-- people who asked to be forgotten. It has no TTL: a suppression lasts as
-- long as the topic could be replayed.
CREATE TABLE IF NOT EXISTS {{.Database}}.suppressed_customers {{.OnCluster}}
(
    id_hash       String,                 -- privacy.SuppressionKey(id)
    suppressed_at DateTime64(3, 'UTC')    -- when `journeys forget` ran
)
ENGINE = {{engine "ReplacingMergeTree"}}
ORDER BY id_hash
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}
