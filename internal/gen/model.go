package gen

import "time"

// This file is the generator's copy of deploy/journey-map.yaml: the names it
// must emit and the tag each kind of event must receive. It is written out by
// hand, not loaded, because the truth must not come from the code under test;
// TestStreamMatchesJourneyMap checks it against the map file itself.

// persona is a hidden persona of a synthetic person. The order is the map's
// priority order, highest first.
type persona uint8

const (
	enterpriseBuyer persona = iota
	smbOwner
	developer
	unassigned // matches no persona rule: the map's default_persona
	numPersonas
)

func (p persona) String() string {
	switch p {
	case enterpriseBuyer:
		return "enterprise_buyer"
	case smbOwner:
		return "smb_owner"
	case developer:
		return "developer"
	default:
		return "unassigned"
	}
}

// journey numbers the map's journeys in file order; 0 is "no journey".
type journey uint8

const (
	noJourney journey = iota
	lifecycle
	onboarding
	numJourneys
)

func (j journey) String() string {
	switch j {
	case lifecycle:
		return "lifecycle"
	case onboarding:
		return "onboarding"
	default:
		return ""
	}
}

// stages returns the stage names of j in map order; a stage's index in the
// slice is its stage_index.
func (j journey) stages() []string {
	switch j {
	case lifecycle:
		return []string{"awareness", "consideration", "purchase", "retention", "advocacy"}
	case onboarding:
		return []string{"signup", "setup", "first_value"}
	default:
		return nil
	}
}

// Stage indexes, named so that the planner reads as a journey.
const (
	stAwareness     = 0
	stConsideration = 1
	stPurchase      = 2
	stRetention     = 3
	stAdvocacy      = 4

	stSignup     = 0
	stSetup      = 1
	stFirstValue = 2
)

// kind is one kind of event a person can produce. Each kind either matches
// exactly one touchpoint of the map (and none before it in map order) or
// matches none at all; payload details that do not change the tag are drawn
// when the event is encoded.
type kind uint8

const (
	kHome        kind = iota // page "/": no touchpoint
	kBlog                    // page /blog/...: awareness
	kDocs                    // page /docs/...: awareness; also the developer persona rule
	kPricing                 // page /pricing: consideration
	kCancelPage              // page /account/cancel: retention (negative)
	kSitePage                // marketing page (/features, /about, ...): no touchpoint
	kAppPage                 // product page (/app/...), signed-in only: no touchpoint
	kAdClicked               // awareness
	kDemo                    // consideration
	kTrial                   // consideration
	kIdentify                // links the anonymous id to the user id; no touchpoint
	kSignedUp                // onboarding signup
	kProfile                 // onboarding setup
	kIntegration             // onboarding setup
	kReport                  // onboarding first_value
	kOrder                   // purchase, server-side
	kSubStarted              // purchase
	kFeature                 // retention
	kRenewed                 // retention, server-side
	kTicket                  // retention (negative)
	kPayFailed               // retention (negative), server-side
	kReferral                // advocacy
	kReviewGood              // advocacy: rating 4 or 5
	kReviewBad               // rating 1-3: the review touchpoint's rule refuses it
	kClick                   // Button Clicked, Video Played, ...: no touchpoint
	numKinds
)

// tag is the journey and stage the map gives k.
func (k kind) tag() (journey, uint8) {
	switch k {
	case kBlog, kDocs, kAdClicked:
		return lifecycle, stAwareness
	case kPricing, kDemo, kTrial:
		return lifecycle, stConsideration
	case kOrder, kSubStarted:
		return lifecycle, stPurchase
	case kFeature, kRenewed, kTicket, kPayFailed, kCancelPage:
		return lifecycle, stRetention
	case kReferral, kReviewGood:
		return lifecycle, stAdvocacy
	case kSignedUp:
		return onboarding, stSignup
	case kProfile, kIntegration:
		return onboarding, stSetup
	case kReport:
		return onboarding, stFirstValue
	default:
		return noJourney, 0
	}
}

func (k kind) isPage() bool {
	return k <= kAppPage
}

// server kinds come from the producer's backend, which knows the user but
// not the browser's anonymous id: they carry only user_id.
func (k kind) server() bool {
	return k == kOrder || k == kRenewed || k == kPayFailed
}

// profile is how a persona behaves. cont[s] is the chance to go on from
// lifecycle stage s to s+1, so drop-off differs per persona by construction.
type profile struct {
	weight  float64    // share of people
	cont    [4]float64 // lifecycle: awareness→consideration→purchase→retention→advocacy
	onboard [2]float64 // onboarding: signup→setup→first_value
	demo    float64    // chance of a demo request in consideration
	trial   float64    // chance of a trial (which needs an account) in consideration
	gapLo   time.Duration
	gapHi   time.Duration // gaps between stages, log-uniform
}

func (p persona) profile() profile {
	switch p {
	case enterpriseBuyer:
		return profile{0.20, [4]float64{0.60, 0.50, 0.85, 0.40}, [2]float64{0.80, 0.65}, 0.60, 0.25, 2 * time.Hour, 4 * 24 * time.Hour}
	case smbOwner:
		return profile{0.35, [4]float64{0.45, 0.35, 0.70, 0.25}, [2]float64{0.70, 0.50}, 0.10, 0.60, 10 * time.Minute, 2 * 24 * time.Hour}
	case developer:
		return profile{0.25, [4]float64{0.70, 0.20, 0.80, 0.55}, [2]float64{0.90, 0.75}, 0.05, 0.65, 5 * time.Minute, 3 * 24 * time.Hour}
	default:
		return profile{0.20, [4]float64{0.25, 0.10, 0.55, 0.15}, [2]float64{0.50, 0.30}, 0.10, 0.30, 30 * time.Minute, 4 * 24 * time.Hour}
	}
}
