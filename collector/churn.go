package collector

import (
	"math"
	"slices"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/schemas"
)

// ChurnConfig parameterises the churn-risk model; config.Churn documents
// each field. Clock is "now" for scoring; nil means time.Now. Tests and
// replays of old data (the demo) set it.
type ChurnConfig struct {
	SweepInterval    time.Duration
	KPIWindow        time.Duration
	ShortHalfLife    time.Duration
	LongHalfLife     time.Duration
	NegativeHalfLife time.Duration
	PriorGap         time.Duration
	PriorStageTime   time.Duration
	InactivityScale  float64
	StallScale       float64
	Weights          ChurnWeights
	MediumBand       float64
	HighBand         float64
	MaxCustomers     int // per partition
	WriteMinDelta    float64
	Clock            func() time.Time
}

// ChurnWeights weigh the factors of the risk score.
type ChurnWeights struct{ Inactivity, Decline, Stall, Negative float64 }

// Risk bands, in order of risk.
const (
	bandLow = iota
	bandMedium
	bandHigh
	numBands
)

var bandNames = [numBands]string{"low", "medium", "high"}

// sessionGap separates visits: gaps between events shorter than this are
// within one visit and do not teach the typical gap between visits, which
// would otherwise be minutes and make every customer "inactive" by evening.
const sessionGap = 30 * 60

// learnAlpha is the weight of a new observation in the per-persona
// averages once they have seen 1/learnAlpha observations; before that they
// are plain means, so the prior is forgotten as soon as data arrives.
const learnAlpha = 0.02

// histBins is the resolution of the per-persona score histograms that the
// quantile gauges are read from: 0.001 of risk.
const histBins = 1000

// churnModel is the immutable part of the model: parameters and the map's
// names. Persona index 0 is the default persona, i+1 the map's i-th persona.
type churnModel struct {
	cfg      ChurnConfig
	personas []string
	journeys []enrich.JourneyDef
	// stageBase[j] is the position of journey j's first stage among all
	// stages of all journeys, to index the flat KPI arrays.
	stageBase   []int
	totalStages int
	// Decay rates per second: ln 2 / half-life.
	kShort, kLong, kNeg float64
}

func newChurnModel(cfg ChurnConfig, jm *enrich.Map) *churnModel {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	m := &churnModel{cfg: cfg, personas: []string{jm.DefaultPersona()}, journeys: jm.Journeys()}
	for _, p := range jm.Personas() {
		m.personas = append(m.personas, p.Name)
	}
	for _, j := range m.journeys {
		m.stageBase = append(m.stageBase, m.totalStages)
		m.totalStages += len(j.Stages)
	}
	m.kShort = math.Ln2 / cfg.ShortHalfLife.Seconds()
	m.kLong = math.Ln2 / cfg.LongHalfLife.Seconds()
	m.kNeg = math.Ln2 / cfg.NegativeHalfLife.Seconds()
	return m
}

// personaOf converts an enriched event's PersonaIndex, which numbers the
// map's personas from 0 and the default -1, to the model's numbering, one
// place on. An index the map does not have, which only a bug could
// produce, is the default persona, as an unknown name is when restoring.
func (m *churnModel) personaOf(index int32) uint8 {
	if index < 0 || int(index)+1 >= len(m.personas) {
		return 0
	}
	return uint8(index + 1)
}

// personaIndex and journeyIndex find names, for state restored from
// ClickHouse; events carry indexes.
func (m *churnModel) personaIndex(name string) uint8 {
	for i := 1; i < len(m.personas); i++ {
		if m.personas[i] == name {
			return uint8(i)
		}
	}
	return 0
}

func (m *churnModel) journeyIndex(name string) int {
	for i := range m.journeys {
		if m.journeys[i].Name == name {
			return i
		}
	}
	return -1
}

// primaryStages is the number of stages of the primary journey (the map's
// first), whose stall the score measures.
func (m *churnModel) primaryStages() int {
	if len(m.journeys) == 0 {
		return 0
	}
	return len(m.journeys[0].Stages)
}

func (m *churnModel) band(risk float64) uint8 {
	switch {
	case risk >= m.cfg.HighBand:
		return bandHigh
	case risk >= m.cfg.MediumBand:
		return bandMedium
	}
	return bandLow
}

// customer is one tracked customer: 40 bytes. It holds no pointers, so
// that a partition's millions of them are one allocation the GC never
// scans. Times are Unix seconds (good until 2106). The decayed counts are
// valued at lastSeen: a count c at lastSeen is c·exp(−k·(t−lastSeen)) at t.
type customer struct {
	ref       uint32 // customer number in the partition's enrich.State, which has the id
	firstSeen uint32
	lastSeen  uint32 // latest event time
	stageAt   uint32 // when the furthest stage of the primary journey was first reached
	events    uint32
	short     float32 // events decayed with ShortHalfLife
	long      float32 // events decayed with LongHalfLife
	neg       float32 // negative touchpoints decayed with NegativeHalfLife
	lastRisk  float32 // risk last written to ClickHouse
	persona   uint8
	lastBand  uint8 // band last written + 1; 0: never written
}

