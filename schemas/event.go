package schemas

import "time"

// Version is the event contract version that this build validates against.
// It is stored with every enriched row so that a change of contract is visible
// in the data, not only in the code.
const Version = "v1"

// Event types accepted by schema v1.
const (
	TypeTrack    = "track"
	TypeIdentify = "identify"
	TypePage     = "page"
)

// Event is one customer interaction that passed validation.
//
// Properties and Traits keep the decoded JSON values (string, float64, bool,
// nil, []any, map[string]any) because journey-map rules match on them
// directly; they are nil when the event has none. Numbers are float64, as the
// journey map documents, so rules can compare them with literals.
// RawProperties and RawTraits keep their original JSON text, exact digits
// included, so that storage does not pay for re-encoding.
type Event struct {
	EventID     string
	Type        string
	Event       string // event name; for page events the page name when given
	UserID      string
	AnonymousID string

	// Timestamp is the event time after clock-skew correction and clamping
	// (see Limits); OriginalTimestamp is what the producer sent, zero when
	// it sent none. All times are UTC.
	Timestamp         time.Time
	OriginalTimestamp time.Time
	SentAt            time.Time // zero when absent
	ReceivedAt        time.Time // when the collector fetched the message

	Properties    map[string]any
	Traits        map[string]any
	RawProperties []byte // JSON object text, "{}" when absent
	RawTraits     []byte // JSON object text, "{}" when absent

	Context Context
}

// Context is where and how the interaction happened.
type Context struct {
	Channel  string
	Campaign Campaign
	Page     Page
	Referrer string
	Device   Device
	Locale   string
}

// Campaign holds the UTM parameters.
type Campaign struct {
	Name    string
	Source  string
	Medium  string
	Term    string
	Content string
}

// Page is the web page the interaction happened on, if any.
type Page struct {
	Path  string
	URL   string
	Title string
}

// Device describes the client device.
type Device struct {
	Type         string
	OS           string
	Manufacturer string
}

// Source locates the Kafka record an event came from. It is stored with every
// row so that any number in ClickHouse can be traced back to its offsets.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Enriched is an event tagged with its place in the journey map. It is the row
// shape that aggregate writes to the events table.
type Enriched struct {
	Event
	Source

	// CustomerID is the id the customer is counted under: the user id when
	// known (directly or through identity stitching), else the anonymous id.
	CustomerID string

	// Journey, Stage and Touchpoint are empty when no touchpoint rule matched;
	// such events are still stored so that nothing is lost.
	Journey    string
	Stage      string
	StageIndex uint8
	Touchpoint string
	// Negative is true for touchpoints the journey map marks as churn signals
	// (support ticket, cancellation page, failed payment, ...).
	Negative bool
	Persona  string

	// MapVersion is "name@sha256-prefix" of the journey map that tagged the event.
	MapVersion string

	// JourneyIndex, TouchpointIndex and PersonaIndex are the positions of
	// Journey, Touchpoint and Persona in that journey map, so that per-event
	// bookkeeping indexes slices instead of hashing names. They are not
	// stored. JourneyIndex indexes the map's journeys and TouchpointIndex its
	// touchpoints in file order, both -1 when no touchpoint matched;
	// PersonaIndex indexes its personas by priority, -1 for the default
	// persona.
	JourneyIndex    int32
	TouchpointIndex int32
	PersonaIndex    int32
}
