package gen

import (
	"math/rand/v2"
	"time"
)

// Message is one Kafka record to produce.
type Message struct {
	// Key is the person's anonymous id, on every message of that person,
	// so that all of a customer's events land in one partition in order.
	Key   []byte
	Value []byte
	// Time must be sent as the record timestamp: the pipeline corrects
	// event times against it and rejects future timestamps relative to it.
	Time time.Time
	// Invalid is the reason the validator must give, "" for a valid event.
	Invalid string
	// Duplicate marks a re-sent copy of an earlier valid message of the same
	// key: the same bytes, the same event_id.
	Duplicate bool
}

// Generator produces the stream of a Config, one message at a time, and
// accumulates the truth of what it produced. It is not safe for concurrent
// use.
//
// Only the plans of people with messages still to deliver are in memory,
// tens of bytes per message; message bytes are made in Next. The truth grows
// with the stream: about 20 bytes per valid event and one map entry per
// customer id.
type Generator struct {
	cfg   Config
	start int64     // cfg.Start, Unix ms
	end   int64     // no event time at or after this
	cdf   []float64 // cumulative arrival weight per hour since start

	// Per-message probabilities, scaled so that the configured rates are
	// shares of all produced messages rather than of valid events.
	pBad, pDup, pLate float64

	pcg *rand.PCG
	rng *rand.Rand // reseeded per person: a person's plan depends only on its index

	// State carried from person to person, in index order.
	lateCredit float64
	badSeq     uint64

	planned int     // people planned so far
	pending *person // the next person to arrive, planned but not yet delivering
	active  []slot  // min-heap of the people delivering, see less
	scratch []spec
	pend    []pending
	buf     []byte

	truth *truthBuilder
	done  *Truth
}

// New returns a generator for cfg. It panics if cfg is invalid; call
// cfg.Validate first to handle that as an error.
func New(cfg Config) *Generator {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	g := &Generator{
		cfg:   cfg,
		start: cfg.Start.UnixMilli(),
		pcg:   rand.NewPCG(0, 0),
		truth: newTruthBuilder(),
	}
	g.rng = rand.New(g.pcg)
	g.end = g.start + int64(cfg.Days)*24*3_600_000
	hours := cfg.Days * 24
	g.cdf = make([]float64, hours+1)
	h0 := cfg.Start.UTC().Hour()
	for h := range hours {
		g.cdf[h+1] = g.cdf[h] + hourWeight((h0+h)%24)
	}
	validShare := 1 - cfg.InvalidRate - cfg.DuplicateRate
	g.pBad = cfg.InvalidRate / validShare
	g.pDup = cfg.DuplicateRate / validShare
	g.pLate = cfg.OutOfOrderRate / validShare
	g.pending = g.plan(0)
	g.planned = 1
	return g
}

// Next returns the next message, or false when the stream is over. Messages
// of one key come in delivery order; across keys they come in record-time
// order, so the stream reads like one producer's log.
func (g *Generator) Next() (Message, bool) {
	// Admit the next person once its first record is due; people arrive in
	// index order, so one planned ahead is enough.
	for g.pending != nil && (len(g.active) == 0 || g.pending.msgs[0].rec < g.active[0].rec) {
		g.push(g.pending)
		g.pending = nil
		if g.planned < g.cfg.Customers {
			g.pending = g.plan(g.planned)
			g.planned++
		}
	}
	if len(g.active) == 0 {
		return Message{}, false
	}
	p := g.active[0].p
	s := &p.msgs[p.next]
	g.buf = g.encode(g.buf[:0], p, s)
	// One allocation for key and value; capacities are clipped so that an
	// append by the caller cannot run from one into the other.
	kv := make([]byte, len(p.anon)+len(g.buf))
	n := copy(kv, p.anon)
	copy(kv[n:], g.buf)
	m := Message{
		Key:       kv[:n:n],
		Value:     kv[n:],
		Time:      time.UnixMilli(s.rec).UTC(),
		Invalid:   s.bad.reason(),
		Duplicate: s.dup,
	}
	g.truth.observe(p, s)
	p.next++
	if p.next == len(p.msgs) {
		g.pop()
	} else {
		g.active[0].rec = p.msgs[p.next].rec
		g.down(0)
	}
	return m, true
}

// Truth returns what the pipeline must compute from the messages returned so
// far. It is complete once Next has returned false; before that it is a
// snapshot, computed afresh on each call.
func (g *Generator) Truth() *Truth {
	if g.done != nil {
		return g.done
	}
	t := g.truth.finish(g.cfg.Customers)
	if g.pending == nil && len(g.active) == 0 {
		g.done = t
	}
	return t
}

// slot is a heap entry. It holds its sort key itself, so that sifting
// through hundreds of thousands of active people compares contiguous memory
// instead of chasing pointers into each person's plan.
type slot struct {
	rec int64 // record time of the person's next message
	idx int   // the person's index: ties go to the earlier person
	p   *person
}

// The active people form a min-heap on (rec, idx). The index breaks ties so
// that the order does not depend on heap history.

func (g *Generator) less(i, j int) bool {
	a, b := &g.active[i], &g.active[j]
	return a.rec < b.rec || a.rec == b.rec && a.idx < b.idx
}

func (g *Generator) push(p *person) {
	g.active = append(g.active, slot{p.msgs[p.next].rec, p.idx, p})
	for i := len(g.active) - 1; i > 0; {
		parent := (i - 1) / 2
		if !g.less(i, parent) {
			break
		}
		g.active[i], g.active[parent] = g.active[parent], g.active[i]
		i = parent
	}
}

func (g *Generator) pop() {
	n := len(g.active) - 1
	g.active[0] = g.active[n]
	g.active[n] = slot{} // let the finished plan be collected
	g.active = g.active[:n]
	if n > 0 {
		g.down(0)
	}
}

func (g *Generator) down(i int) {
	n := len(g.active)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && g.less(r, l) {
			m = r
		}
		if !g.less(m, i) {
			return
		}
		g.active[i], g.active[m] = g.active[m], g.active[i]
		i = m
	}
}
