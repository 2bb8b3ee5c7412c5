// Command schemagen compiles schemas/event.v1.json into
// schemas/event_v1_gen.go: acceptV1, the accept path of Validator.Decode.
//
// It supports exactly the keywords the contract uses, and fails, naming
// each keyword or shape it cannot compile, on anything else: a schema
// change that the generated code would not enforce must break generation,
// not be skipped. Run it with `go generate ./schemas/`;
// TestGeneratedCodeUpToDate fails while the checked-in file differs from
// what it generates.
//
// What it compiles:
//   - the root: an object with properties, required, an anyOf of
//     {required, properties{k: string keywords}} alternatives, and an
//     if/then of the same shape;
//   - a property of type string, with const, enum, minLength, maxLength
//     (in code points) and format date-time;
//   - a property of type object, either free-form (no keywords but type),
//     checked and kept as its JSON text, which the Event decodes on
//     demand, or with properties and required of its own, decoded into a
//     struct;
//   - annotations ($schema, $id, title, description, $comment), ignored.
//
// The schema says what is valid, not where a value goes in an Event: that
// is the bindings table below, which must name every property of the
// schema and nothing else.
//
// The generated code calls a small runtime in schemas/fastpath.go
// (fastParser: strings, numbers, free-form objects, skipping) that decodes
// JSON exactly as encoding/json would, or reports that it cannot.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("schema", "event.v1.json", "the JSON Schema to compile")
	out := flag.String("out", "event_v1_gen.go", "the Go file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	code, err := generate(src, in)
	if err != nil {
		return err
	}
	return os.WriteFile(out, code, 0o644)
}

// binding says where a property's value goes. Expressions are Go code in
// the generated functions: e is the *Event, x the *extracted, and c the
// struct of the enclosing object for a property below the root.
type binding struct {
	to     string // receives the value; "" checks it and drops it
	has    string // date-time only: set to true when present
	raw    string // free-form object only: receives the JSON text, its only binding
	goType string // object with properties only: the struct type of to
}

// eventBindings maps each property's instance location to its place in the
// Event. Only this table, not the schema, knows the Go types, so a property
// added to the schema stops generation until it is given a place here.
func eventBindings() map[string]binding {
	return map[string]binding{
		"/schema_version":              {},
		"/event_id":                    {to: "e.EventID"},
		"/type":                        {to: "e.Type"},
		"/event":                       {to: "e.Event"},
		"/name":                        {to: "x.name"},
		"/user_id":                     {to: "e.UserID"},
		"/anonymous_id":                {to: "e.AnonymousID"},
		"/timestamp":                   {to: "x.timestamp", has: "x.hasTimestamp"},
		"/sent_at":                     {to: "x.sentAt", has: "x.hasSentAt"},
		"/properties":                  {raw: "x.rawProperties"},
		"/traits":                      {raw: "x.rawTraits"},
		"/context":                     {to: "e.Context", goType: "Context"},
		"/context/channel":             {to: "c.Channel"},
		"/context/campaign":            {to: "c.Campaign", goType: "Campaign"},
		"/context/campaign/name":       {to: "c.Name"},
		"/context/campaign/source":     {to: "c.Source"},
		"/context/campaign/medium":     {to: "c.Medium"},
		"/context/campaign/term":       {to: "c.Term"},
		"/context/campaign/content":    {to: "c.Content"},
		"/context/page":                {to: "c.Page", goType: "Page"},
		"/context/page/path":           {to: "c.Path"},
		"/context/page/url":            {to: "c.URL"},
		"/context/page/title":          {to: "c.Title"},
		"/context/referrer":            {to: "c.Referrer"},
		"/context/device":              {to: "c.Device", goType: "Device"},
		"/context/device/type":         {to: "c.Type"},
		"/context/device/os":           {to: "c.OS"},
		"/context/device/manufacturer": {to: "c.Manufacturer"},
		"/context/locale":              {to: "c.Locale"},
	}
}

