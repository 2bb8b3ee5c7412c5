// Package config loads and validates the configuration of journeys. It is
// the only package that imports viper; every other package receives plain
// values from a *Config.
//
// # Sources
//
// Load merges, highest precedence first:
//
//  1. the flags of RegisterFlags given on the command line (an unset flag
//     overrides nothing, whatever its default in --help);
//  2. environment variables: JOURNEYS_ followed by the key upper-cased with
//     "." as "_" (kafka.group_id is JOURNEYS_KAFKA_GROUP_ID, see EnvName).
//     They are read through the lookup function given to Load, never from
//     the process directly, so tests need not touch os.Environ. A variable
//     set to "" counts as set: JOURNEYS_HTTP_LISTEN= disables the server;
//  3. one YAML file, named by --config or else by $JOURNEYS_CONFIG. With
//     neither there is no file, which is fine; a named file that cannot be
//     read or parsed stops Load at once;
//  4. Default(), which gives every key a value.
//
// Keys are the snake_case mapstructure tags of Config, dotted by section
// (Keys lists them); YAML keys are matched without regard to case. Lists
// are YAML lists, or comma-separated strings in any source
// (JOURNEYS_KAFKA_BROKERS=a:9092,b:9092); blanks around items are dropped.
// Durations are Go durations with a unit ("250ms", "1m30s"): a bare number
// is refused rather than read as nanoseconds. Relative paths (journey_map,
// clickhouse.password_file) are relative to the working directory.
//
// # Errors
//
// A configuration that cannot work fails at start with every problem
// listed, one per line, joined with errors.Join, each line starting with
// the key to fix, e.g. `kafka.brokers[1]: "foo" is not host:port`. This
// covers keys in the file that no field takes (a typo is an error, with a
// suggestion when a known key is close), values of the wrong type, ranges,
// enumerations, addresses, Kafka topic names and the rules between keys
// (kafka.dead_letter_topic differs from kafka.topic; kafka.max_bytes and
// batch.max_bytes hold the largest event; batch.retry_max >= retry_initial;
// kafka.heartbeat_interval < session_timeout). A key that failed to decode
// is reported once, not again by the checks of its (zero) value.
//
// Validate checks a Config without I/O and is what Load ends with. Load
// also reads clickhouse.password_file into ClickHouse.Password, and setting
// both is an error. An empty clickhouse.addr is valid (the demo starts its
// own server); commands that need a real server call RequireClickHouse.
//
// # Secrets
//
// ClickHouse.Password is the only secret. Print or log a Config only
// through Redacted or YAML, which hide it.
//
// journeys.example.yaml in this directory documents every key with its
// default; a test keeps it equal to Default().
package config
