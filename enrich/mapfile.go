package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/journeys-analytics/journeys/schemas"
)

// The journey map is decoded by walking yaml.Node trees instead of
// unmarshalling into structs: yaml.v3's strict mode stops at the first kind of
// problem and names Go types, while a map author needs every problem at once,
// each with the path and line they can find in the file.

const (
	// maxStages bounds a journey's funnel; StageIndex is stored as UInt8.
	maxStages = 16
	// maxPersonas is what the per-customer uint8 persona index can address.
	maxPersonas = 255
	// maxRuleLen keeps expr's recursive-descent parser far from deep
	// recursion on hostile input; real rules are a line or two.
	maxRuleLen = 4096

	defaultConversionWindow = 720 * time.Hour
)

// nameRE is the shape of every persona, journey, stage and touchpoint name:
// they become Prometheus label values and ClickHouse LowCardinality values,
// so they must stay a small, clean set.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// mapNameRE is looser than nameRE because the map name is not a label value
// (the example is "acme-saas"); it prefixes the version, so it must not
// contain '@'.
var mapNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// mapFile is a decoded journey map whose structure has been checked; rules
// are not compiled yet. Values that had problems are left zero.
type mapFile struct {
	name           string
	defaultPersona string
	personas       []personaFile
	journeys       []journeyFile
}

type personaFile struct {
	path        string
	name        string
	priority    int
	description string
	when        string
	whenLine    int
}

type journeyFile struct {
	name             string
	description      string
	conversionWindow time.Duration
	stages           []stageFile
}

type stageFile struct {
	name        string
	touchpoints []touchpointFile
}

type touchpointFile struct {
	path     string
	name     string
	events   []string
	typ      string
	when     string
	whenLine int
	negative bool
}

// problem is one thing wrong with a journey map. Its text starts with the
// path of the offending value so that a list of them reads like a report.
type problem struct {
	path string
	line int
	msg  string
}

func (p *problem) Error() string {
	var b strings.Builder
	if p.path != "" {
		b.WriteString(p.path)
		b.WriteString(": ")
	}
	if p.line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.line)
	}
	b.WriteString(p.msg)
	return b.String()
}

type decoder struct {
	problems []error
}

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, &problem{path: path, line: line, msg: fmt.Sprintf(format, args...)})
}

// decodeMap checks the structure of data and returns what it could decode
// together with every structural problem found.
func decodeMap(data []byte) (mapFile, []error) {
	var (
		d  decoder
		mf mapFile
	)
	if root := d.document(data); root != nil {
		d.root(root, &mf)
	}
	return mf, d.problems
}

// document parses data into a node tree. yaml.v3 has panicked on malformed
// input in the past; a journey map must never take the process down.
func (d *decoder) document(data []byte) (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil {
			d.fail("", nil, "yaml: cannot parse: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.fail("", nil, "empty journey map")
		} else {
			d.fail("", nil, "%v", err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			d.fail("", nil, "%v", err)
		} else {
			d.fail("", &extra, "a second YAML document; a journey map is a single document")
		}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		d.fail("", &doc, "empty journey map")
		return nil
	}
	return doc.Content[0]
}

// mapping returns the values of a mapping node by key, reporting keys that
// are unknown or repeated. It returns nil if n is not a mapping.
func (d *decoder) mapping(path string, n *yaml.Node, known ...string) map[string]*yaml.Node {
	n, ok := d.deref(path, n)
	if !ok || n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "want a mapping with keys %s, got %s", strings.Join(known, ", "), describe(n))
		return nil
	}
	fields := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k, "keys must be plain names, got %s", describe(k))
			continue
		}
		keyPath := join(path, k.Value)
		if !slices.Contains(known, k.Value) {
			d.fail(keyPath, k, "unknown key (want one of %s)", strings.Join(known, ", "))
			continue
		}
		if first, dup := fields[k.Value]; dup {
			d.fail(keyPath, k, "key repeated (first value on line %d)", first.Line)
			continue
		}
		fields[k.Value] = v
	}
	return fields
}

// sequence returns the items of a sequence node; a missing or null value
// yields no items and no problem: the caller decides whether emptiness is
// wrong. ok is false if a problem was reported.
func (d *decoder) sequence(path string, n *yaml.Node) (items []*yaml.Node, ok bool) {
	n, ok = d.deref(path, n)
	if !ok || n == nil || isNull(n) {
		return nil, ok
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n, "want a list, got %s", describe(n))
		return nil, false
	}
	return n.Content, true
}

// deref resolves aliases to scalars. Aliases to lists or mappings are
// refused: every name in a map must be unique, so repeating a touchpoint or
// a stage is always a mistake, and expanding nested aliases is how YAML
// bombs blow up.
func (d *decoder) deref(path string, n *yaml.Node) (*yaml.Node, bool) {
	if n == nil || n.Kind != yaml.AliasNode {
		return n, true
	}
	if n.Alias == nil || n.Alias.Kind != yaml.ScalarNode {
		d.fail(path, n, "aliases are only allowed for single values")
		return nil, false
	}
	return n.Alias, true
}