// generate returns the Go source compiled from the schema src; name is the
// file name quoted in the generated header.
func generate(src []byte, name string) ([]byte, error) {
	doc, err := parseOrdered(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := compiler{bindings: eventBindings(), used: map[string]bool{}}
	root := c.node(doc, "#", "", declared)
	if root != nil {
		c.root(root)
	}
	for inst := range c.bindings {
		if !c.used[inst] {
			c.errorf("bindings: %s names no property of the schema", inst)
		}
	}
	if len(c.errs) > 0 {
		slices.Sort(c.errs)
		return nil, fmt.Errorf("%s cannot be compiled:\n  %s", name, strings.Join(c.errs, "\n  "))
	}
	g := emitter{bindings: c.bindings}
	g.file(root, name)
	code, err := format.Source(g.buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated code: %w\n%s", err, g.buf.Bytes())
	}
	return code, nil
}

// node is one compiled schema object.
type node struct {
	ptr  string // schema location, "#/properties/context"
	inst string // instance location, "/context"; "" for the root
	typ  string // "string", "object", or "" in an anyOf alternative and if/then

	// string keywords
	constVal             *string
	enum                 []string
	minLength, maxLength int // -1 when absent
	format               string

	// object keywords
	required []string
	props    []*node // in schema order
	propName []string

	// root only
	anyOf      []*node
	ifS, thenS *node
}

func (n *node) prop(name string) *node {
	if i := slices.Index(n.propName, name); i >= 0 {
		return n.props[i]
	}
	return nil
}

func (n *node) freeForm() bool {
	return n.typ == "object" && len(n.props) == 0 && len(n.required) == 0
}

func (n *node) hasStringKeywords() bool {
	return n.constVal != nil || n.enum != nil || n.minLength >= 0 || n.maxLength >= 0 || n.format != ""
}

type compiler struct {
	bindings map[string]binding
	errs     []string
	used     map[string]bool // bindings that a property claimed
}

func (c *compiler) errorf(f string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(f, args...))
}

// plainName reports whether a property name can be used as it is in JSON
// pointers, Go identifiers and Go string literals.
func plainName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// mode says where a schema object is.
type mode int

const (
	declared   mode = iota // the root, or a property declared under it
	combinator             // an anyOf alternative, if or then
	constraint             // a property of a combinator: it constrains a declared one
)

// node compiles the schema object v at ptr.
func (c *compiler) node(v any, ptr, inst string, md mode) *node {
	obj, ok := v.(object)
	if !ok {
		c.errorf("%s: a schema must be an object here (boolean schemas are not supported)", ptr)
		return nil
	}
	n := &node{ptr: ptr, inst: inst, minLength: -1, maxLength: -1}
	for _, m := range obj {
		at := ptr + "/" + m.key
		switch m.key {
		case "$schema", "$id", "title", "description", "$comment":
			// Annotations: they change nothing that is validated.
		case "type":
			s, ok := m.val.(string)
			if !ok || (s != "string" && s != "object") {
				c.errorf(`%s: only "type": "string" or "object" is supported`, at)
				continue
			}
			n.typ = s
		case "const":
			s, ok := m.val.(string)
			if !ok {
				c.errorf("%s: only a string const is supported", at)
				continue
			}
			n.constVal = &s
		case "enum":
			arr, ok := m.val.([]any)
			if !ok || len(arr) == 0 {
				c.errorf("%s: enum must be a non-empty array", at)
				continue
			}
			n.enum = []string{}
			for _, e := range arr {
				s, ok := e.(string)
				if !ok {
					c.errorf("%s: only string enum values are supported", at)
					break
				}
				n.enum = append(n.enum, s)
			}
		case "minLength", "maxLength":
			num, ok := m.val.(json.Number)
			i, err := strconv.Atoi(string(num))
			if !ok || err != nil || i < 0 {
				c.errorf("%s: must be a non-negative integer", at)
				continue
			}
			if m.key == "minLength" {
				n.minLength = i
			} else {
				n.maxLength = i
			}
		case "format":
			if m.val != "date-time" {
				c.errorf(`%s: only "format": "date-time" is supported, got %v`, at, m.val)
				continue
			}
			n.format = "date-time"
		case "required":
			arr, ok := m.val.([]any)
			if !ok {
				c.errorf("%s: required must be an array of names", at)
				continue
			}
			for _, e := range arr {
				s, ok := e.(string)
				if !ok || slices.Contains(n.required, s) {
					c.errorf("%s: required must hold distinct names", at)
					break
				}
				n.required = append(n.required, s)
			}
		case "properties":
			props, ok := m.val.(object)
			if !ok {
				c.errorf("%s: properties must be an object", at)
				continue
			}
			for _, p := range props {
				if !plainName(p.key) {
					c.errorf("%s: property name %q is not supported: only letters, digits and _", at, p.key)
					continue
				}
				var sub *node
				if md == declared {
					sub = c.node(p.val, at+"/"+p.key, inst+"/"+p.key, declared)
				} else {
					sub = c.node(p.val, at+"/"+p.key, "", constraint)
				}
				if sub != nil {
					n.props = append(n.props, sub)
					n.propName = append(n.propName, p.key)
				}
			}
		case "anyOf":
			arr, ok := m.val.([]any)
			if !ok || len(arr) == 0 || inst != "" || md != declared {
				c.errorf("%s: only a non-empty anyOf at the root is supported", at)
				continue
			}
			for i, alt := range arr {
				if a := c.node(alt, fmt.Sprintf("%s/%d", at, i), inst, combinator); a != nil {
					n.anyOf = append(n.anyOf, a)
				}
			}
		case "if", "then":
			if inst != "" || md != declared {
				c.errorf("%s: only if/then at the root is supported", at)
				continue
			}
			s := c.node(m.val, at, inst, combinator)
			if m.key == "if" {
				n.ifS = s
			} else {
				n.thenS = s
			}
		default:
			c.errorf("%s: keyword %q is not supported by schemagen", at, m.key)
		}
	}
	switch md {
	case combinator:
		if n.typ != "" || n.hasStringKeywords() {
			c.errorf("%s: only required and properties are supported in an anyOf alternative or if/then", ptr)
		}
	case constraint:
		if n.typ != "" || n.format != "" || len(n.props) > 0 || len(n.required) > 0 {
			c.errorf("%s: only const, enum, minLength and maxLength are supported in a property of an anyOf alternative or if/then", ptr)
		}
	default:
		c.shape(n)
	}
	return n
}