// average is a running mean that turns into an exponentially weighted one
// after 1/learnAlpha observations, so it follows drift.
type average struct {
	mean float64
	n    float64
}

func (a *average) add(x float64) {
	a.n++
	a.mean += (x - a.mean) * max(1/a.n, learnAlpha)
}

func (a *average) or(prior float64) float64 {
	if a.n == 0 {
		return prior
	}
	return a.mean
}

// churnTable is the churn state of one partition's customers. It keeps no
// ids: it holds its customers in the partition's enrich.State, the table
// of customers that enrichment keeps anyway, with 1 + their position in
// cust as the State's value for them. Not safe for concurrent use:
// partitionSink guards it, and the State, with its mutex.
type churnTable struct {
	m    *churnModel
	st   *enrich.State
	cust []customer
	// stages holds, for customer i and journey j, 1 + the furthest stage
	// index reached at stages[i*len(journeys)+j]; 0: none.
	stages []uint8

	// Learned per persona: the typical gap between visits, and per stage of
	// the primary journey the typical time to reach a later stage.
	gap []average
	ttn []average // [persona*primaryStages + stage]

	evicted uint64
}

// newChurnTable returns an empty churn table whose customers are held in
// st, the State that enriches the partition's events.
func newChurnTable(m *churnModel, st *enrich.State) *churnTable {
	return &churnTable{
		m:   m,
		st:  st,
		gap: make([]average, len(m.personas)),
		ttn: make([]average, len(m.personas)*m.primaryStages()),
	}
}

func (t *churnTable) len() int { return len(t.cust) }

func (t *churnTable) id(c *customer) []byte { return t.st.ID(c.ref) }

// lookup returns the position of a customer, adding it if new.
func (t *churnTable) lookup(id string) uint32 {
	n, pos := t.st.Hold(id)
	if pos != 0 {
		return pos - 1
	}
	if len(t.cust) >= t.m.cfg.MaxCustomers {
		t.evict()
	}
	i := uint32(len(t.cust))
	t.st.SetValue(n, i+1)
	t.cust = append(t.cust, customer{ref: n})
	t.stages = append(t.stages, make([]uint8, len(t.m.journeys))...)
	return i
}

// find returns the position of a tracked customer.
func (t *churnTable) find(id string) (uint32, bool) {
	_, pos, ok := t.st.Find(id)
	if !ok || pos == 0 {
		return 0, false
	}
	return pos - 1, true
}

// evict forgets the least recently active sixteenth of the customers (at
// least one), so that the cost of finding them is paid once per many new
// customers rather than on each.
func (t *churnTable) evict() {
	n := len(t.cust)
	drop := max(n/16, 1)
	seen := make([]uint32, n)
	for i := range t.cust {
		seen[i] = t.cust[i].lastSeen
	}
	slices.Sort(seen)
	threshold := seen[drop-1]
	// Those strictly older than the threshold go, then as many at it as
	// still needed; walk downwards so that swapping the last customer into
	// a freed slot never skips one.
	below := 0
	for _, s := range seen[:drop] {
		if s < threshold {
			below++
		}
	}
	atThreshold := drop - below
	for i := n - 1; i >= 0; i-- {
		c := t.cust[i]
		if c.lastSeen > threshold || (c.lastSeen == threshold && atThreshold == 0) {
			continue
		}
		if c.lastSeen == threshold {
			atThreshold--
		}
		t.removeAt(i)
		t.evicted++
	}
}

// unixSeconds clamps t into the uint32 range of customer times.
func unixSeconds(t time.Time) uint32 {
	return uint32(min(max(t.Unix(), 0), math.MaxUint32))
}

// decay is exp(−k·dt) for dt seconds.
func decay(k float64, dt int64) float32 {
	return float32(math.Exp(-k * float64(dt)))
}

// observe folds one event into its customer's state. Events of a customer
// may come out of time order (a late mobile batch): a late event adds its
// already-decayed weight to the counts, so the state does not depend on
// arrival order, except that only in-order gaps teach the typical gaps.
func (t *churnTable) observe(e *schemas.Enriched) {
	if e.CustomerID == "" {
		return
	}
	m := t.m
	i := t.lookup(e.CustomerID)
	c := &t.cust[i]
	ts := unixSeconds(e.Timestamp)
	c.persona = m.personaOf(e.PersonaIndex)
	neg := float32(0)
	if e.Negative {
		neg = 1
	}
	switch {
	case c.events == 0:
		c.firstSeen, c.lastSeen = ts, ts
		c.short, c.long, c.neg = 1, 1, neg
	case ts >= c.lastSeen:
		dt := int64(ts - c.lastSeen)
		if dt >= sessionGap {
			t.gap[c.persona].add(float64(dt))
		}
		c.short = c.short*decay(m.kShort, dt) + 1
		c.long = c.long*decay(m.kLong, dt) + 1
		c.neg = c.neg*decay(m.kNeg, dt) + neg
		c.lastSeen = ts
	default:
		dt := int64(c.lastSeen - ts)
		c.short += decay(m.kShort, dt)
		c.long += decay(m.kLong, dt)
		c.neg += neg * decay(m.kNeg, dt)
		c.firstSeen = min(c.firstSeen, ts)
	}
	if c.events < math.MaxUint32 {
		c.events++
	}
	j := int(e.JourneyIndex)
	if j < 0 || j >= len(m.journeys) {
		return
	}
	slot := &t.stages[int(i)*len(m.journeys)+j]
	s := e.StageIndex + 1
	switch {
	case s > *slot:
		if j == 0 {
			if *slot > 0 && ts > c.stageAt {
				t.ttn[int(c.persona)*m.primaryStages()+int(*slot-1)].add(float64(ts - c.stageAt))
			}
			c.stageAt = ts
		}
		*slot = s
	case s == *slot && j == 0 && ts < c.stageAt:
		c.stageAt = ts
	}
}

