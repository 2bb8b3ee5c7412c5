package schemas

import (
	"bytes"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/go-faster/jx"
)

// The accept path: event_v1_gen.go is event.v1.json compiled to Go by
// internal/schemagen; this file is the runtime it calls.
//
//go:generate go run ./internal/schemagen

// decodeFast decodes raw, which has passed precheck, in one pass with the
// generated acceptV1. It returns true only when *e is exactly what
// decodeReference would return, as an acceptance: whenever the generated
// code or this runtime is not certain of that, it returns false and leaves
// the event, rejections included, to the reference decoder. So a gap here
// costs time, never a different answer.
//
// owned says the caller hands raw over (DecodeOwned): strings and raw
// objects may then alias it.
func (v *Validator) decodeFast(raw []byte, receivedAt time.Time, e *Event, owned bool) bool {
	var p fastParser
	p.reset(raw, v.limits.MaxDepth, owned)
	var x extracted
	x.owned = owned
	if !acceptV1(&p, e, &x) || !p.atEnd() || v.finish(e, &x, receivedAt) != nil {
		*e = Event{}
		return false
	}
	// acceptV1 kept the objects' text only; they are decoded from it on
	// first use. An absent one is nil, as encoding/json leaves it, not
	// the empty map its text "{}" would give.
	e.properties.decoded = x.rawProperties == nil
	e.traits.decoded = x.rawTraits == nil
	return true
}

// fastParser reads one event with the go-faster/jx tokenizer and decodes it
// as encoding/json would decode it into an any: strings unescaped, numbers
// float64, objects map[string]any, arrays []any. Values the event does not
// decode (unknown keys, properties and traits) it checks as encoding/json
// would and skips. It also decodes those objects later, on demand
// (object.go). Where jx and encoding/json could differ, its methods report
// false rather than guess:
//
//   - jx checks the grammar as strictly as encoding/json (control
//     characters, escapes, number syntax, literals, separators), and atEnd
//     refuses trailing data;
//   - every number, even under a key the schema ignores, must parse as a
//     float64, because encoding/json fails the whole document otherwise;
//   - a string or key with escapes whose decoded text holds U+FFFD is
//     refused when decoded: the two libraries replace a lone UTF-16
//     surrogate escape differently (a skipped one is not decoded, so both
//     accept it alike);
//   - nesting deeper than Limits.MaxDepth is refused, which is what lets
//     Decode leave the depth scan to the reference path: for valid JSON,
//     the nesting the parser sees is the bracket nesting depthExceeded
//     counts.
type fastParser struct {
	d   jx.Decoder
	raw []byte
	// s is the one copy of raw that the Event's strings share: every string
	// read without escapes is a substring of it, so an event costs one
	// string allocation however many fields it has. When the caller handed
	// raw over (owned), s is raw itself and costs nothing.
	s     string
	owned bool
	// detached: s is raw itself, but raw is not handed over, so each
	// string kept is copied out of it (resetDetached).
	detached bool

	depth, maxDepth int
}

func (p *fastParser) reset(raw []byte, maxDepth int, owned bool) {
	p.raw, p.owned, p.detached = raw, owned, false
	if owned && len(raw) > 0 {
		p.s = unsafe.String(unsafe.SliceData(raw), len(raw))
	} else {
		p.s = string(raw)
	}
	p.d.ResetBytes(raw)
	p.depth, p.maxDepth = 0, maxDepth
}

// resetDetached readies p to read a value or two of raw, which it does
// not own: rather than one copy of raw for all strings, as reset makes,
// it copies only the strings it returns.
func (p *fastParser) resetDetached(raw []byte, maxDepth int) {
	p.reset(raw, maxDepth, true)
	p.detached = true
}

// descend is called on entering an object or array, ascend on leaving it.
func (p *fastParser) descend() bool {
	p.depth++
	return p.depth <= p.maxDepth
}

func (p *fastParser) ascend() { p.depth-- }

// text returns b, a string or key that jx has read, as a string. When b
// is a slice of raw, as jx returns a string without escapes, the result is
// a substring of s (a copy of b when detached); jx does not say which, so
// the offset b would have in raw is derived from the capacities (raw[i:j]
// has capacity cap(raw)-i) and confirmed by comparing addresses. Otherwise
// jx has unescaped it, and the result is a copy, refused (ok false) if it
// holds U+FFFD: that is how both libraries replace a lone surrogate
// escape, each in its own way.
func (p *fastParser) text(b []byte) (s string, ok bool) {
	if len(b) == 0 {
		return "", true
	}
	if p.inRaw(b) {
		if p.detached {
			return string(b), true
		}
		return p.view(b), true
	}
	if hasReplacementChar(b) {
		return "", false
	}
	return string(b), true
}

