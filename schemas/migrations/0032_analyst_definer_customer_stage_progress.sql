-- Optional analyst role (clickhouse.analyst_role), step: customer_stage_progress runs with its
-- definer's rights (the user running the migration), so that SELECT on the
-- view is all an analyst needs: ClickHouse 26.7 runs views with the caller's
-- rights by default and would demand SELECT on the tables beneath.
-- Like every *_analyst_* migration, it is skipped and not recorded while
-- the option is off, so turning the option on later applies it.
ALTER TABLE {{.Database}}.customer_stage_progress {{.OnCluster}} MODIFY SQL SECURITY DEFINER