// factors are the explainable parts of a score, each in [0, 1].
type factors struct {
	inactivity, decline, stall, negative float64
	risk                                 float64
	band                                 uint8
}

// score computes customer i's risk at now (Unix seconds).
func (t *churnTable) score(i int, now int64) factors {
	m := t.m
	c := &t.cust[i]
	idle := max(now-int64(c.lastSeen), 0)
	var f factors

	gap := t.gap[c.persona].or(m.cfg.PriorGap.Seconds())
	f.inactivity = 1 - math.Exp(-float64(idle)/(m.cfg.InactivityScale*gap))

	// Rates in events per second: a count decayed with rate k estimates
	// rate/k for a steady stream, so rate ≈ k·count.
	short := m.kShort * float64(c.short) * math.Exp(-m.kShort*float64(idle))
	long := m.kLong * float64(c.long) * math.Exp(-m.kLong*float64(idle))
	if long > 0 {
		f.decline = clamp01(1 - short/long)
	}

	if n := m.primaryStages(); n > 0 {
		if s := int(t.stages[i*len(m.journeys)]); s > 0 && s < n {
			at := max(now-int64(c.stageAt), 0)
			typical := t.ttn[int(c.persona)*n+s-1].or(m.cfg.PriorStageTime.Seconds())
			f.stall = 1 - math.Exp(-float64(at)/(m.cfg.StallScale*typical))
		}
	}

	f.negative = 1 - math.Exp(-float64(c.neg)*math.Exp(-m.kNeg*float64(idle)))

	w := m.cfg.Weights
	f.risk = clamp01(w.Inactivity*f.inactivity + w.Decline*f.decline + w.Stall*f.stall + w.Negative*f.negative)
	f.band = m.band(f.risk)
	return f
}

func clamp01(x float64) float64 {
	if !(x > 0) { // NaN too
		return 0
	}
	return min(x, 1)
}

// restore rebuilds the state of a partition's customers from what
// ClickHouse holds. The decayed counts are approximated by assuming a
// customer's events were spread evenly between first and last seen.
func (t *churnTable) restore(st *aggregate.ChurnState) {
	m := t.m
	for k := range st.Customers {
		r := &st.Customers[k]
		if r.CustomerID == "" || r.Events == 0 {
			continue
		}
		i := t.lookup(r.CustomerID)
		c := &t.cust[i]
		c.persona = m.personaIndex(r.Persona)
		c.firstSeen, c.lastSeen = unixSeconds(r.FirstSeen), unixSeconds(r.LastSeen)
		c.firstSeen = min(c.firstSeen, c.lastSeen)
		c.events = uint32(min(r.Events, math.MaxUint32))
		span := float64(c.lastSeen - c.firstSeen)
		c.short = spread(float64(r.Events), span, m.kShort)
		c.long = spread(float64(r.Events), span, m.kLong)
		c.neg = spread(float64(r.NegativeEvents), span, m.kNeg)
		if s, ok := st.Scores[r.CustomerID]; ok {
			c.lastRisk = s.Risk
			for b, name := range bandNames {
				if name == s.Band {
					c.lastBand = uint8(b) + 1
				}
			}
		}
	}
	for k := range st.Stages {
		r := &st.Stages[k]
		j := m.journeyIndex(r.Journey)
		if j < 0 || int(r.StageIndex) >= len(m.journeys[j].Stages) {
			continue // the map changed since
		}
		i, ok := t.find(r.CustomerID)
		if !ok {
			continue
		}
		t.stages[int(i)*len(m.journeys)+j] = r.StageIndex + 1
		if j == 0 {
			t.cust[i].stageAt = unixSeconds(r.ReachedAt)
		}
	}
}

// spread is the decayed count, at the end of a span of seconds, of n
// events spread evenly over it: n·(1 − e^(−k·span))/(k·span); n for an
// instant.
func spread(n, span, k float64) float32 {
	x := k * span
	if x < 1e-9 {
		return float32(n)
	}
	return float32(n * -math.Expm1(-x) / x)
}