// view returns b, a slice of raw, as the substring of s it is, to be read
// and dropped, never kept: when detached, s is the memory of a raw that
// the parser does not own.
func (p *fastParser) view(b []byte) string {
	off := cap(p.raw) - cap(b)
	return p.s[off : off+len(b)]
}

// str reads a string value.
func (p *fastParser) str() (string, bool) {
	b, err := p.d.StrBytes()
	if err != nil {
		return "", false
	}
	return p.text(b)
}

// dateTime parses a string value of format date-time that both the schema
// library and parseRFC3339 accept, in UTC, as timeField returns it.
func dateTime(s string) (time.Time, bool) {
	if t, ok := canonicalDateTime(s); ok {
		return t, true
	}
	if !isPlainDateTime(s) {
		return time.Time{}, false
	}
	t, err := parseRFC3339(s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// number reads a number value as encoding/json does: strconv.ParseFloat of
// its text, failing on a number beyond float64.
func (p *fastParser) number() (float64, bool) {
	b, err := p.d.Raw()
	if err != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(p.view(trimSpace(b)), 64)
	return f, err == nil
}

// checkNumber reads a number value that is not kept, which must still fit
// a float64 for encoding/json to accept the document. jx has checked its
// syntax, so without an exponent a number of at most 308 characters is
// below 10^308 and fits: only the rest need parsing.
func (p *fastParser) checkNumber() bool {
	b, err := p.d.Raw()
	if err != nil {
		return false
	}
	b = trimSpace(b)
	if len(b) <= 308 && !bytes.ContainsAny(b, "eE") {
		return true
	}
	_, err = strconv.ParseFloat(p.view(b), 64)
	return err == nil
}

// freeObject checks an object value that the schema leaves free-form (only
// its type is checked) and returns its JSON text, from its opening brace
// to its closing one, as topLevelValues would slice it. It builds no map:
// the Event decodes the text when something reads it (lazyObject). The
// check is skip's, which is all encoding/json needs to accept it; strings
// are not unescaped, as an escaped lone surrogate, which the two libraries
// decode differently, is accepted by both and left to decodeObject.
func (p *fastParser) freeObject() ([]byte, bool) {
	if p.d.Next() != jx.Object {
		return nil, false
	}
	start := p.d // a jx.Decoder over bytes is a plain value: a copy is a bookmark
	if !p.skip() {
		return nil, false
	}
	// Read the same object again, now known to be well-formed and shallow
	// enough, for its text: jx does not tell where a value ends.
	p.d = start
	text, err := p.d.Raw()
	if err != nil {
		return nil, false
	}
	text = trimSpace(text)
	if p.owned && !p.inRaw(text) {
		// The event keeps the text as it is only if it is raw's own.
		text = bytes.Clone(text)
	}
	return text, true
}

// inRaw reports whether b is a slice of raw, by the same capacity and
// address reasoning as text.
func (p *fastParser) inRaw(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	off := cap(p.raw) - cap(b)
	return off >= 0 && off <= len(p.raw)-len(b) && &p.raw[off] == &b[0]
}

// object reads an object value into a map; of duplicate keys the last wins.
// It and value decode properties and traits on demand (decodeObject), not
// on the accept path.
func (p *fastParser) object() (map[string]any, bool) {
	it, err := p.d.ObjIter()
	if err != nil || !p.descend() {
		return nil, false
	}
	m := make(map[string]any)
	for it.Next() {
		k, ok := p.text(it.Key())
		if !ok {
			return nil, false
		}
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		m[k] = v
	}
	p.ascend()
	return m, it.Err() == nil
}

// value reads any value.
func (p *fastParser) value() (any, bool) {
	switch p.d.Next() {
	case jx.String:
		return p.str()
	case jx.Number:
		return p.number()
	case jx.Bool:
		b, err := p.d.Bool()
		return b, err == nil
	case jx.Null:
		return nil, p.d.Null() == nil
	case jx.Array:
		it, err := p.d.ArrIter()
		if err != nil || !p.descend() {
			return nil, false
		}
		a := make([]any, 0) // encoding/json's empty array is not nil
		for it.Next() {
			v, ok := p.value()
			if !ok {
				return nil, false
			}
			a = append(a, v)
		}
		p.ascend()
		return a, it.Err() == nil
	case jx.Object:
		return p.object()
	}
	return nil, false
}

// skip reads a value that the schema ignores. encoding/json decodes it all
// the same, so its syntax is checked and its numbers must fit a float64.
func (p *fastParser) skip() bool {
	switch p.d.Next() {
	case jx.Number:
		return p.checkNumber()
	case jx.Array:
		it, err := p.d.ArrIter()
		if err != nil || !p.descend() {
			return false
		}
		for it.Next() {
			if !p.skip() {
				return false
			}
		}
		p.ascend()
		return it.Err() == nil
	case jx.Object:
		it, err := p.d.ObjIter()
		if err != nil || !p.descend() {
			return false
		}
		for it.Next() {
			if !p.skip() {
				return false
			}
		}
		p.ascend()
		return it.Err() == nil
	}
	// A string, a literal, or garbage that Skip refuses.
	return p.d.Skip() == nil
}

// atEnd reports whether nothing but whitespace is left. A trailing object
// or array is refused before Skip could recurse into it, so that no input
// takes the fast path deeper than MaxDepth.
func (p *fastParser) atEnd() bool {
	if t := p.d.Next(); t == jx.Object || t == jx.Array {
		return false
	}
	return p.d.Skip() == io.EOF
}

// trimSpace drops the JSON whitespace that jx's Raw keeps before a value.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// hasReplacementChar reports whether b holds U+FFFD, EF BF BD in UTF-8.
func hasReplacementChar(b []byte) bool {
	return bytes.IndexByte(b, 0xEF) >= 0 && bytes.Contains(b, []byte("\uFFFD"))
}

// minRunes and maxRunes bound the length of s in code points, as JSON
// Schema counts it; the byte length settles most cases without counting.
func minRunes(s string, n int) bool {
	if len(s) < n {
		return false
	}
	return len(s) >= utf8.UTFMax*n || utf8.RuneCountInString(s) >= n
}

func maxRunes(s string, n int) bool {
	return len(s) <= n || utf8.RuneCountInString(s) <= n
}

// isPlainDateTime reports whether s is
//
//	YYYY-MM-DD(T|t)hh:mm:ss[.fraction](Z|z|+hh:mm|-hh:mm)
//
// with hours, minutes and seconds in range and no leap second: a subset of
// what the schema library's date-time format accepts, so that a string
// passing it, and parseRFC3339, is one that the reference accepts and
// parses the same. Anything rarer (a leap second) takes the reference path.
func isPlainDateTime(s string) bool {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return false
	}
	if !digitsAtMost(s[0:4], 9999) || s[4] != '-' || !digitsAtMost(s[5:7], 99) || s[7] != '-' || !digitsAtMost(s[8:10], 99) ||
		(s[10] != 'T' && s[10] != 't') ||
		!digitsAtMost(s[11:13], 23) || s[13] != ':' || !digitsAtMost(s[14:16], 59) || s[16] != ':' || !digitsAtMost(s[17:19], 59) {
		return false
	}
	rest := s[19:]
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z" || rest == "z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		return digitsAtMost(rest[1:3], 23) && digitsAtMost(rest[4:6], 59)
	}
	return false
}

