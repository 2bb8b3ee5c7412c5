package schemas

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// build turns a schema-valid document into an Event. The schema has already
// checked every type, so the assertions below cannot fail on valid input;
// they use the two-value form only so that a schema edit cannot become a
// panic.
func (v *Validator) build(obj map[string]any, raw []byte, receivedAt time.Time) (Event, *Invalid) {
	e := Event{
		EventID:     str(obj, "event_id"),
		Type:        str(obj, "type"),
		Event:       str(obj, "event"),
		UserID:      str(obj, "user_id"),
		AnonymousID: str(obj, "anonymous_id"),
	}
	x := extracted{name: str(obj, "name")}
	// encoding/json has built the maps already; they are kept, not
	// decoded again from the text.
	props, _ := obj["properties"].(map[string]any)
	traits, _ := obj["traits"].(map[string]any)
	e.SetProperties(props)
	e.SetTraits(traits)
	if c, ok := obj["context"].(map[string]any); ok {
		e.Context = buildContext(c)
	}
	var inv *Invalid
	if x.timestamp, x.hasTimestamp, inv = timeField(obj, "timestamp"); inv != nil {
		return Event{}, inv
	}
	if x.sentAt, x.hasSentAt, inv = timeField(obj, "sent_at"); inv != nil {
		return Event{}, inv
	}
	if props != nil || traits != nil {
		var ok bool
		x.rawProperties, x.rawTraits, ok = topLevelValues(raw)
		if !ok {
			// Unreachable for input encoding/json accepted; re-encoding is
			// correct, only slower and with float64-rounded numbers.
			x.rawProperties, x.rawTraits = marshalObject(props), marshalObject(traits)
		}
	}
	if inv := v.finish(&e, &x, receivedAt); inv != nil {
		return Event{}, inv
	}
	return e, nil
}

// extracted is what a decoder takes from a valid document besides the
// Event's own fields. Both decoders, build and the generated acceptV1, fill
// one and leave the rules no schema can express to finish, so that those
// rules exist once.
type extracted struct {
	name                    string // the page name, "" when absent
	timestamp, sentAt       time.Time
	hasTimestamp, hasSentAt bool
	// JSON text of the top-level properties and traits, nil when absent.
	rawProperties, rawTraits []byte
	// owned: rawProperties and rawTraits may be kept as they are, the
	// caller having handed the message over (DecodeOwned).
	owned bool
}

// finish completes e from x: the page-name fallback, the receive time, the
// corrected timestamp and the raw objects.
func (v *Validator) finish(e *Event, x *extracted, receivedAt time.Time) *Invalid {
	// UTC because time.Parse and the Kafka client attach time.Local when the
	// offset matches it, which would make output depend on the host.
	recv := receivedAt.UTC()
	e.ReceivedAt = recv
	if e.Type == TypePage && e.Event == "" {
		e.Event = x.name
	}
	if inv := v.setTimes(e, x, recv); inv != nil {
		return inv
	}
	if x.owned {
		e.RawProperties, e.RawTraits = ownedObject(x.rawProperties), ownedObject(x.rawTraits)
		return nil
	}
	e.RawProperties, e.RawTraits = rawObjects(x.rawProperties, x.rawTraits)
	return nil
}

