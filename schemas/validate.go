package schemas

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// eventSchemaJSON is the v1 contract. It is a string, not a []byte, so that
// the embedded package-level value cannot be mutated.
//
//go:embed event.v1.json
var eventSchemaJSON string

// eventSchemaURL is the $id of event.v1.json. The schema is registered under it
// as an in-memory resource, so compiling never touches the network or disk.
const eventSchemaURL = "https://journeys-analytics.github.io/schemas/event.v1.json"

// Reason says why an event was rejected. It is a metric label, so the set is
// closed: see Reasons.
type Reason string

// Reasons an event is rejected for.
const (
	ReasonNotJSON         Reason = "not_json"
	ReasonNotUTF8         Reason = "not_utf8"
	ReasonTooLarge        Reason = "too_large"
	ReasonTooDeep         Reason = "too_deep"
	ReasonMissingID       Reason = "missing_id"       // no (or empty) event_id, or neither user_id nor anonymous_id
	ReasonWrongType       Reason = "wrong_type"       // a field of the wrong JSON type, a bad timestamp, a number beyond float64
	ReasonUnknownType     Reason = "unknown_type"     // `type` not in the enum
	ReasonFutureTimestamp Reason = "future_timestamp" // corrected timestamp beyond receive time + FutureTolerance
	ReasonSchema          Reason = "schema_violation" // any other schema rule
	// ReasonPastTimestamp: corrected timestamp before 1970-01-01. ClickHouse's
	// Date cannot hold it, so storing it would fail on every retry and stall
	// the partition; rejecting it is the only way not to lose the rest.
	ReasonPastTimestamp Reason = "past_timestamp"
)

// Reasons returns every Reason, so that metrics can be initialised for the
// whole bounded label set. The slice is new on every call.
func Reasons() []Reason {
	return []Reason{
		ReasonNotJSON,
		ReasonNotUTF8,
		ReasonTooLarge,
		ReasonTooDeep,
		ReasonMissingID,
		ReasonWrongType,
		ReasonUnknownType,
		ReasonFutureTimestamp,
		ReasonSchema,
		ReasonPastTimestamp,
	}
}

// Invalid is a permanent rejection: the same bytes will be rejected again, so
// the caller dead-letters them and commits past them.
type Invalid struct {
	Reason Reason
	// Detail names the field (a JSON pointer) and the rule, for a human
	// reading the dead-letter queue. It quotes at most maxQuoted bytes of
	// the input, so it is safe to log.
	Detail string
}

func (i *Invalid) Error() string {
	return "schemas: invalid event: " + string(i.Reason) + ": " + i.Detail
}

// Limits bound what Decode accepts. They protect the pipeline from one
// producer's mistake: a huge or deeply nested payload, or a device clock set
// years ahead.
type Limits struct {
	MaxEventBytes   int           // default 1 MiB
	MaxDepth        int           // default 32: nesting depth of objects/arrays, the top-level object is 1
	FutureTolerance time.Duration // default 24h: how far past receive time a corrected timestamp may be
	ClampFuture     bool          // false: reject with future_timestamp; true: clamp to receive time
}

// maxParserDepth is encoding/json's own nesting limit. A MaxDepth above it
// would turn too_deep into not_json, so Validate refuses it.
const maxParserDepth = 10000

// DefaultLimits returns the limits documented on Limits.
func DefaultLimits() Limits {
	return Limits{
		MaxEventBytes:   1 << 20,
		MaxDepth:        32,
		FutureTolerance: 24 * time.Hour,
		ClampFuture:     false,
	}
}

// Validate reports every problem with l at once.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxEventBytes <= 0 {
		errs = append(errs, fmt.Errorf("max event bytes must be > 0, got %d", l.MaxEventBytes))
	}
	if l.MaxDepth <= 0 || l.MaxDepth > maxParserDepth {
		errs = append(errs, fmt.Errorf("max depth must be in [1, %d], got %d", maxParserDepth, l.MaxDepth))
	}
	if l.FutureTolerance < 0 {
		errs = append(errs, fmt.Errorf("future tolerance must be >= 0, got %s", l.FutureTolerance))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("schemas: limits: %w", err)
	}
	return nil
}

// Validator decodes and validates raw events against the embedded v1 schema.
// It is immutable after NewValidator, so one Validator may be shared by any
// number of goroutines.
type Validator struct {
	limits  Limits
	schema  *jsonschema.Schema
	printer *message.Printer // renders schema errors; safe for concurrent use
}

