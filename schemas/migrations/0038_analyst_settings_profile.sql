-- Optional analyst role: its settings. readonly = 1 allows only reads and
-- forbids changing settings, except max_execution_time, which analysts may
-- raise up to 10 minutes for a heavy query. The other limits keep one query
-- from taking the server: memory, rows read and rows returned.
CREATE SETTINGS PROFILE IF NOT EXISTS journeys_analyst_profile {{.OnCluster}}
SETTINGS
    readonly = 1 CONST,
    max_execution_time = 120 MIN 1 MAX 600 CHANGEABLE_IN_READONLY,
    max_memory_usage = 10000000000 CONST,
    max_rows_to_read = 10000000000 CONST,
    max_result_rows = 1000000 CONST,
    result_overflow_mode = 'throw' CONST
TO journeys_analyst
