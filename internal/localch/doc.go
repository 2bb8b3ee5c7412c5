// Package localch runs a real ClickHouse server (26.7, from the chdb
// library libchdb.so that scripts/fetch-clickhouse.sh downloads) as a child
// process, for tests, demos and development on machines without ClickHouse
// or Docker. It is not for production.
//
// # Two processes
//
// The library serves only from the process that loads it and cannot be
// unloaded, so Start re-executes a program (the journeys binary, or a test
// binary) that calls ServeChild. The library is opened with dlopen at run
// time: binaries that never call ServeChild neither need nor load it.
// ServeChild needs cgo; without it, it returns an error.
//
// # Contract
//
//   - Start returns only when the server answers on both ports (it checks
//     over HTTP that the answer comes from its own data directory, not from
//     another server on a port given explicitly), or an error holding the
//     tail of the child's output and ClickHouse's error log.
//   - The server listens on 127.0.0.1 only, as the passwordless default user
//     (users.xml in DataDir, written once and never overwritten, so users
//     added there persist; SQL CREATE USER does not work in this mode).
//   - Data in DataDir/data survives Stop, Kill and restarts; Start rewrites
//     DataDir/config.xml each time, because ports can change.
//   - Stop shuts ClickHouse down cleanly (SIGTERM: ServeChild ends its
//     keep-alive query and the library runs its normal shutdown) and kills
//     it when ctx ends first. Kill is a crash, for recovery tests.
//   - On Linux the child dies with the thread that started it
//     (PR_SET_PDEATHSIG), so a killed test or parent never leaks a server.
//
// # Visible quirk
//
// The server is kept alive by a query reading a pipe; it shows in
// system.processes, and KILL QUERY on it shuts the server down.
package localch
