package gen

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// idMode says which customer ids an event carries.
type idMode uint8

const (
	idAnon idMode = iota // before sign-up: anonymous_id only
	idBoth               // identify and browser events after it
	idUser               // server-side events: user_id only
)

// spec is one planned message, small enough that the plans of every active
// person can stay in memory when the messages' bytes cannot. The bytes are
// made from it only when Next is called.
type spec struct {
	ts   int64  // true event time, Unix ms (the device adds the person's skew)
	sent int64  // sent_at by a correct clock, Unix ms
	rec  int64  // Kafka record time, Unix ms
	seed uint64 // draws the event id and payload, so a duplicate re-encodes to the same bytes
	orig int32  // a duplicate's original, as an index into person.msgs
	kind kind
	ids  idMode
	bad  variant // invalid variant; valid when zero
	// first: the landing page, which carries the campaign.
	// post: at or after the identify event, where the customer id is the user id.
	// dup: a re-sent copy. late: moved after events with later timestamps.
	first, post, dup, late bool
}

// person is one synthetic person: one Kafka key, one hidden persona.
type person struct {
	idx     int
	persona persona
	anon    string
	user    string // on events from the identify on, if the person signs up
	skew    int64  // device clock error, ms; the same on timestamp and sent_at
	variant uint8  // picks campaign, device and locale
	company int    // traits.company_size, consistent with the persona
	msgs    []spec
	next    int   // next message to deliver
	maxTS   int64 // latest valid event time delivered so far, for Truth.OutOfOrder
}

// walker lays out one person's valid events in time.
type walker struct {
	r   *rand.Rand
	t   int64
	out []spec
}

func (w *walker) emitAt(k kind, t int64) {
	w.out = append(w.out, spec{ts: t, kind: k, seed: w.r.Uint64()})
}

func (w *walker) emit(k kind) { w.emitAt(k, w.t) }

// after advances the clock by a log-uniform duration: gaps in real traffic
// span orders of magnitude, so a uniform draw would make them all alike.
func (w *walker) after(lo, hi time.Duration) { w.t += logUniform(w.r, lo, hi) }

// step is the gap between two events of one session.
func (w *walker) step() { w.after(3*time.Second, 3*time.Minute) }

func (w *walker) chance(p float64) bool { return w.r.Float64() < p }

// noise adds up to n events that match no touchpoint.
func (w *walker) noise(n int, signedIn bool) {
	for range w.r.IntN(n + 1) {
		w.step()
		switch u := w.r.Float64(); {
		case u < 0.4:
			w.emit(kClick)
		case signedIn && u < 0.8:
			w.emit(kAppPage)
		case u < 0.85:
			w.emit(kHome)
		default:
			w.emit(kSitePage)
		}
	}
}

// logUniform draws a duration in milliseconds.
func logUniform(r *rand.Rand, lo, hi time.Duration) int64 {
	return int64(logUniformF(r, float64(lo.Milliseconds()), float64(hi.Milliseconds())))
}

func logUniformF(r *rand.Rand, lo, hi float64) float64 {
	a, b := math.Log(lo), math.Log(hi)
	return math.Exp(a + r.Float64()*(b-a))
}

// awareness picks an awareness touchpoint after the landing page. Only
// developers and the two higher-priority personas read the docs: a docs page
// would make an unassigned person a developer.
func awareness(w *walker, p persona) kind {
	u := w.r.Float64()
	switch p {
	case developer:
		if u < 0.45 {
			return kDocs
		}
	case unassigned:
	default:
		if u < 0.15 {
			return kDocs
		}
	}
	if u < 0.7 {
		return kBlog
	}
	return kAdClicked
}

