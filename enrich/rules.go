package enrich

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/journeys-analytics/journeys/schemas"
)

// Env is what a journey-map rule sees of an event. The expr tags are the
// names rules use; a missing key of properties or traits reads as nil.
//
// Numbers are float64. The validator may decode JSON numbers as float64 or as
// json.Number; rather than copying every event's maps to convert them, rules
// are compiled (numberPatcher) so that a json.Number is parsed into a float64
// where a rule uses it: when it is read as properties.key or traits.key, and
// when any value of a type only known at run time (nested values, closure
// elements, variables) is compared, computed with or passed to a builtin.
// The cost is a type switch per such value, plus a ParseFloat only for the
// json.Numbers a rule actually touches. A value passed whole keeps its
// json.Numbers: sum(properties.prices) sees them unconverted.
//
// Properties and Traits are filled only when a rule runs on the VM
// (fill): a rule made of comparisons runs as Go code and reads the keys it
// compares from the objects' text (keyRead), without decoding them whole.
// An Env is made by set.
type Env struct {
	Event      string         `expr:"event"`
	Type       string         `expr:"type"`
	Properties map[string]any `expr:"properties"`
	Traits     map[string]any `expr:"traits"`
	Context    EnvContext     `expr:"context"`

	// properties and traits are the event's objects; filled says whether
	// Properties and Traits hold their maps yet. They are values, not a
	// pointer to the event, which would make Map.Enrich's copy of the
	// event escape to the heap through the State.
	properties, traits schemas.Object
	filled             bool
	// last is the key last read from ev and value its value, valid when
	// hasLast: rules read a key twice, `properties.rating != nil &&
	// properties.rating >= 4`, and the second read then costs no scan.
	last    keyRead
	value   any
	hasLast bool
}

// EnvContext is schemas.Context under the names rules use.
type EnvContext struct {
	Channel  string      `expr:"channel"`
	Campaign EnvCampaign `expr:"campaign"`
	Page     EnvPage     `expr:"page"`
	Referrer string      `expr:"referrer"`
	Device   EnvDevice   `expr:"device"`
	Locale   string      `expr:"locale"`
}

// EnvCampaign is schemas.Campaign under the names rules use.
type EnvCampaign struct {
	Name    string `expr:"name"`
	Source  string `expr:"source"`
	Medium  string `expr:"medium"`
	Term    string `expr:"term"`
	Content string `expr:"content"`
}

// EnvPage is schemas.Page under the names rules use.
type EnvPage struct {
	Path  string `expr:"path"`
	URL   string `expr:"url"`
	Title string `expr:"title"`
}

// EnvDevice is schemas.Device under the names rules use.
type EnvDevice struct {
	Type         string `expr:"type"`
	OS           string `expr:"os"`
	Manufacturer string `expr:"manufacturer"`
}

// set points the environment at ev. The struct conversions compile only
// while the Env mirrors schemas field for field, so a field added to the
// event contract cannot silently stay invisible to rules.
func (e *Env) set(ev *schemas.Event) {
	c := &ev.Context
	*e = Env{
		Event:      ev.Event,
		Type:       ev.Type,
		properties: ev.PropertiesObject(),
		traits:     ev.TraitsObject(),
		Context: EnvContext{
			Channel:  c.Channel,
			Campaign: EnvCampaign(c.Campaign),
			Page:     EnvPage(c.Page),
			Referrer: c.Referrer,
			Device:   EnvDevice(c.Device),
			Locale:   c.Locale,
		},
	}
}

// fill sets Properties and Traits, decoding the objects if the event had
// not, for the VM, which reads them by reflection.
func (e *Env) fill() {
	if !e.filled {
		e.Properties, e.Traits = e.properties.Map(), e.traits.Map()
		e.filled = true
	}
}

// Functions the patcher inserts. The '$' keeps them out of the names a map
// author would pick.
const (
	numberFunc = "$number"
	fetchFunc  = "$fetch"
)

var mapType = reflect.TypeFor[map[string]any]()

func toNumber(params ...any) (any, error) { return number(params[0]) }

// fetch reads a key of properties or traits. It replaces expr's reflective
// map access, which allocates a copy of every value it reads, and converts
// the value as numberPatcher would.
func fetch(params ...any) (any, error) {
	m, _ := params[0].(map[string]any)
	key, _ := params[1].(string)
	return number(m[key])
}

func number(v any) (any, error) {
	n, ok := v.(json.Number)
	if !ok {
		return v, nil
	}
	f, err := parseNumber(n)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func parseNumber(n json.Number) (float64, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is not a number", string(n))
	}
	return f, nil
}

// numberPatcher rewrites rules so that json.Number reaches operators as
// float64. It turns `m.key` and `m["key"]` on a map[string]any into
// fetchFunc, and wraps every other operand whose type is only known at run
// time (nested values, closure elements, variables) in numberFunc. Operands
// of a static type never hold a json.Number and are left alone.
type numberPatcher struct{}

func (numberPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		// Optional members stay: their short-circuit belongs to the
		// enclosing chain.
		if n.Optional || n.Method || n.Node == nil || n.Property == nil ||
			n.Node.Type() != mapType || n.Property.Type().Kind() != reflect.String {
			return
		}
		ast.Patch(node, &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: fetchFunc},
			Arguments: []ast.Node{n.Node, n.Property},
		})
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "||", "and", "or", "??":
			// Logical operands must be bool; ?? only picks a value and
			// its result is wrapped where it is used.
			return
		}
		wrapDynamic(&n.Left)
		wrapDynamic(&n.Right)
	case *ast.UnaryNode:
		wrapDynamic(&n.Node)
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			if _, closure := n.Arguments[i].(*ast.PredicateNode); !closure {
				wrapDynamic(&n.Arguments[i])
			}
		}
	}
}

