-- Least-privilege ClickHouse users for journeys. Run as an administrator,
-- after replacing the passwords (or use IDENTIFIED WITH sha256_hash BY
-- '<hex>' so the password never appears in query logs). With a cluster, add
-- ON CLUSTER <name> to every statement and GRANT CLUSTER (see the end).
-- The database is `journeys` (clickhouse.database); change it everywhere.
--
-- journeys_collector is the user of `journeys run` and `journeys migrate`.
-- At start the collector applies pending migrations, and every start runs
-- the idempotent CREATE ... IF NOT EXISTS of the migration log, so the
-- collector's user needs the DDL grants on its own database, and nothing
-- outside it:
--   CREATE TABLE, CREATE VIEW  tables, views and materialized views of the
--                              migrations (CREATE VIEW covers materialized
--                              views; the MVs insert as the inserting user,
--                              hence INSERT on their target tables)
--   ALTER ADD/MODIFY COLUMN,   migrations that change tables, the
--   ALTER MODIFY TTL/SETTING   retention TTL and the dedup window (not the
--                              whole ALTER TABLE group, which includes
--                              ALTER DELETE and ALTER UPDATE)
--   SELECT, INSERT             batch log, events, read queries and views
--   ALTER DELETE               only for `journeys forget` (a separate user
--                              is better; see journeys_privacy below)
-- It does not get CREATE DATABASE: create the database here instead, once.
-- It does not get DROP, TRUNCATE, SYSTEM, or any grant on other databases.

CREATE DATABASE IF NOT EXISTS journeys;

CREATE USER IF NOT EXISTS journeys_collector
    IDENTIFIED WITH sha256_password BY 'change-me'
    SETTINGS PROFILE 'default';

GRANT SELECT, INSERT, CREATE TABLE, CREATE VIEW,
      ALTER ADD COLUMN, ALTER MODIFY COLUMN, ALTER COMMENT COLUMN,
      ALTER MODIFY TTL, ALTER MODIFY SETTING, ALTER VIEW MODIFY QUERY
    ON journeys.* TO journeys_collector;

-- CREATE TABLE also needs the right to use each table engine of the
-- migrations (ClickHouse checks it since table_engines_require_grant).
-- Cluster mode adds the Replicated* engines and Distributed.
GRANT TABLE ENGINE ON MergeTree TO journeys_collector;
GRANT TABLE ENGINE ON ReplacingMergeTree TO journeys_collector;
GRANT TABLE ENGINE ON AggregatingMergeTree TO journeys_collector;
-- GRANT TABLE ENGINE ON ReplicatedMergeTree TO journeys_collector;
-- GRANT TABLE ENGINE ON ReplicatedReplacingMergeTree TO journeys_collector;
-- GRANT TABLE ENGINE ON ReplicatedAggregatingMergeTree TO journeys_collector;
-- GRANT TABLE ENGINE ON Distributed TO journeys_collector;

-- journeys_privacy runs `journeys forget`: it deletes a customer's rows and
-- records the suppression. Keep it apart from the collector so that a
-- compromised collector cannot erase data.
CREATE USER IF NOT EXISTS journeys_privacy
    IDENTIFIED WITH sha256_password BY 'change-me-too'
    SETTINGS PROFILE 'default';

GRANT SELECT, INSERT, ALTER DELETE ON journeys.* TO journeys_privacy;

-- journeys_reader is for dashboards, `journeys report` and the web view:
-- read-only, so a leaked dashboard credential can change nothing.
CREATE USER IF NOT EXISTS journeys_reader
    IDENTIFIED WITH sha256_password BY 'change-me-three'
    SETTINGS readonly = 2;

GRANT SELECT ON journeys.* TO journeys_reader;

-- Cluster mode (clickhouse.cluster): ON CLUSTER DDL needs the CLUSTER
-- privilege, and Distributed tables reach the shards with the credentials of
-- remote_servers, which need the same grants on every node.
-- GRANT CLUSTER ON *.* TO journeys_collector;