// walk plans the person's journeys from its first event at w.t. The lifecycle
// walk stops at each stage with the persona's drop-off chance; sign-up may
// start the onboarding journey, which runs on its own clock in parallel.
func (g *Generator) walk(w *walker, p *person) {
	prof := p.persona.profile()
	gap := func() { w.after(prof.gapLo, prof.gapHi) }
	signedIn := false
	identify := func() {
		w.step()
		w.emit(kIdentify)
		signedIn = true
		if w.chance(g.cfg.OnboardingRate) {
			onboard(w, prof, w.t)
		}
	}

	// Awareness. The landing page carries the campaign that decides the
	// persona, and is never moved, so every later event inherits it.
	landing := kHome
	blog := 0.7
	if p.persona == unassigned {
		blog = 0.3
	}
	switch u := w.r.Float64(); {
	case p.persona == developer && u < 0.45:
		landing = kDocs
	case u < blog:
		landing = kBlog
	}
	w.emit(landing)
	w.out[0].first = true
	w.noise(2, false)
	// Some people never hit an awareness touchpoint (they typed the URL and
	// went to pricing): a funnel must then stop at level 0.
	if landing == kHome && w.chance(0.9) {
		if w.chance(0.5) {
			w.step()
		} else {
			w.after(30*time.Minute, 2*24*time.Hour)
		}
		w.emit(awareness(w, p.persona))
		w.noise(1, false)
	}
	for i := 0; i < 2 && w.chance(0.35); i++ {
		w.after(time.Hour, 3*24*time.Hour)
		w.emit(awareness(w, p.persona))
		w.noise(2, false)
	}
	if !w.chance(prof.cont[0]) {
		return
	}

	// Consideration. A trial needs an account, so it follows sign-up.
	gap()
	w.emit(kPricing)
	w.noise(1, false)
	if w.chance(0.3) {
		w.step()
		w.emit(kPricing)
	}
	buy := w.chance(prof.cont[1])
	if w.chance(prof.demo) {
		w.step()
		w.emit(kDemo)
	}
	trial := w.chance(prof.trial)
	if trial || (buy && w.chance(0.3)) || w.chance(0.1) {
		identify()
		if trial {
			w.step()
			w.emit(kTrial)
		}
	}
	if !buy {
		if signedIn {
			w.after(time.Hour, 2*24*time.Hour)
			w.noise(3, true)
		}
		return
	}

	// Purchase, signing up first if not done yet. Most buyers come back
	// through a blog post or an ad and look at pricing again first: under
	// the user id, which only counts events from the identify on, that is
	// what lets the lifecycle funnel go past its first levels.
	gap()
	if !signedIn {
		identify()
	}
	if w.chance(0.7) {
		w.step()
		w.emit(awareness(w, p.persona))
		w.noise(1, true)
		w.step()
		w.emit(kPricing)
	}
	w.step()
	if w.chance(0.5) {
		w.emit(kOrder)
	} else {
		w.emit(kSubStarted)
	}
	w.noise(1, true)
	if !w.chance(prof.cont[2]) {
		return
	}

	// Retention: a few sessions of product use, some of them with churn
	// signals.
	for range 1 + w.r.IntN(5) {
		w.after(6*time.Hour, 3*24*time.Hour)
		w.emit(kAppPage)
		for range 1 + w.r.IntN(3) {
			w.step()
			w.emit(kFeature)
		}
		for _, c := range [...]struct {
			k kind
			p float64
		}{{kTicket, 0.12}, {kPayFailed, 0.05}, {kCancelPage, 0.04}, {kRenewed, 0.08}, {kReviewBad, 0.05}} {
			if w.chance(c.p) {
				w.step()
				w.emit(c.k)
			}
		}
		w.noise(2, true)
	}
	if !w.chance(prof.cont[3]) {
		return
	}

	// Advocacy.
	gap()
	if w.chance(0.5) {
		w.emit(kReferral)
	} else {
		w.emit(kReviewGood)
	}
	w.noise(1, true)
}

