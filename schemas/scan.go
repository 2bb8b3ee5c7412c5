package schemas

import (
	"bytes"
	"encoding/json"
)

// depthExceeded returns the offset of the first '{' or '[' that nests deeper
// than max, or -1. It runs before any parse, on input that may not be JSON,
// so it only needs to skip strings correctly: brackets inside a string do not
// nest, and a `\"` does not end one. Garbage is left to the parser.
func depthExceeded(raw []byte, max int) int {
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			i = stringEnd(raw, i)
		case '{', '[':
			depth++
			if depth > max {
				return i
			}
		case '}', ']':
			depth--
		}
	}
	return -1
}

// stringEnd returns the offset of the quote that closes the string opened at
// raw[open], or len(raw)-1 when it is unterminated. (A bytes.IndexByte jump
// from quote to quote measured no faster: event strings are short.)
func stringEnd(raw []byte, open int) int {
	for i := open + 1; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(raw) - 1
}

// topLevelValues finds the JSON text of the values of the top-level keys
// "properties" and "traits" in raw, which must be one valid JSON object, as
// encoding/json has already confirmed. Like encoding/json, the last of
// duplicate keys wins. Slicing the input is both cheaper than re-encoding the
// decoded maps and exact: numbers keep their digits, keys their order.
//
// ok is false if raw turns out not to be an object; the caller then falls
// back to encoding the decoded maps.
func topLevelValues(raw []byte) (props, traits []byte, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, nil, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil, nil, true
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return nil, nil, false
		}
		end := stringEnd(raw, i)
		key := raw[i : end+1]
		i = skipSpace(raw, end+1)
		if i >= len(raw) || raw[i] != ':' {
			return nil, nil, false
		}
		start := skipSpace(raw, i+1)
		stop := valueEnd(raw, start)
		if stop <= start {
			return nil, nil, false
		}
		switch whichKey(key) {
		case propertiesKey:
			props = raw[start:stop]
		case traitsKey:
			traits = raw[start:stop]
		}
		i = skipSpace(raw, stop)
		if i >= len(raw) {
			return nil, nil, false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return props, traits, true
		default:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

const (
	otherKey = iota
	propertiesKey
	traitsKey
)

// whichKey classifies a top-level key given with its quotes. Escapes in keys
// are rare, so only then does it pay for encoding/json's unquoting (which,
// unlike strconv.Unquote, knows JSON's escapes such as \/).
func whichKey(quoted []byte) int {
	name := quoted
	if bytes.IndexByte(quoted, '\\') >= 0 {
		var s string
		if json.Unmarshal(quoted, &s) != nil {
			return otherKey
		}
		name = []byte(`"` + s + `"`)
	}
	switch string(name) {
	case `"properties"`:
		return propertiesKey
	case `"traits"`:
		return traitsKey
	}
	return otherKey
}

// valueEnd returns the offset just past the JSON value starting at raw[i].
func valueEnd(raw []byte, i int) int {
	if i >= len(raw) {
		return i
	}
	switch raw[i] {
	case '"':
		return stringEnd(raw, i) + 1
	case '{', '[':
		depth := 0
		for ; i < len(raw); i++ {
			switch raw[i] {
			case '"':
				i = stringEnd(raw, i)
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number, true, false, null
		for ; i < len(raw); i++ {
			switch raw[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