// shape checks a declared node: its type, the keywords that type allows,
// and its binding.
func (c *compiler) shape(n *node) {
	switch n.typ {
	case "":
		c.errorf(`%s: a declared schema needs "type"`, n.ptr)
	case "string":
		if len(n.props) > 0 || len(n.required) > 0 {
			c.errorf("%s: properties or required on a string", n.ptr)
		}
	case "object":
		if n.hasStringKeywords() {
			c.errorf("%s: string keywords on an object", n.ptr)
		}
		for _, r := range n.required {
			if n.prop(r) == nil {
				c.errorf("%s/required: %q is not a declared property; only declared properties can be required", n.ptr, r)
			}
		}
		if len(n.props) > 64 {
			c.errorf("%s: more than 64 properties", n.ptr)
		}
	}
	if n.inst == "" {
		if n.typ != "object" {
			c.errorf(`%s: the root must have "type": "object"`, n.ptr)
		}
		return
	}
	b, ok := c.bindings[n.inst]
	if !ok {
		c.errorf("%s: property %s has no entry in schemagen's bindings", n.ptr, n.inst)
		return
	}
	c.used[n.inst] = true
	switch {
	case n.typ == "string" && n.format != "":
		if b.to == "" || b.has == "" || b.raw != "" || b.goType != "" {
			c.errorf("bindings: %s is a date-time: it needs to (a time.Time) and has (a bool) only", n.inst)
		}
	case n.typ == "string":
		if b.has != "" || b.raw != "" || b.goType != "" {
			c.errorf("bindings: %s is a string: it takes to (a string) only", n.inst)
		}
	case n.freeForm():
		if b.to != "" || b.raw == "" || b.has != "" || b.goType != "" {
			c.errorf("bindings: %s is a free-form object: it takes raw (a []byte) only", n.inst)
		}
	default:
		if b.to == "" || b.goType == "" || b.has != "" || b.raw != "" {
			c.errorf("bindings: %s is an object with properties: it needs to (a struct) and goType only", n.inst)
		}
	}
}