// onboard plans the onboarding journey from sign-up at t. It spans at most
// about three days, well inside the journey's 168h conversion window.
func onboard(w *walker, prof profile, t int64) {
	t += logUniform(w.r, 2*time.Second, 30*time.Second)
	w.emitAt(kSignedUp, t)
	if !w.chance(prof.onboard[0]) {
		return
	}
	t += logUniform(w.r, 2*time.Minute, 2*time.Hour)
	w.emitAt(kProfile, t)
	if w.chance(0.5) {
		t += logUniform(w.r, 10*time.Minute, 24*time.Hour)
		w.emitAt(kIntegration, t)
	}
	if !w.chance(prof.onboard[1]) {
		return
	}
	t += logUniform(w.r, 30*time.Minute, 2*24*time.Hour)
	w.emitAt(kReport, t)
}

// minSpacing keeps a person's events at least a second apart, so that no two
// share a timestamp even after truncation to seconds: windowFunnel's order
// for equal timestamps, and a DateTime column, then cannot matter.
const minSpacing = 1000

// plan makes person idx: who it is, its valid events in order, then its
// defects and record times.
func (g *Generator) plan(idx int) *person {
	// Seeds go through SplitMix64 because PCG states that differ by one
	// would start correlated streams.
	r := g.rng
	s1, s2 := splitmix(g.cfg.Seed), splitmix(idx)
	g.pcg.Seed(s1.next(), s2.next())

	p := &person{idx: idx, persona: pickPersona(r.Float64())}
	p.anon = uuid(r.Uint64(), r.Uint64())
	p.user = "usr_" + hex16(r.Uint64())
	p.variant = uint8(r.IntN(256))
	switch p.persona {
	case enterpriseBuyer:
		p.company = int(logUniformF(r, 500, 20_000))
	case smbOwner:
		p.company = 1 + r.IntN(49)
	default:
		p.company = 50 + r.IntN(450)
	}
	if r.Float64() < g.cfg.ClockSkewRate {
		p.skew = logUniform(r, time.Minute, 3*time.Hour)
		if r.IntN(2) == 0 {
			p.skew = -p.skew
		}
	}

	// People arrive in index order: start times increase with idx, which
	// lets Next admit them one at a time.
	w := &walker{r: r, t: g.arrival((float64(idx) + r.Float64()) / float64(g.cfg.Customers)), out: g.scratch[:0]}
	g.walk(w, p)

	v := w.out
	slices.SortStableFunc(v, func(a, b spec) int { return cmp.Compare(a.ts, b.ts) })
	n := 0
	for i := range v {
		if i > 0 && v[i].ts < v[i-1].ts+minSpacing {
			v[i].ts = v[i-1].ts + minSpacing
		}
		if v[i].ts >= g.end {
			break
		}
		n++
	}
	v = v[:n]
	post := false
	for i := range v {
		if v[i].kind == kIdentify {
			post = true
		}
		v[i].post = post
		switch {
		case !post:
			v[i].ids = idAnon
		case v[i].kind.server():
			v[i].ids = idUser
		default:
			v[i].ids = idBoth
		}
	}
	g.scratch = v[:0]
	p.msgs = g.defects(r, v)
	return p
}

// pickPersona maps a uniform draw to a persona by the profiles' weights.
func pickPersona(u float64) persona {
	for q := range numPersonas {
		u -= q.profile().weight
		if u < 0 {
			return q
		}
	}
	return unassigned
}

// hourWeight is the relative arrival rate in each UTC hour: quiet at night,
// busiest in the working day.
func hourWeight(h int) float64 {
	switch {
	case h < 6:
		return 1
	case h < 9:
		return 3
	case h < 18:
		return 8
	case h < 22:
		return 4
	default:
		return 2
	}
}

// arrival maps a quantile in [0, 1) to a start time by inverting the
// cumulative hourly arrival weights, a monotonic map, so that quantiles in
// index order give start times in index order.
func (g *Generator) arrival(q float64) int64 {
	x := q * g.cdf[len(g.cdf)-1]
	h, _ := slices.BinarySearch(g.cdf, x)
	if h > 0 {
		h--
	}
	frac := (x - g.cdf[h]) / (g.cdf[h+1] - g.cdf[h])
	return g.start + int64(h)*3_600_000 + int64(frac*3_600_000)
}