// canonicalDateTime parses, without time.Parse, the form producers almost
// always send: "2006-01-02T15:04:05Z" with an optional fraction of one to
// nine digits. It reports false for anything else (an offset, a lowercase
// t or z, a leap second, a day past the month's end), which dateTime then
// reads the general way. Two timestamps per event made time.Parse about 2%
// of the collector's CPU. FuzzCanonicalDateTime holds it to the general way.
func canonicalDateTime(s string) (time.Time, bool) {
	n := len(s)
	if n < len("2006-01-02T15:04:05Z") || s[n-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoi(s[0:4])
	month, ok2 := atoi(s[5:7])
	day, ok3 := atoi(s[8:10])
	hour, ok4 := atoi(s[11:13])
	minute, ok5 := atoi(s[14:16])
	sec, ok6 := atoi(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : n-1]; frac != "" {
		digits := len(frac) - 1
		if frac[0] != '.' || digits < 1 || digits > 9 {
			return time.Time{}, false
		}
		f, ok := atoi(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 9 - digits {
			f *= 10
		}
		nsec = f
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// atoi reads s, all ASCII digits and at most nine of them.
func atoi(s string) (int, bool) {
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// daysIn is the number of days in month of year, proleptic Gregorian as
// the time package counts.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// digitsAtMost reports whether s is all ASCII digits, at most max in value.
func digitsAtMost(s string, max int) bool {
	v, ok := atoi(s)
	return ok && v <= max
}
