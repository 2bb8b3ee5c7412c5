-- Optional analyst role (clickhouse.analyst_role): journeys_analyst, granted
-- SELECT on the analyst views only (0039) and a read-only settings profile
-- (0038). Needs a server with SQL access control (a writable user directory,
-- and a migrating user with access_management); grant it to people with
--   GRANT journeys_analyst TO alice; SET DEFAULT ROLE journeys_analyst TO alice
CREATE ROLE IF NOT EXISTS journeys_analyst {{.OnCluster}}
