package gen

import (
	"math"
	"math/rand/v2"
	"time"
)

// Reasons a Message is invalid. They are the values of schemas.Reason that
// the validator must give each defect; they are repeated here so that gen
// depends on the contract, not on the validator's code.
const (
	ReasonNotJSON         = "not_json"
	ReasonNotUTF8         = "not_utf8"
	ReasonTooLarge        = "too_large"
	ReasonTooDeep         = "too_deep"
	ReasonMissingID       = "missing_id"
	ReasonWrongType       = "wrong_type"
	ReasonUnknownType     = "unknown_type"
	ReasonFutureTimestamp = "future_timestamp"
)

// variant is one way of making an event invalid. Each has exactly one
// defect, so that its reason does not depend on the order in which the
// validator checks things.
type variant uint8

const (
	valid             variant = iota
	badNotJSON                // a valid event cut short
	badNotUTF8                // a Latin-1 byte in a property string
	badTooLarge               // padded to 1 B–1 KiB over MaxEventBytes
	badTooDeep                // properties nested 40–63 objects deep
	badNoCustomerID           // neither user_id nor anonymous_id
	badNoEventID              // no event_id
	badPropertiesType         // "properties": "x"
	badUserIDType             // "user_id": 42
	badUnknownType            // "type": "click"
	badFuture                 // timestamp a year after the record time
	numVariants
)

func (v variant) reason() string {
	switch v {
	case valid:
		return ""
	case badNotJSON:
		return ReasonNotJSON
	case badNotUTF8:
		return ReasonNotUTF8
	case badTooLarge:
		return ReasonTooLarge
	case badTooDeep:
		return ReasonTooDeep
	case badNoCustomerID, badNoEventID:
		return ReasonMissingID
	case badPropertiesType, badUserIDType:
		return ReasonWrongType
	case badUnknownType:
		return ReasonUnknownType
	default:
		return ReasonFutureTimestamp
	}
}

const (
	// maxLateness bounds how far back in time a late event reaches: a
	// device that was offline for a while, not one that replays last week.
	maxLateness = 6 * 3_600_000
	// maxJump is how many later events a late event is delivered after,
	// and a duplicate re-sent after.
	maxJump = 3
	// maxRetry bounds how much later than its original's event time a
	// duplicate is re-sent.
	maxRetry = 10 * 60_000
	// maxCredit bounds the out-of-order backlog, so that a long run of
	// people with nothing movable cannot end in a burst.
	maxCredit = 3
	yearMs    = 365 * 24 * 3_600_000
)

// lateSpan is how many events after v[k] it may be delivered after without
// changing a customer id or persona: never the landing page (it sets the
// persona), never across the identify event (the customer id of an
// anonymous-only event changes there, and the identify itself stays put).
func lateSpan(v []spec, k int) int {
	if k == 0 || v[k].kind == kIdentify {
		return 0
	}
	n := 0
	for j := k + 1; j < len(v) && n < maxJump; j++ {
		if v[j].post != v[k].post || v[j].kind == kIdentify || v[j].ts-v[k].ts > maxLateness {
			break
		}
		n++
	}
	return n
}

// defects turns a person's valid events, in time order, into its messages in
// delivery order: some valid events delivered late, duplicates re-sent a few
// messages after their original, invalid events in between; then record
// times. Which events are affected is drawn from r; the out-of-order credit
// and the invalid variant rotation carry over from person to person, which
// is deterministic because people are planned in index order.
func (g *Generator) defects(r *rand.Rand, v []spec) []spec {
	// Late delivery. Not every event can move (see lateSpan), so a credit
	// accrues at the target rate on every event and is spent on the next
	// movable one: the realised rate then matches the configured one.
	for k := 0; k < len(v); k++ {
		g.lateCredit = min(g.lateCredit+g.pLate, maxCredit)
		m := lateSpan(v, k)
		if m == 0 || r.Float64() >= g.lateCredit {
			continue
		}
		g.lateCredit--
		jump := 1 + r.IntN(m)
		moved := v[k]
		moved.late = true
		copy(v[k:k+jump], v[k+1:k+1+jump])
		v[k+jump] = moved
		g.lateCredit = min(g.lateCredit+g.pLate*float64(jump), maxCredit)
		k += jump
	}

	identify := len(v)
	for i := range v {
		if v[i].kind == kIdentify {
			identify = i
			break
		}
	}
	out := make([]spec, 0, len(v)+len(v)/8+2)
	pend := g.pend[:0]
	for k := range v {
		out = append(out, v[k])
		if r.Float64() < g.pDup {
			// A retry: the same bytes again, after up to three more of the
			// person's events, but within minutes (a producer retries
			// soon; the pipeline remembers recent ids, not all) and on the
			// same side of the identify event.
			last := len(v) - 1
			if k < identify {
				last = identify - 1
			}
			at := k
			for want := r.IntN(maxJump + 1); at < last && at-k < want && v[at+1].ts-v[k].ts <= maxRetry; {
				at++
			}
			d := v[k]
			d.dup, d.late, d.orig = true, false, int32(len(out)-1)
			pend = append(pend, pending{at: at, s: d})
		}
		if r.Float64() < g.pBad {
			out = append(out, g.invalid(r, &v[k]))
		}
		kept := pend[:0]
		for _, d := range pend {
			if d.at == k {
				out = append(out, d.s)
			} else {
				kept = append(kept, d)
			}
		}
		pend = kept
	}
	g.pend = pend[:0]

	// Record times increase along the key, as a client's send queue does.
	// sent_at is the record time, so that the pipeline's clock-skew
	// correction, timestamp + (record time - sent_at), shifts an event by
	// exactly its device's skew and nothing else. A duplicate keeps the
	// original's bytes, hence its sent_at.
	prev := int64(math.MinInt64)
	for i := range out {
		s := &out[i]
		rec := s.ts + delay(r)
		if s.dup || s.late {
			rec = prev + 1 + r.Int64N(2000)
		}
		if rec <= prev {
			rec = prev + 1 + r.Int64N(50)
		}
		s.rec, prev = rec, rec
		s.sent = rec
		if s.dup {
			s.sent = out[s.orig].sent
		}
		if s.bad == badFuture {
			s.ts = rec + yearMs
		}
	}
	return out
}

type pending struct {
	at int
	s  spec
}

// invalid makes the next invalid event, next to valid event near. Variants
// rotate rather than being drawn, so that every reason gets its share even
// in a small stream.
func (g *Generator) invalid(r *rand.Rand, near *spec) spec {
	b := variant(1 + g.badSeq%uint64(numVariants-1))
	g.badSeq++
	ids := idAnon
	if near.post {
		ids = idBoth
	}
	return spec{
		ts:   near.ts + logUniform(r, time.Second, 20*time.Second),
		seed: r.Uint64(),
		kind: kClick,
		ids:  ids,
		bad:  b,
		post: near.post,
	}
}

// delay is the time from an event to its Kafka record: mostly a quick
// round trip, sometimes a batch flush, rarely a retry.
func delay(r *rand.Rand) int64 {
	switch u := r.Float64(); {
	case u < 0.7:
		return logUniform(r, 5*time.Millisecond, 500*time.Millisecond)
	case u < 0.95:
		return logUniform(r, 500*time.Millisecond, 10*time.Second)
	default:
		return logUniform(r, 10*time.Second, 3*time.Minute)
	}
}