func buildContext(c map[string]any) Context {
	ctx := Context{
		Channel:  str(c, "channel"),
		Referrer: str(c, "referrer"),
		Locale:   str(c, "locale"),
	}
	if m, ok := c["campaign"].(map[string]any); ok {
		ctx.Campaign = Campaign{
			Name:    str(m, "name"),
			Source:  str(m, "source"),
			Medium:  str(m, "medium"),
			Term:    str(m, "term"),
			Content: str(m, "content"),
		}
	}
	if m, ok := c["page"].(map[string]any); ok {
		ctx.Page = Page{Path: str(m, "path"), URL: str(m, "url"), Title: str(m, "title")}
	}
	if m, ok := c["device"].(map[string]any); ok {
		ctx.Device = Device{Type: str(m, "type"), OS: str(m, "os"), Manufacturer: str(m, "manufacturer")}
	}
	return ctx
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// setTimes applies Segment's clock-skew correction: a device whose clock is
// off stamps both timestamp and sent_at with the same error, so
//
//	corrected = timestamp + (receivedAt - sent_at)
//
// removes it, leaving only the network delay. Without sent_at there is
// nothing to correct against, and without timestamp the event happened when
// it arrived, as far as anyone can tell.
func (v *Validator) setTimes(e *Event, x *extracted, recv time.Time) *Invalid {
	ts, sent := x.timestamp, x.sentAt
	e.OriginalTimestamp = ts // zero when absent, like SentAt
	e.SentAt = sent

	corrected := recv
	switch {
	case x.hasTimestamp && x.hasSentAt:
		// Sub saturates instead of overflowing, so absurd but RFC 3339-valid
		// years cannot wrap around.
		corrected = ts.Add(recv.Sub(sent))
	case x.hasTimestamp:
		corrected = ts
	}

	if limit := recv.Add(v.limits.FutureTolerance); corrected.After(limit) {
		if !v.limits.ClampFuture {
			return &Invalid{ReasonFutureTimestamp, fmt.Sprintf(
				"/timestamp: corrected time %s is %s after receive time %s, tolerance %s",
				corrected.Format(time.RFC3339Nano), corrected.Sub(recv), recv.Format(time.RFC3339Nano), v.limits.FutureTolerance)}
		}
		corrected = recv
	}
	// The start of ClickHouse's Date range, which the events table is
	// partitioned and sorted by.
	if corrected.Unix() < 0 {
		return &Invalid{ReasonPastTimestamp, fmt.Sprintf(
			"/timestamp: corrected time %s is before 1970-01-01, which storage cannot represent",
			corrected.Format(time.RFC3339Nano))}
	}
	e.Timestamp = corrected
	return nil
}

// timeField parses an optional RFC 3339 field that the schema's date-time
// format has already accepted.
func timeField(obj map[string]any, key string) (time.Time, bool, *Invalid) {
	s, ok := obj[key].(string)
	if !ok {
		return time.Time{}, false, nil
	}
	t, err := parseRFC3339(s)
	if err != nil {
		// Unreachable unless the schema's and Go's readings of RFC 3339
		// drift apart; then it is the same fault the schema reports.
		return time.Time{}, false, &Invalid{ReasonWrongType,
			"/" + key + ": not a valid date-time for Go's time.Parse; got " + strconv.Quote(truncate(s, maxQuoted/2))}
	}
	return t.UTC(), true, nil
}

// parseRFC3339 is time.Parse widened to the RFC 3339 the schema accepts:
// lower-case t and z (RFC 3339 section 5.6) and a leap second, :60, which Go
// refuses and which is read here as the first instant of the next minute.
func parseRFC3339(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil || len(s) < len("2006-01-02T15:04:05Z") {
		return t, err
	}
	b := []byte(s)
	if b[10] == 't' {
		b[10] = 'T'
	}
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	leap := b[17] == '6' && b[18] == '0'
	if leap {
		b[17], b[18] = '5', '9'
	}
	t, err2 := time.Parse(time.RFC3339Nano, string(b))
	if err2 != nil {
		return time.Time{}, fmt.Errorf("parse %q: %w", s, err)
	}
	if leap {
		t = t.Add(time.Second)
	}
	return t, nil
}

// rawObjects returns the JSON text of properties and traits, "{}" when
// absent, copied into one allocation so that the Event does not alias the
// caller's buffer (a consumer may reuse it for the next record).
func rawObjects(p, t []byte) (rawProps, rawTraits []byte) {
	if p == nil {
		p = []byte("{}")
	}
	if t == nil {
		t = []byte("{}")
	}
	buf := make([]byte, 0, len(p)+len(t))
	buf = append(buf, p...)
	buf = append(buf, t...)
	// Full slice expressions, so that appending to one cannot overwrite the
	// other.
	return buf[:len(p):len(p)], buf[len(p):]
}

// ownedObject is rawObjects for a raw message the caller handed over: the
// object's text is used in place, capacity cut so that an append cannot
// write into the rest of the message.
func ownedObject(b []byte) []byte {
	if b == nil {
		return []byte("{}")
	}
	return b[:len(b):len(b)]
}

func marshalObject(m map[string]any) []byte {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}
