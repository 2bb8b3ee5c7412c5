package enrich

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Map is a loaded journey map with every rule compiled. It is immutable
// after Parse except for rule failure counters, and safe for concurrent use.
type Map struct {
	name           string
	version        string
	defaultPersona string

	// personas are in priority order, highest first; a customer's persona
	// is stored as its index here, so a lower index always wins.
	personas []persona
	journeys []JourneyDef

	touchpoints []touchpoint // file order
	// byEvent lists, for every event name some touchpoint names, the
	// touchpoints an event of that name can match, in file order.
	// anyEvent is that list for every other event name: the touchpoints
	// without an event condition.
	byEvent  map[string][]int32
	anyEvent []int32

	rules []*rule // every compiled rule, for Stats
}

type persona struct {
	def  PersonaDef
	rule *rule
}

type touchpoint struct {
	journey      string
	journeyIndex int32 // in journeys
	stage        string
	stageIndex   uint8
	name         string
	negative     bool
	typ          string // "" matches any type
	rule         *rule  // nil when the touchpoint has no when rule
}

// PersonaDef describes a persona of the map.
type PersonaDef struct {
	Name        string
	Priority    int
	Description string
}

// JourneyDef describes a journey of the map.
type JourneyDef struct {
	Name             string
	Description      string
	ConversionWindow time.Duration
	Stages           []StageDef
}

// StageDef describes a stage of a journey; Index is its 0-based position,
// the StageIndex of events tagged with it.
type StageDef struct {
	Name        string
	Index       int
	Touchpoints []TouchpointDef
}

// TouchpointDef describes a touchpoint of a stage.
type TouchpointDef struct {
	Name     string
	Negative bool
}

