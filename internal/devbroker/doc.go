// Package devbroker runs a single-node Kafka-protocol broker inside this
// process (franz-go's kfake), for the demo, tests and developers who want a
// throwaway Kafka. The ingest code never knows about it: clients reach it
// over TCP like any broker.
//
// # Contract
//
//   - Topics are created at Start with the same partition count; clients
//     cannot auto-create topics, as on a production cluster with
//     auto.create.topics.enable=false.
//   - Produce with acks=all, consumer groups, offset commits and fetches
//     behave as Kafka's protocol says; there is no replication, so its
//     timings and failure modes say nothing about a production cluster.
//   - Everything is in memory and lost at Close. Each partition keeps at
//     most RetentionBytes (DefaultRetentionBytes by default); the oldest
//     batches are dropped every few seconds beyond that, so a consumer that
//     lags further than that loses data, as it would on Kafka.
package devbroker
