package schemas

import (
	"encoding/json"
	"unicode/utf8"
)

// Object is one of an event's free-form objects, properties or traits, as
// a value to read it through: the JSON text and the decoded map if the
// event had it. Reads decode into the Object, not into the Event it came
// from, so an Object can be kept where a pointer to the Event would make
// the Event escape to the heap (enrich's rule environment).
type Object struct {
	text []byte
	lazy lazyObject
}

// Map is Event.Properties or Event.Traits: the decoded object, nil when
// absent.
func (o *Object) Map() map[string]any { return o.lazy.get(o.text) }

// Get is Event.Property or Event.Trait: Map()[key] and whether the key is
// there, read from the text if Map has not been called.
func (o *Object) Get(key string) (any, bool) { return o.lazy.lookup(o.text, key) }

// lazyObject is the decoded value of a free-form object (properties,
// traits) whose JSON text the Event keeps. The zero value is the text's
// value, decoded on first use.
type lazyObject struct {
	m       map[string]any
	decoded bool // m is the value; else it is to be decoded from the text
}

// get returns the decoded object, decoding text on first use.
func (o *lazyObject) get(text []byte) map[string]any {
	if !o.decoded {
		o.m, o.decoded = decodeObject(text), true
	}
	return o.m
}

// lookup is get(text)[key]. Until the object is decoded it reads the one
// key from text: a rule reads a key or two of an object, and scanning the
// object's keys costs less than building its map (BenchmarkObjectLookup).
// The scan keeps nothing, so a later read scans again.
func (o *lazyObject) lookup(text []byte, key string) (any, bool) {
	if o.decoded {
		v, ok := o.m[key]
		return v, ok
	}
	if v, found, sure := lookupKey(text, key); sure {
		return v, found
	}
	v, ok := o.get(text)[key]
	return v, ok
}

// decodeObject decodes the JSON object text as encoding/json decodes it
// into an any. The text is usually one Decode accepted (or its
// re-encoding), so the fast parser takes it unless it holds what only
// encoding/json may decode (an escaped lone surrogate); then, as for any
// text set by hand that the fast parser declines, encoding/json does. A
// text that is not an object, or no text, gives nil.
func decodeObject(text []byte) map[string]any {
	if len(text) == 0 {
		return nil
	}
	// jx passes invalid UTF-8 through, which encoding/json replaces.
	if utf8.Valid(text) {
		var p fastParser
		// One copy of the text, shared by every string of the map, so
		// that they do not alias RawProperties, which the Event's owner
		// may change.
		p.reset(text, maxParserDepth, false)
		if m, ok := p.object(); ok && p.atEnd() {
			return m
		}
	}
	var m map[string]any
	if json.Unmarshal(text, &m) != nil {
		return nil
	}
	return m
}

// lookupKey finds key among the top-level members of the JSON object text
// and decodes its value as encoding/json would; of duplicate keys the last
// wins, as in the map. The other values are skipped, but checked as the
// accept path checks them, so that a text decodeObject would refuse gives
// no value either. sure is false when lookupKey cannot be certain of
// decoding as encoding/json does: a key or the value holds an escape that
// the two libraries decode differently (see fastParser), or the text is
// not one the fast parser takes.
func lookupKey(text []byte, key string) (v any, found, sure bool) {
	switch {
	case len(text) == 0:
		return nil, false, true // no object, as in decodeObject
	case !utf8.Valid(text):
		return nil, false, false // as in decodeObject
	}
	var p fastParser
	p.resetDetached(text, maxParserDepth)
	it, err := p.d.ObjIter()
	if err != nil || !p.descend() {
		return nil, false, false
	}
	for it.Next() {
		k := it.Key()
		if !p.inRaw(k) && hasReplacementChar(k) {
			// Unescaped by jx, which may not read a lone surrogate as
			// encoding/json does: this key may be key, or another may.
			return nil, false, false
		}
		if string(k) != key {
			if !p.skip() {
				return nil, false, false
			}
			continue
		}
		if v, sure = p.value(); !sure {
			return nil, false, false
		}
		found = true
	}
	if it.Err() != nil || !p.atEnd() {
		return nil, false, false
	}
	return v, found, true
}
