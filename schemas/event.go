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
// RawProperties and RawTraits keep the original JSON text of properties and
// traits, exact digits included, so that storage does not pay for
// re-encoding. Their decoded values (string, float64, bool, nil, []any,
// map[string]any, as encoding/json decodes into an any) are what
// journey-map rules match on, through Properties, Traits, Property and
// Trait. Numbers are float64, as the journey map documents, so rules can
// compare them with literals.
//
// Decode checks the objects but does not build their maps: storage needs
// only the text, and building the maps was about a quarter of decoding's
// CPU time in the collector (issue #5). The first Properties or Traits
// call decodes the text and keeps the map; Property and Trait read one key
// from the text without building it. Those methods therefore write to the Event: like every
// Event, it may be used by one goroutine at a time, and even read-only
// use from several goroutines at once is a data race.
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

	// RawProperties and RawTraits are JSON object text, "{}" when absent.
	// The decoded values are decoded from them as they are when first
	// read, unless SetProperties or SetTraits gave them.
	RawProperties []byte
	RawTraits     []byte

	Context Context

	// properties and traits are the decoded values of RawProperties and
	// RawTraits, built on first use. Decode sets them to nil, decoded, for
	// an absent object, whose text is "{}".
	properties, traits lazyObject
}

// Properties returns the decoded properties, nil when the event has none.
// The map is the Event's own: changes to it are seen by later calls, not
// by RawProperties.
func (e *Event) Properties() map[string]any { return e.properties.get(e.RawProperties) }

// Traits returns the decoded traits, nil when the event has none. The map
// is the Event's own: changes to it are seen by later calls, not by
// RawTraits.
func (e *Event) Traits() map[string]any { return e.traits.get(e.RawTraits) }

// Property returns Properties()[key] and whether the key is there, without
// decoding the other keys when Properties has not been called.
func (e *Event) Property(key string) (any, bool) { return e.properties.lookup(e.RawProperties, key) }

// Trait returns Traits()[key] and whether the key is there, without
// decoding the other keys when Traits has not been called.
func (e *Event) Trait(key string) (any, bool) { return e.traits.lookup(e.RawTraits, key) }

// PropertiesObject returns the properties as an Object, whose reads
// leave e as it is.
func (e *Event) PropertiesObject() Object { return Object{e.RawProperties, e.properties} }

// TraitsObject returns the traits as an Object, whose reads leave e as it
// is.
func (e *Event) TraitsObject() Object { return Object{e.RawTraits, e.traits} }

// SetProperties makes m the decoded properties, for an Event built other
// than by Decode. RawProperties is left as it is: the caller keeps the two
// in agreement when both are used.
func (e *Event) SetProperties(m map[string]any) { e.properties = lazyObject{m: m, decoded: true} }

// SetTraits makes m the decoded traits, as SetProperties does.
func (e *Event) SetTraits(m map[string]any) { e.traits = lazyObject{m: m, decoded: true} }

// SetRawProperties replaces the properties' JSON text and drops their
// decoded value, which is then decoded from raw.
func (e *Event) SetRawProperties(raw []byte) { e.RawProperties, e.properties = raw, lazyObject{} }

// SetRawTraits replaces the traits' JSON text and drops their decoded
// value, which is then decoded from raw.
func (e *Event) SetRawTraits(raw []byte) { e.RawTraits, e.traits = raw, lazyObject{} }

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