// root checks what the anyOf alternatives and if/then may refer to.
func (c *compiler) root(n *node) {
	subs := slices.Clone(n.anyOf)
	if (n.ifS == nil) != (n.thenS == nil) {
		c.errorf("%s: if and then must come together (else is not supported)", n.ptr)
	} else if n.ifS != nil {
		subs = append(subs, n.ifS, n.thenS)
	}
	for _, s := range subs {
		for _, r := range s.required {
			if n.prop(r) == nil {
				c.errorf("%s/required: %q is not a property declared at the root", s.ptr, r)
			}
		}
		for _, name := range s.propName {
			d := n.prop(name)
			switch {
			case d == nil || d.typ != "string":
				c.errorf("%s/properties/%s: only string properties declared at the root can be constrained here", s.ptr, name)
			case d.format != "":
				c.errorf("%s/properties/%s: constraints on a date-time are not supported here", s.ptr, name)
			case c.bindings[d.inst].to == "":
				c.errorf("%s/properties/%s: a property constrained here needs a binding with to", s.ptr, name)
			}
		}
	}
}

// emitter writes the generated file.
type emitter struct {
	bindings map[string]binding
	buf      bytes.Buffer
	funcs    []*node // objects with properties still to emit
}

func (g *emitter) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, format, args...)
	g.buf.WriteByte('\n')
}

func (g *emitter) file(root *node, name string) {
	g.p("// Code generated by schemagen from %s. DO NOT EDIT.", name)
	g.p("")
	g.p("package schemas")
	g.p("")
	g.object(root)
	for len(g.funcs) > 0 {
		n := g.funcs[0]
		g.funcs = g.funcs[1:]
		g.object(n)
	}
}

// funcName is acceptV1 for the root, acceptV1Context for /context, ...
func funcName(n *node) string {
	return "acceptV1" + goName(n.inst)
}

// goName turns an instance location into a Go identifier part:
// "/context/user_id" → "ContextUserID".
func goName(inst string) string {
	var b strings.Builder
	for _, seg := range strings.FieldsFunc(inst, func(r rune) bool { return r == '/' || r == '_' || r == '-' }) {
		switch seg {
		case "id", "url", "os":
			b.WriteString(strings.ToUpper(seg))
		default:
			b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
		}
	}
	return b.String()
}

func (g *emitter) object(n *node) {
	fn := funcName(n)
	bit := func(name string) string { return "v1" + goName(n.inst+"/"+name) }
	seenType := "uint8"
	switch {
	case len(n.props) > 32:
		seenType = "uint64"
	case len(n.props) > 16:
		seenType = "uint32"
	case len(n.props) > 8:
		seenType = "uint16"
	}

	if len(n.props) > 0 {
		g.p("// %s's seen bits, one per property of %s.", fn, n.ptr)
		g.p("const (")
		for i, name := range n.propName {
			if i == 0 {
				g.p("%s %s = 1 << iota", bit(name), seenType)
			} else {
				g.p("%s", bit(name))
			}
		}
		g.p(")")
		g.p("")
	}

	if n.inst == "" {
		g.p("// %s checks and decodes an event in one pass, as event.v1.json and", fn)
		g.p("// build would. It returns false when the event is invalid and also when")
		g.p("// it is valid but the pass cannot be certain of decoding it exactly as")
		g.p("// encoding/json does; Decode then asks the reference decoder. A known")
		g.p("// key seen twice is such a case, at every level: encoding/json keeps the")
		g.p("// last value, and the schema judges only that one.")
		g.p("func %s(p *fastParser, e *Event, x *extracted) bool {", fn)
	} else {
		b := g.bindings[n.inst]
		g.p("// %s checks and decodes %s.", fn, n.ptr)
		g.p("func %s(p *fastParser, c *%s) bool {", fn, b.goType)
	}
	g.p("it, err := p.d.ObjIter()")
	g.p("if err != nil || !p.descend() {")
	g.p("return false")
	g.p("}")
	if len(n.props) > 0 {
		g.p("var seen %s", seenType)
	}
	g.p("for it.Next() {")
	g.p("switch string(it.Key()) {")
	for i, name := range n.propName {
		sub := n.props[i]
		b := g.bindings[sub.inst]
		g.p("case %q: // %s", name, sub.ptr)
		g.p("if seen&%s != 0 {", bit(name))
		g.p("return false")
		g.p("}")
		g.p("seen |= %s", bit(name))
		switch {
		case sub.typ == "string":
			checks := stringChecks("s", sub)
			if b.to == "" && len(checks) == 0 {
				g.p("if _, ok := p.str(); !ok {")
				g.p("return false")
				g.p("}")
				break
			}
			g.p("s, ok := p.str()")
			if len(checks) > 0 {
				g.p("if !ok || !(%s) {", strings.Join(checks, " && "))
			} else {
				g.p("if !ok {")
			}
			g.p("return false")
			g.p("}")
			switch {
			case sub.format != "":
				g.p("t, ok := dateTime(s)")
				g.p("if !ok {")
				g.p("return false")
				g.p("}")
				g.p("%s, %s = t, true", b.to, b.has)
			case b.to != "":
				g.p("%s = s", b.to)
			}
		case sub.freeForm():
			g.p("text, ok := p.freeObject()")
			g.p("if !ok {")
			g.p("return false")
			g.p("}")
			g.p("%s = text", b.raw)
		default:
			g.p("if !%s(p, &%s) {", funcName(sub), b.to)
			g.p("return false")
			g.p("}")
			g.funcs = append(g.funcs, sub)
		}
	}
	g.p("default:")
	g.p("if !p.skip() {")
	g.p("return false")
	g.p("}")
	g.p("}")
	g.p("}")
	g.p("if it.Err() != nil {")
	g.p("return false")
	g.p("}")
	g.p("p.ascend()")
	if len(n.required) > 0 {
		var bits []string
		for _, r := range n.required {
			bits = append(bits, bit(r))
		}
		all := strings.Join(bits, "|")
		g.p("// %s/required", n.ptr)
		g.p("if seen&(%s) != %s {", all, all)
		g.p("return false")
		g.p("}")
	}
	if len(n.anyOf) > 0 {
		var alts []string
		for _, a := range n.anyOf {
			alts = append(alts, g.cond(n, a))
		}
		g.p("// %s/anyOf", n.ptr)
		g.p("if !(%s) {", strings.Join(alts, " ||\n"))
		g.p("return false")
		g.p("}")
	}
	if n.ifS != nil {
		g.p("// %s/if, %s/then", n.ptr, n.ptr)
		g.p("if %s {", g.cond(n, n.ifS))
		g.p("if !(%s) {", g.cond(n, n.thenS))
		g.p("return false")
		g.p("}")
		g.p("}")
	}
	g.p("return true")
	g.p("}")
	g.p("")
}