// NewValidator compiles the embedded schema. Compiling costs milliseconds, so
// build one Validator at start-up and share it.
func NewValidator(l Limits) (*Validator, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(eventSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("schemas: parse embedded %s: %w", eventSchemaURL, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Draft 2020-12 treats format as an annotation by default; the contract
	// promises RFC 3339 timestamps, so make it an assertion.
	c.AssertFormat()
	if err := c.AddResource(eventSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("schemas: add resource %s: %w", eventSchemaURL, err)
	}
	sch, err := c.Compile(eventSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", eventSchemaURL, err)
	}
	return &Validator{
		limits:  l,
		schema:  sch,
		printer: message.NewPrinter(language.English),
	}, nil
}

// Limits returns the limits v was built with.
func (v *Validator) Limits() Limits { return v.limits }

// Decode turns one raw message into an Event, or says why it cannot.
//
// receivedAt is the Kafka record timestamp, not the wall clock, and Decode
// reads nothing else: its result is a pure function of (raw, receivedAt,
// limits), so replaying a partition reproduces the same rows.
//
// The checks run cheapest and most fundamental first, so that a hostile input
// is refused before it costs a parse: size, UTF-8, nesting depth (a byte scan,
// so deep nesting cannot exhaust the stack), JSON syntax, the JSON Schema,
// then the timestamps.
//
// Two decoders implement this, and must agree. acceptV1, generated from
// event.v1.json (event_v1_gen.go), accepts in one pass the events it is
// certain of, refusing nesting beyond MaxDepth as it parses; everything
// else, every rejection included, goes through the reference decoder (the
// depth scan, encoding/json, then the santhosh-tekuri/jsonschema
// validator), which alone says why an event is invalid. The fast path
// changes what an accepted event costs, never what Decode returns; the
// differential tests and FuzzFastPathAgrees hold it to that.
func (v *Validator) Decode(raw []byte, receivedAt time.Time) (Event, *Invalid) {
	return v.decode(raw, receivedAt, false)
}

// DecodeOwned is Decode for a caller that hands raw over: raw is never
// modified or reused afterwards (a Kafka client that allocates every
// message, as kafka-go does). The accepted event's strings and raw objects
// then point into raw instead of into a copy of it, which saves an
// allocation and a copy of the whole message per event. The result is
// identical to Decode's.
func (v *Validator) DecodeOwned(raw []byte, receivedAt time.Time) (Event, *Invalid) {
	return v.decode(raw, receivedAt, true)
}

func (v *Validator) decode(raw []byte, receivedAt time.Time, owned bool) (Event, *Invalid) {
	if inv := v.precheck(raw); inv != nil {
		return Event{}, inv
	}
	var e Event
	if v.decodeFast(raw, receivedAt, &e, owned) {
		return e, nil
	}
	return v.decodeReference(raw, receivedAt)
}

// precheck applies the limits that both decoders rely on.
func (v *Validator) precheck(raw []byte) *Invalid {
	if len(raw) > v.limits.MaxEventBytes {
		return &Invalid{ReasonTooLarge, fmt.Sprintf("event is %d bytes, limit is %d", len(raw), v.limits.MaxEventBytes)}
	}
	if !utf8.Valid(raw) {
		return &Invalid{ReasonNotUTF8, fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(raw))}
	}
	return nil
}

// decodeReference is Decode after precheck, by the libraries alone. The
// depth scan runs here rather than in precheck because the fast path
// enforces the same limit while it parses.
func (v *Validator) decodeReference(raw []byte, receivedAt time.Time) (Event, *Invalid) {
	if at := depthExceeded(raw, v.limits.MaxDepth); at >= 0 {
		return Event{}, &Invalid{ReasonTooDeep, fmt.Sprintf("nesting deeper than %d at byte %d", v.limits.MaxDepth, at)}
	}
	// Numbers decode as float64, not json.Number: journey-map rules compare
	// them with number literals (expr-lang sees float64; json.Number is a
	// string type), and exact text survives anyway in RawProperties and
	// RawTraits, which are sliced from raw.
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Event{}, parseInvalid(err)
	}
	if err := v.schema.Validate(doc); err != nil {
		return Event{}, v.schemaInvalid(err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		// Unreachable while the schema says "type": "object"; kept so that a
		// schema edit cannot turn into a panic.
		return Event{}, &Invalid{ReasonWrongType, "(root): type: want object"}
	}
	return v.build(obj, raw, receivedAt)
}

// parseInvalid classifies an encoding/json error. The input is already known
// to be valid UTF-8 and not too deep, so a syntax error means not JSON, and a
// type error can only be a number too large for float64.
func parseInvalid(err error) *Invalid {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return &Invalid{ReasonNotJSON, truncate(syn.Error(), maxQuoted) + " (byte " + strconv.FormatInt(syn.Offset, 10) + ")"}
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		// typ.Value would quote the number, which may be megabytes of digits.
		return &Invalid{ReasonWrongType, "number out of float64 range ending at byte " + strconv.FormatInt(typ.Offset, 10)}
	}
	return &Invalid{ReasonNotJSON, truncate(err.Error(), maxQuoted)}
}

// invalidUTF8At returns the offset of the first invalid UTF-8 sequence; it
// runs only on the rejection path.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}