func wrapDynamic(n *ast.Node) {
	switch v := (*n).(type) {
	case nil, *ast.NilNode:
		return
	case *ast.CallNode:
		if id, ok := v.Callee.(*ast.IdentifierNode); ok && (id.Value == numberFunc || id.Value == fetchFunc) {
			return // already converted
		}
	}
	if (*n).Type().Kind() != reflect.Interface {
		return
	}
	ast.Patch(n, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: numberFunc},
		Arguments: []ast.Node{*n},
	})
}

// program is a compiled rule. direct is the same rule as Go code when it
// is only comparisons joined by &&, || and ! (see rulereads.go), so that
// it runs without the VM; nil otherwise.
type program struct {
	vm     *vm.Program
	direct func(*Env) bool
}

// run calls direct. ok is false if it panicked, as a comparison does where
// the VM would fail.
func (p *program) run(e *Env) (b, ok bool) {
	defer func() {
		if recover() != nil {
			b, ok = false, false
		}
	}()
	return p.direct(e), true
}

// compile turns a rule into a program, with the reads of rulereads.go.
func compile(src string) (p *program, err error) {
	defer func() {
		// A panic inside a third-party compiler on a hostile rule must
		// fail the load, not the process.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("cannot compile: %v", r)
		}
	}()
	// As written first: the checker ignores type errors until the
	// patchers are done, and a patched comparison no longer has them.
	plain, err := expr.Compile(src, options()...)
	if err != nil {
		return nil, err
	}
	if fast, err := compileReads(src); err == nil {
		return fast, nil
	}
	// Not expected (TestRuleReadsAgreeWithVM); the rule still works as
	// written.
	return &program{vm: plain}, nil
}

// compileReads compiles a rule that compiles as written with its reads
// patched.
func compileReads(src string) (p *program, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("cannot compile: %v", r)
		}
	}()
	reads := &ruleReads{tests: map[ast.Node]func(*Env) bool{}}
	// In this order: each patcher looks for what the one before left.
	prog, err := expr.Compile(src, append(options(),
		expr.Patch(shadowScan{reads}),
		expr.Patch(testPatcher{reads}),
		expr.Patch(readPatcher{reads}),
	)...)
	if err != nil {
		return nil, err
	}
	return &program{vm: prog, direct: reads.direct(prog.Node())}, nil
}

// options define what a rule means. now() is disabled and date() is pinned
// to UTC so that enrichment is deterministic: replaying a partition must
// tag every event as it was tagged the first time.
func options() []expr.Option {
	return []expr.Option{
		expr.Env(Env{}),
		expr.AsBool(),
		expr.DisableBuiltin("now"),
		expr.Timezone("UTC"),
		expr.Function(numberFunc, toNumber, new(func(any) any)),
		expr.Function(fetchFunc, fetch, new(func(map[string]any, string) any)),
		expr.Patch(numberPatcher{}),
	}
}

// compileMessage is the expr's own message, with its position in the rule
// but without the multi-line source snippet, so that each problem of a map
// stays on one line.
func compileMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return fmt.Sprintf("%s (rule line %d, column %d)", fe.Message, fe.Line, fe.Column+1)
		}
		return fe.Message
	}
	return err.Error()
}

// rule is a compiled when-expression and its run-time error count. The
// counters are the only part of a Map that changes after Parse; they are
// touched only when a rule fails, so the hot path stays free of shared
// writes.
type rule struct {
	kind    string
	name    string
	program *program
	errors  atomic.Uint64
	last    atomic.Pointer[error]
}

// eval reports whether the rule holds for the event in s.env. A run-time
// error (typically comparing nil with a number because a rule forgot a nil
// check) is a non-match.
func (r *rule) eval(s *State) bool {
	if r.program.direct != nil {
		if b, ok := r.program.run(&s.env); ok {
			return b
		}
		// The VM runs the rule again, to fail as it fails on any rule.
	}
	s.env.fill()
	out, err := s.vm.Run(r.program.vm, &s.env)
	if err != nil {
		r.fail(err)
		return false
	}
	b, ok := out.(bool)
	if !ok {
		r.fail(fmt.Errorf("rule returned %T, not bool", out))
	}
	return b
}

func (r *rule) fail(err error) {
	r.errors.Add(1)
	r.last.Store(&err)
}

// RuleStats are the run-time failures of a map's rules, counted since Load.
// The counts only grow, so the collector can expose them as counters at
// scrape time.
type RuleStats struct {
	// Rules lists every rule in map order: personas first, then
	// touchpoints with a when rule.
	Rules []RuleStat
}

// RuleStat is the failure count of one rule. Kind and Name are bounded by
// the map and safe as metric labels.
type RuleStat struct {
	Kind      string // "persona" or "touchpoint"
	Name      string // persona or touchpoint name
	Errors    uint64
	LastError string // empty while Errors is 0
}

// Stats returns the current rule failure counts. It is safe to call
// concurrently with Enrich.
func (m *Map) Stats() RuleStats {
	st := RuleStats{Rules: make([]RuleStat, len(m.rules))}
	for i, r := range m.rules {
		st.Rules[i] = RuleStat{Kind: r.kind, Name: r.name, Errors: r.errors.Load()}
		if last := r.last.Load(); last != nil {
			st.Rules[i].LastError = (*last).Error()
		}
	}
	return st
}
