// Package chaos runs the real journeys binary as separate processes against
// a standalone Kafka-protocol broker process and a real ClickHouse server,
// breaks things on purpose (SIGKILL, ClickHouse outages, rebalances, replays)
// and checks the result against the generator's ground truth.
//
// The scenarios live in chaos_test.go and run in `make test` with small
// sizes; `make chaos` runs the long variants (JOURNEYS_CHAOS_EVENTS,
// JOURNEYS_CHAOS_KILLS). Each scenario ends with one line
//
//	produced=N valid=N landed=N lost=N duplicates=N dead_lettered=N
//
// where landed is the distinct event ids in ClickHouse, lost is valid events
// missing from it, duplicates is rows beyond the distinct ids, and
// dead_lettered is the distinct source offsets in the dead-letter topic.
package chaos
