// Package schemas is the vocabulary shared by every stage: the versioned event
// contract (JSON Schema v1, embedded), its decoder and validator, the Go types
// of valid and enriched events, and the ClickHouse migrations.
//
// Validation is total: every input either becomes an Event or an *Invalid with
// a typed Reason; it never panics and never loses the original bytes, which the
// caller keeps for the dead-letter record.
package schemas
