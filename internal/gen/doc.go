// Package gen generates a seeded stream of realistic customer-interaction
// events, with the defects real producers send, together with an independent
// ground truth of what the pipeline must make of it. `journeys demo`, the
// ground-truth end-to-end test, the benchmark harness and the crash tests
// all feed it to Kafka and compare ClickHouse against Truth.
//
// # The stream
//
// Each synthetic person has a hidden persona and one Kafka key, its
// anonymous id. It lands on the site from a campaign that decides its
// persona, walks the lifecycle journey of deploy/journey-map.yaml stage by
// stage with persona-dependent drop-off and gaps of minutes to days, may sign
// up (an identify event carrying both ids and a company_size consistent with
// the persona), may then start the onboarding journey, and browses pages and
// clicks buttons that match no touchpoint along the way. Before the identify
// its events carry only the anonymous id; after it, both ids, except
// server-side events (orders, renewals, failed payments), which carry only
// the user id. Event times start at Config.Start, never at the wall clock.
//
// Every event is built to be tagged unambiguously: the touchpoint meant for
// it is the first that matches in map order, and only the landing page's
// campaign and the identify's traits match persona rules, always the hidden
// persona's own. So a customer's persona never changes, and the persona each
// event carries is the one the customer has in every view.
//
// # Defects
//
// Every message is valid JSON of the v1 contract except the invalid ones, a
// share InvalidRate of the stream rotating over: cut-off JSON (not_json), a
// Latin-1 byte (not_utf8), a message just over MaxEventBytes (too_large),
// properties nested 40+ deep (too_deep), no customer id or no event_id
// (missing_id), "properties": "x" or "user_id": 42 (wrong_type),
// "type": "click" (unknown_type), and a timestamp a year after the record
// time (future_timestamp). Message.Invalid names the reason; invalid
// messages change no state in the truth.
//
// Duplicates (DuplicateRate) are earlier valid messages re-sent with the same
// bytes on the same key, right after the original or after up to three more
// events of the key from the next ten minutes. Late events (OutOfOrderRate) are
// valid events delivered after up to three events with later timestamps,
// within six hours. Neither ever crosses a person's identify event or moves
// its landing page, so neither changes any event's customer id or persona.
//
// # Time
//
// Message.Time is the Kafka record timestamp: a few milliseconds to minutes
// after the event, increasing along each key. It must be produced as the
// record's timestamp. sent_at equals it by the device's clock, so the
// pipeline's correction timestamp + (record time − sent_at) removes exactly
// the device's clock skew (ClockSkewRate of people have one, of minutes to
// hours), and Truth works in corrected time.
//
// # Ordering and determinism
//
// The same Config gives the same messages, byte for byte, in the same order,
// and the same Truth, with the same Go release on the same architecture
// (math/rand/v2 streams and the last bit of math.Exp are not promised
// beyond that). Messages of one key come in their delivery order;
// across keys, in record-time order. People are planned lazily as their
// first record falls due, so a stream of millions of messages never holds
// their bytes in memory; the truth keeps about 20 bytes per valid event.
package gen
