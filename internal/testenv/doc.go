// Package testenv gives integration tests in other packages the real
// services they run against.
//
//   - ClickHouse: a fresh database on the server that `make test` (via
//     scripts/test-servers.sh) starts and names in JOURNEYS_TEST_CLICKHOUSE
//     and JOURNEYS_TEST_CLICKHOUSE_HTTP. Without those variables, or when the
//     server does not answer, the test fails; it never skips, so a broken
//     setup cannot pass as green.
//   - Kafka: a Kafka-protocol broker of the test's own (internal/devbroker),
//     in-process, closed when the test ends.
//
// Tests sharing the ClickHouse server stay independent by using only their
// own database, which is dropped at the end of the test.
package testenv
