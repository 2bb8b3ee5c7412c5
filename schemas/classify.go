package schemas

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/message"
)

// maxQuoted bounds each input-derived part of a Detail (the pointer, and the
// message that may quote a value), so that a Detail never carries more than
// about 200 bytes of a payload into logs and dead-letter headers.
const maxQuoted = 100

// schemaInvalid reduces the validator's error tree to one Invalid.
//
// The tree's sibling order follows Go map iteration, so it is not stable;
// to keep Decode a pure function the error is chosen by an order: first
// instance location, then the most specific reason (a missing id says more
// than "schema_violation"), then schema location.
func (v *Validator) schemaInvalid(err error) *Invalid {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &Invalid{ReasonSchema, truncate(err.Error(), maxQuoted)}
	}
	var units []*jsonschema.ValidationError
	collectUnits(verr, &units)
	if len(units) == 0 {
		return &Invalid{ReasonSchema, truncate(verr.Error(), maxQuoted)}
	}
	best, bestReason := units[0], reasonOf(units[0])
	for _, u := range units[1:] {
		if r := reasonOf(u); unitLess(u, r, best, bestReason) {
			best, bestReason = u, r
		}
	}
	return &Invalid{Reason: bestReason, Detail: v.detail(best)}
}

// collectUnits flattens the tree down to the errors that name one rule.
// Containers ($ref, allOf, the root wrapper) are looked through; anyOf, oneOf
// and not are kept whole, because their causes are the alternatives that were
// tried, not what is wrong.
func collectUnits(e *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	switch e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				collectUnits(c, out)
			}
			return
		}
	}
	*out = append(*out, e)
}

func unitLess(a *jsonschema.ValidationError, ra Reason, b *jsonschema.ValidationError, rb Reason) bool {
	if c := slices.Compare(a.InstanceLocation, b.InstanceLocation); c != 0 {
		return c < 0
	}
	if ra != rb {
		return reasonRank(ra) < reasonRank(rb)
	}
	return keywordLocation(a) < keywordLocation(b)
}

// reasonRank orders the reasons a schema error can have, most specific first.
func reasonRank(r Reason) int {
	switch r {
	case ReasonMissingID:
		return 0
	case ReasonUnknownType:
		return 1
	case ReasonWrongType:
		return 2
	default:
		return 3
	}
}

// keywordLocation is the absolute location of the failed keyword in the
// schema, e.g. ".../event.v1.json#/properties/type/enum".
func keywordLocation(e *jsonschema.ValidationError) string {
	loc := e.SchemaURL
	for _, k := range e.ErrorKind.KeywordPath() {
		loc += "/" + k
	}
	return loc
}

// reasonOf maps a rule of event.v1.json to a Reason. It keys on the keyword
// and the instance location, not on message text, so rewording in the
// library cannot change a metric label.
func reasonOf(e *jsonschema.ValidationError) Reason {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		if len(loc) == 0 && slices.ContainsFunc(k.Missing, isIDField) {
			return ReasonMissingID
		}
	case *kind.AnyOf:
		// The only anyOf at the root is "a non-empty user_id or anonymous_id".
		if len(loc) == 0 {
			return ReasonMissingID
		}
	case *kind.MinLength:
		// An empty event_id is no event_id.
		if len(loc) == 1 && loc[0] == "event_id" {
			return ReasonMissingID
		}
	case *kind.Type:
		return ReasonWrongType
	case *kind.Enum:
		if len(loc) == 1 && loc[0] == "type" {
			return ReasonUnknownType
		}
	case *kind.Format:
		// Every format in v1 is date-time; a timestamp that does not parse is
		// as unusable as one of the wrong JSON type.
		return ReasonWrongType
	}
	return ReasonSchema
}

func isIDField(name string) bool {
	return name == "event_id" || name == "user_id" || name == "anonymous_id"
}

// detail renders "pointer: message (schema #/keyword/location)".
func (v *Validator) detail(e *jsonschema.ValidationError) string {
	var msg string
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf:
		if len(e.InstanceLocation) == 0 {
			msg = "needs a non-empty user_id or anonymous_id"
		} else {
			msg = k.LocalizedString(v.printer)
		}
	case *kind.Format:
		// The library's own message starts with the value, which truncation
		// would keep at the expense of the reason.
		msg = "not a valid " + k.Want + ": " + localizedError(k.Err, v.printer)
		if s, ok := k.Got.(string); ok {
			msg += "; got " + strconv.Quote(truncate(s, maxQuoted/2))
		}
	default:
		msg = k.LocalizedString(v.printer)
	}
	var b strings.Builder
	b.WriteString(truncate(pointer(e.InstanceLocation), maxQuoted))
	b.WriteString(": ")
	b.WriteString(truncate(msg, maxQuoted))
	b.WriteString(" (schema #")
	loc := keywordLocation(e)
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		loc = loc[i+1:]
	}
	b.WriteString(loc)
	b.WriteString(")")
	return b.String()
}

func localizedError(err error, p *message.Printer) string {
	if err == nil {
		return "invalid"
	}
	if le, ok := err.(interface {
		LocalizedError(*message.Printer) string
	}); ok {
		return le.LocalizedError(p)
	}
	return err.Error()
}

// pointer renders an instance location as an RFC 6901 JSON pointer; the root,
// whose pointer is the empty string, is spelled out.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return "(root)"
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		if strings.ContainsAny(t, "~/") {
			t = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
		}
		b.WriteString(t)
	}
	return b.String()
}

// truncate cuts s to at most n bytes on a rune boundary, so that a Detail
// stays valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
