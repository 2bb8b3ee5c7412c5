// Package schemas is the vocabulary shared by every stage: the versioned event
// contract (JSON Schema v1, embedded), its decoder and validator, the Go types
// of valid and enriched events, and the ClickHouse migrations.
//
// Validation is total: every input either becomes an Event or an *Invalid with
// a typed Reason; it never panics and never loses the original bytes, which the
// caller keeps for the dead-letter record.
//
// # Contract of Validator.Decode
//
// The rules are those of event.v1.json, checked by a JSON Schema validator
// (santhosh-tekuri/jsonschema), not by hand: the schema file is the contract.
// Decode adds only what a schema cannot say: size, nesting depth and encoding
// limits before parsing, and clock-skew correction after.
//
// Accepting an event does not run that validator, though: event_v1_gen.go,
// generated from event.v1.json by internal/schemagen (`go generate
// ./schemas/`), checks and decodes a valid event in one pass with the
// go-faster/jx tokenizer, 8 to 10 times faster (BenchmarkDecode,
// BenchmarkDecodeGenerated). It answers only "certainly valid, and decoded
// exactly as encoding/json would" or "not sure"; every "not sure" (an
// invalid event, a duplicate key, a leap second, an escaped lone surrogate
// in a field the Event holds as a string) goes to the reference decoder
// above, which alone rejects. It checks properties and traits without
// decoding them; the Event decodes them when something reads them.
// So the fast path cannot change a result, only its cost, and differential
// tests and a fuzz target (FuzzFastPathAgrees) hold it to that. The
// generator fails on any keyword it does not compile, so a schema edit it
// cannot follow breaks `go generate` rather than weakening validation.
//
// Every *Invalid is permanent: the same bytes and receive time give the same
// answer on every replay, so the caller counts it under its Reason,
// dead-letters it and commits past it. Decode never returns a retryable
// error. The reasons, in the order Decode checks them:
//
//   - too_large: more than Limits.MaxEventBytes.
//   - not_utf8: not valid UTF-8.
//   - too_deep: objects and arrays nested deeper than Limits.MaxDepth.
//   - not_json: not exactly one JSON value.
//   - missing_id: no or empty event_id, or neither a non-empty user_id nor
//     anonymous_id; the event cannot be deduplicated or attributed.
//   - wrong_type: a field of the wrong JSON type (the top level included), a
//     timestamp that is not RFC 3339, or a number beyond float64.
//   - unknown_type: type is not track, identify or page.
//   - schema_violation: any other rule of the schema (a track without an
//     event name, an over-long id, schema_version other than v1, ...).
//   - future_timestamp: the skew-corrected timestamp is more than
//     Limits.FutureTolerance after the receive time (unless ClampFuture).
//
// When an event breaks several rules, the one reported is the first by
// instance location (JSON pointer order, the root first), then by the order
// above, so that metrics do not depend on map iteration order.
//
// Decode is a pure function of its input, the receive time and the Limits:
// it reads no clock and no time zone (all times are UTC), so replaying a
// partition reproduces the same rows. A Validator is immutable and safe for
// concurrent use.
package schemas
