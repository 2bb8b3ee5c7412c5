// Package enrich tags valid events with their place in the journey map: the
// customer they count under, the customer's persona, and the journey, stage
// and touchpoint they reach.
//
// # Contract
//
// Enrichment is pure and deterministic: Load reads the map file, and nothing
// else in the package does I/O, reads the clock or draws random numbers (the
// rules' now() is disabled and date() is pinned to UTC). The same map, the
// same State and the same events in the same order always give the same rows,
// so a replayed partition is tagged as it was the first time.
//
// A Map is parsed, validated and compiled once: every rule is an expr-lang
// expression compiled at load, and a map with problems is refused with all of
// them listed. After that the Map is immutable and shared by all partitions;
// only its rule failure counters (Stats) change. Comparisons of event fields
// with literals are patched at compile time into typed Go calls, and a rule
// made only of them joined by &&, || and ! runs without expr's VM
// (rulereads.go); the outcome and every error are the VM's, which
// TestRuleReadsAgreeWithVM and FuzzRuleReadsAgree check rule by rule.
//
// A State is the memory of one Kafka partition: which anonymous ids are
// linked to which user ids, and which persona each customer has. It is not
// safe for concurrent use; the partition's consumer owns it, and rebuilds it
// with RestoreLink and RestorePersona when it takes the partition over. It
// is also the partition's table of customers: a caller can Hold customers in
// it to keep state of its own for them without storing their ids again (the
// collector keeps its churn state so). Holding and releasing customers
// changes no enrichment.
//
// # Rules for one event, in this order
//
//  1. Customer: the user id if present; else the user id the anonymous id is
//     linked to; else the anonymous id.
//  2. Stitching: an identify event with both ids links the anonymous id to
//     the user id unless the anonymous id is already linked (the first link
//     wins). Only later events are counted under the user; nothing is
//     rewritten. On linking, a user without a persona inherits the anonymous
//     visitor's.
//  3. Persona: persona rules run highest priority first, but only those of
//     higher priority than the customer's current persona (an unassigned
//     customer runs them all); the first that matches becomes the customer's
//     persona. The row carries the persona after this step, or the map's
//     default persona if no rule ever matched.
//  4. Touchpoint: the first touchpoint that matches, in file order (journeys,
//     then stages, then touchpoints). A touchpoint matches when each
//     condition it gives holds: the event name is in its event list, the
//     event type equals its type, its when rule is true. Touchpoints are
//     indexed by event name, so an event runs only the rules of touchpoints
//     it could match. An event that matches nothing is still a row, with an
//     empty journey.
//
// # Rule failures
//
// A rule that fails at run time (say, comparing a missing property, nil, with
// a number) does not match. Failures are not logged per event; they are
// counted per rule in Stats for the collector to expose as a metric.
package enrich