// Load reads the journey map at path and parses it.
func Load(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enrich: read journey map: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes, validates and compiles a journey map. source names data in
// errors (usually its path). On failure the error lists every problem found,
// one per line, each starting with the path of the offending value, and
// unwraps (errors.Join) to one error per problem.
func Parse(data []byte, source string) (*Map, error) {
	mf, problems := decodeMap(data)
	m := &Map{
		name:           mf.name,
		defaultPersona: mf.defaultPersona,
		byEvent:        map[string][]int32{},
	}
	compileRule := func(kind, name, path, src string, line int) *rule {
		if src == "" {
			return nil
		}
		prog, err := compile(src)
		if err != nil {
			problems = append(problems, &problem{path: path, line: line, msg: compileMessage(err)})
			return nil
		}
		r := &rule{kind: kind, name: name, program: prog}
		m.rules = append(m.rules, r)
		return r
	}

	for _, pf := range mf.personas {
		r := compileRule("persona", pf.name, pf.path+".when", pf.when, pf.whenLine)
		m.personas = append(m.personas, persona{
			def:  PersonaDef{Name: pf.name, Priority: pf.priority, Description: pf.description},
			rule: r,
		})
	}
	// Stable, so that the order is deterministic even for the duplicate
	// priorities that are reported as problems.
	slices.SortStableFunc(m.personas, func(a, b persona) int { return cmp.Compare(b.def.Priority, a.def.Priority) })

	for ji, jf := range mf.journeys {
		jd := JourneyDef{Name: jf.name, Description: jf.description, ConversionWindow: jf.conversionWindow}
		for si, sf := range jf.stages {
			sd := StageDef{Name: sf.name, Index: si}
			for _, tf := range sf.touchpoints {
				sd.Touchpoints = append(sd.Touchpoints, TouchpointDef{Name: tf.name, Negative: tf.negative})
				m.touchpoints = append(m.touchpoints, touchpoint{
					journey:      jf.name,
					journeyIndex: int32(ji),
					stage:        sf.name,
					stageIndex:   uint8(min(si, maxStages)),
					name:         tf.name,
					negative:     tf.negative,
					typ:          tf.typ,
					rule:         compileRule("touchpoint", tf.name, tf.path+".when", tf.when, tf.whenLine),
				})
			}
			jd.Stages = append(jd.Stages, sd)
		}
		m.journeys = append(m.journeys, jd)
	}

	if len(problems) > 0 {
		// Rule problems were found after the structural ones; a report
		// in file order is easier to work through.
		slices.SortStableFunc(problems, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
		what := "problems"
		if len(problems) == 1 {
			what = "problem"
		}
		if source == "" {
			source = "(unnamed)"
		}
		return nil, fmt.Errorf("enrich: journey map %s has %d %s:\n%w", source, len(problems), what, errors.Join(problems...))
	}

	m.index(mf)
	sum := sha256.Sum256(data)
	m.version = m.name + "@" + hex.EncodeToString(sum[:])[:12]
	return m, nil
}

// index builds byEvent and anyEvent so that an event only runs the rules of
// touchpoints it can match by name.
func (m *Map) index(mf mapFile) {
	var events [][]string // per touchpoint, in m.touchpoints order
	for _, jf := range mf.journeys {
		for _, sf := range jf.stages {
			for _, tf := range sf.touchpoints {
				events = append(events, tf.events)
			}
		}
	}
	for _, names := range events {
		for _, name := range names {
			if _, ok := m.byEvent[name]; !ok {
				m.byEvent[name] = nil
			}
		}
	}
	for i, names := range events {
		if len(names) == 0 {
			m.anyEvent = append(m.anyEvent, int32(i))
			for name := range m.byEvent {
				m.byEvent[name] = append(m.byEvent[name], int32(i))
			}
			continue
		}
		for _, name := range names {
			// A name listed twice in one touchpoint must not make it a
			// candidate twice.
			if c := m.byEvent[name]; len(c) == 0 || c[len(c)-1] != int32(i) {
				m.byEvent[name] = append(c, int32(i))
			}
		}
	}
}

// Name is the map's name.
func (m *Map) Name() string { return m.name }

// Version is "name@" plus the first 12 hex digits of the SHA-256 of the map
// file, so any edit of the file, even of a comment, is a new version.
func (m *Map) Version() string { return m.version }

// DefaultPersona is the persona of customers no persona rule has matched.
func (m *Map) DefaultPersona() string { return m.defaultPersona }

// Personas returns the personas in priority order, highest first.
func (m *Map) Personas() []PersonaDef {
	out := make([]PersonaDef, len(m.personas))
	for i, p := range m.personas {
		out[i] = p.def
	}
	return out
}

// Journeys returns the journeys in file order. The result is a copy; the
// Map stays immutable.
func (m *Map) Journeys() []JourneyDef {
	out := make([]JourneyDef, len(m.journeys))
	for i, j := range m.journeys {
		out[i] = j
		out[i].Stages = make([]StageDef, len(j.Stages))
		for k, s := range j.Stages {
			out[i].Stages[k] = s
			out[i].Stages[k].Touchpoints = slices.Clone(s.Touchpoints)
		}
	}
	return out
}

// Summary describes the map for people, e.g. `journeys check-map`.
func (m *Map) Summary() string {
	var b strings.Builder
	stages, touchpoints, negative := 0, 0, 0
	for _, j := range m.journeys {
		stages += len(j.Stages)
		for _, s := range j.Stages {
			touchpoints += len(s.Touchpoints)
			for _, t := range s.Touchpoints {
				if t.Negative {
					negative++
				}
			}
		}
	}
	fmt.Fprintf(&b, "journey map %s\n", m.version)
	fmt.Fprintf(&b, "%d journeys, %d stages, %d touchpoints (%d negative), %d personas, %d rules\n",
		len(m.journeys), stages, touchpoints, negative, len(m.personas), len(m.rules))

	fmt.Fprintf(&b, "\npersonas, highest priority first:\n")
	for _, p := range m.personas {
		fmt.Fprintf(&b, "  %6d  %s\n", p.def.Priority, p.def.Name)
	}
	fmt.Fprintf(&b, "  %6s  %s (customers no rule matched)\n", "-", m.defaultPersona)

	for _, j := range m.journeys {
		fmt.Fprintf(&b, "\njourney %s, conversion window %s\n", j.Name, formatWindow(j.ConversionWindow))
		for _, s := range j.Stages {
			names := make([]string, len(s.Touchpoints))
			for i, t := range s.Touchpoints {
				names[i] = t.Name
				if t.Negative {
					names[i] += " (negative)"
				}
			}
			fmt.Fprintf(&b, "  %2d %s: %s\n", s.Index, s.Name, strings.Join(names, ", "))
		}
	}
	return b.String()
}

// formatWindow prints whole hours as "720h" rather than "720h0m0s".
func formatWindow(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

func line(err error) int {
	if p, ok := err.(*problem); ok {
		return p.line
	}
	return 0
}