// scalar returns the text of a scalar; missing and null values read as "".
// ok is false if a problem was reported.
func (d *decoder) scalar(path string, n *yaml.Node) (string, bool) {
	n, ok := d.deref(path, n)
	if !ok {
		return "", false
	}
	if n == nil || isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n, "want a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// name returns a required name and checks its shape.
func (d *decoder) name(path string, parent, n *yaml.Node, re *regexp.Regexp) string {
	if n == nil {
		d.fail(path, parent, "required")
		return ""
	}
	s, ok := d.scalar(path, n)
	switch {
	case !ok:
	case s == "":
		d.fail(path, n, "must not be empty")
	case !re.MatchString(s):
		d.fail(path, n, "%q is not a valid name (want %s)", truncate(s, 80), re)
		return ""
	}
	return s
}

func (d *decoder) integer(path string, n *yaml.Node) (int, bool) {
	n, ok := d.deref(path, n)
	if !ok || n == nil {
		return 0, false
	}
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.fail(path, n, "want an integer, got %s", describe(n))
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(path string, n *yaml.Node) bool {
	n, ok := d.deref(path, n)
	if !ok || n == nil || isNull(n) {
		return false
	}
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.fail(path, n, "want true or false, got %s", describe(n))
		return false
	}
	return v
}

// rule returns the source of an optional expr rule and the line it is on.
func (d *decoder) rule(path string, n *yaml.Node) (string, int) {
	if n == nil {
		return "", 0
	}
	s, ok := d.scalar(path, n)
	switch {
	case !ok:
		return "", 0
	case strings.TrimSpace(s) == "":
		d.fail(path, n, "must not be empty")
		return "", 0
	case len(s) > maxRuleLen:
		d.fail(path, n, "rule is %d bytes long, at most %d allowed", len(s), maxRuleLen)
		return "", 0
	}
	return s, n.Line
}

func (d *decoder) root(n *yaml.Node, mf *mapFile) {
	f := d.mapping("", n, "name", "default_persona", "personas", "journeys")
	if f == nil {
		return
	}
	mf.name = d.name("name", n, f["name"], mapNameRE)
	mf.defaultPersona = d.name("default_persona", n, f["default_persona"], nameRE)

	personas, _ := d.sequence("personas", f["personas"])
	if len(personas) > maxPersonas {
		d.fail("personas", f["personas"], "%d personas, at most %d allowed", len(personas), maxPersonas)
	}
	firstName := map[string]string{}
	firstPriority := map[int]string{}
	for i, pn := range personas {
		path := fmt.Sprintf("personas[%d]", i)
		p, hasPriority := d.persona(path, pn)
		if p.name != "" {
			if prev, dup := firstName[p.name]; dup {
				d.fail(path+".name", pn, "persona %q is already defined at %s", p.name, prev)
			} else {
				firstName[p.name] = path
			}
			if p.name == mf.defaultPersona {
				d.fail(path+".name", pn, "%q is also the default_persona, which is for customers no persona matched", p.name)
			}
		}
		if hasPriority {
			if prev, dup := firstPriority[p.priority]; dup {
				d.fail(path+".priority", pn, "priority %d is also used by %s; which persona wins would be ambiguous", p.priority, prev)
			} else {
				firstPriority[p.priority] = path
			}
		}
		mf.personas = append(mf.personas, p)
	}

	journeys, ok := d.sequence("journeys", f["journeys"])
	if ok && len(journeys) == 0 {
		d.fail("journeys", orNode(f["journeys"], n), "no journeys; a journey map needs at least one")
	}
	firstJourney := map[string]string{}
	firstTouchpoint := map[string]string{}
	for i, jn := range journeys {
		path := fmt.Sprintf("journeys[%d]", i)
		j := d.journey(path, jn, firstTouchpoint)
		if j.name != "" {
			if prev, dup := firstJourney[j.name]; dup {
				d.fail(path+".name", jn, "journey %q is already defined at %s", j.name, prev)
			} else {
				firstJourney[j.name] = path
			}
		}
		mf.journeys = append(mf.journeys, j)
	}
}

func (d *decoder) persona(path string, n *yaml.Node) (p personaFile, hasPriority bool) {
	p.path = path
	f := d.mapping(path, n, "name", "priority", "description", "when")
	if f == nil {
		return p, false
	}
	p.name = d.name(path+".name", n, f["name"], nameRE)
	if f["priority"] == nil {
		d.fail(path+".priority", n, "required: personas are tried highest priority first")
	} else {
		p.priority, hasPriority = d.integer(path+".priority", f["priority"])
	}
	p.description, _ = d.scalar(path+".description", f["description"])
	if f["when"] == nil {
		d.fail(path+".when", n, "required: a persona without a rule never matches")
	}
	p.when, p.whenLine = d.rule(path+".when", f["when"])
	return p, hasPriority
}

func (d *decoder) journey(path string, n *yaml.Node, firstTouchpoint map[string]string) journeyFile {
	j := journeyFile{conversionWindow: defaultConversionWindow}
	f := d.mapping(path, n, "name", "description", "conversion_window", "stages")
	if f == nil {
		return j
	}
	j.name = d.name(path+".name", n, f["name"], nameRE)
	j.description, _ = d.scalar(path+".description", f["description"])
	if w := f["conversion_window"]; w != nil {
		if s, ok := d.scalar(path+".conversion_window", w); ok && s != "" {
			dur, err := time.ParseDuration(s)
			switch {
			case err != nil:
				d.fail(path+".conversion_window", w, "want a duration such as 720h, got %q", truncate(s, 40))
			case dur <= 0:
				d.fail(path+".conversion_window", w, "must be positive, got %s", s)
			default:
				j.conversionWindow = dur
			}
		}
	}

	stages, ok := d.sequence(path+".stages", f["stages"])
	switch {
	case ok && len(stages) == 0:
		d.fail(path+".stages", orNode(f["stages"], n), "no stages; a journey needs at least one")
	case len(stages) > maxStages:
		d.fail(path+".stages", f["stages"], "%d stages, at most %d allowed", len(stages), maxStages)
	}
	firstStage := map[string]string{}
	for i, sn := range stages {
		spath := fmt.Sprintf("%s.stages[%d]", path, i)
		s := d.stage(spath, sn, firstTouchpoint)
		if s.name != "" {
			if prev, dup := firstStage[s.name]; dup {
				d.fail(spath+".name", sn, "stage %q is already defined at %s", s.name, prev)
			} else {
				firstStage[s.name] = spath
			}
		}
		j.stages = append(j.stages, s)
	}
	return j
}

func (d *decoder) stage(path string, n *yaml.Node, firstTouchpoint map[string]string) stageFile {
	var s stageFile
	f := d.mapping(path, n, "name", "touchpoints")
	if f == nil {
		return s
	}
	s.name = d.name(path+".name", n, f["name"], nameRE)
	tps, ok := d.sequence(path+".touchpoints", f["touchpoints"])
	if ok && len(tps) == 0 {
		d.fail(path+".touchpoints", orNode(f["touchpoints"], n), "no touchpoints; a stage needs at least one")
	}
	for i, tn := range tps {
		tpath := fmt.Sprintf("%s.touchpoints[%d]", path, i)
		t := d.touchpoint(tpath, tn)
		if t.name != "" {
			// Unique across the whole map, not only the stage, because
			// aggregates and dashboards address touchpoints by name alone.
			if prev, dup := firstTouchpoint[t.name]; dup {
				d.fail(tpath+".name", tn, "touchpoint %q is already defined at %s", t.name, prev)
			} else {
				firstTouchpoint[t.name] = tpath
			}
		}
		s.touchpoints = append(s.touchpoints, t)
	}
	return s
}

func (d *decoder) touchpoint(path string, n *yaml.Node) touchpointFile {
	t := touchpointFile{path: path}
	f := d.mapping(path, n, "name", "event", "type", "when", "negative", "description")
	if f == nil {
		return t
	}
	t.name = d.name(path+".name", n, f["name"], nameRE)
	_, _ = d.scalar(path+".description", f["description"])
	t.negative = d.boolean(path+".negative", f["negative"])
	t.events = d.events(path+".event", f["event"])

	if tn := f["type"]; tn != nil {
		typ, ok := d.scalar(path+".type", tn)
		switch typ {
		case schemas.TypeTrack, schemas.TypeIdentify, schemas.TypePage:
			t.typ = typ
		default:
			if ok {
				d.fail(path+".type", tn, "want %s, %s or %s, got %q", schemas.TypeTrack, schemas.TypeIdentify, schemas.TypePage, truncate(typ, 40))
			}
		}
	}

	t.when, t.whenLine = d.rule(path+".when", f["when"])

	if f["event"] == nil && f["type"] == nil && f["when"] == nil {
		d.fail(path, n, "needs at least one of event, type, when; a touchpoint that matches every event would hide all touchpoints after it")
	}
	return t
}

// events decodes a touchpoint's event condition: one name or a list of names.
func (d *decoder) events(path string, n *yaml.Node) []string {
	n, ok := d.deref(path, n)
	if !ok || n == nil {
		return nil
	}
	items := []*yaml.Node{n}
	itemPath := func(int) string { return path }
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			d.fail(path, n, "empty list; leave event out to match any event")
		}
		items = n.Content
		itemPath = func(i int) string { return fmt.Sprintf("%s[%d]", path, i) }
	}
	var events []string
	for i, item := range items {
		s, ok := d.scalar(itemPath(i), item)
		switch {
		case !ok:
		case s == "":
			d.fail(itemPath(i), item, "must not be empty")
		default:
			events = append(events, s)
		}
	}
	return events
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), truncate(n.Value, 40))
	}
	return "an unexpected node"
}

// truncate keeps problem reports readable when a value is huge.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// orNode picks the node a "missing" problem should point at.
func orNode(n, parent *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return parent
}