// cond renders a subschema of required and properties as a Go condition on
// the root's seen bits and bound values. A property constraint applies only
// when the property is present.
func (g *emitter) cond(root, s *node) string {
	var terms []string
	for _, r := range s.required {
		terms = append(terms, fmt.Sprintf("seen&%s != 0", "v1"+goName("/"+r)))
	}
	for i, name := range s.propName {
		decl := root.prop(name)
		checks := stringChecks(g.bindings[decl.inst].to, s.props[i])
		if len(checks) == 0 {
			continue
		}
		t := strings.Join(checks, " && ")
		if !slices.Contains(s.required, name) {
			t = fmt.Sprintf("(seen&%s == 0 || %s)", "v1"+goName("/"+name), t)
		}
		terms = append(terms, t)
	}
	if len(terms) == 0 {
		return "true"
	}
	return strings.Join(terms, " && ")
}

// stringChecks renders the string keywords of n as conditions on the Go
// string expression v.
func stringChecks(v string, n *node) []string {
	var cs []string
	if n.constVal != nil {
		cs = append(cs, fmt.Sprintf("%s == %q", v, *n.constVal))
	}
	if n.enum != nil {
		var alts []string
		for _, e := range n.enum {
			alts = append(alts, fmt.Sprintf("%s == %q", v, e))
		}
		cs = append(cs, "("+strings.Join(alts, " || ")+")")
	}
	if n.minLength >= 0 {
		cs = append(cs, fmt.Sprintf("minRunes(%s, %d)", v, n.minLength))
	}
	if n.maxLength >= 0 {
		cs = append(cs, fmt.Sprintf("maxRunes(%s, %d)", v, n.maxLength))
	}
	return cs
}

// object is a JSON object with its members in document order, so that the
// generated code follows the schema.
type object []member

type member struct {
	key string
	val any
}

// parseOrdered decodes one JSON document, keeping object member order;
// numbers stay json.Number. A duplicate key is an error: which one a
// validator honours is not something to leave to chance.
func parseOrdered(src []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the schema")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		var obj object
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string)
			if slices.ContainsFunc(obj, func(m member) bool { return m.key == k }) {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{k, v})
		}
		_, err := dec.Token()
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token()
		return arr, err
	}
	return tok, nil
}
