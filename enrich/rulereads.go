package enrich

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// expr's VM reads Env fields by reflection and boxes every string it reads
// into an interface, an allocation; it calls a function with an argument
// slice that it allocates on every run. Rules run several times per event,
// and these costs were two thirds of BenchmarkEnrich. The patchers below
// rewrite the reads most rules are made of into calls of Go functions held
// as constants of the program, which the VM calls by their static type
// (OpCallTyped) with the environment as the only argument:
//
//   - a comparison of an event string (event, type, context.*) with a
//     literal: ==, !=, startsWith, endsWith, contains, matches, in [...];
//     the result is a bool, so no string is boxed;
//   - a comparison of properties.key or traits.key with a literal;
//   - what is left of those reads: a string read, or a key read.
//
// A rule that is only such comparisons joined by &&, || and ! runs as Go
// code, without the VM (ruleReads.direct).
//
// The rule is still parsed, type-checked and compiled by expr; each
// function does what the VM would have done with the same operands,
// comparing through expr's own runtime functions unless both operands are
// numbers. Rules that declare a variable named like an Env field are left
// as they are, as their names may not mean the event.
// TestRuleReadsAgreeWithVM and FuzzRuleReadsAgree compare every rule with
// its unpatched program.

// envName is the identifier by which a rule reaches its whole environment.
const envName = "$env"

// stringField returns the reader of the string field of Env at path, the
// names rules use, or nil if there is none. TestStringFieldsCovered keeps
// it in step with Env.
func stringField(path string) func(*Env) string {
	switch path {
	case "event":
		return func(e *Env) string { return e.Event }
	case "type":
		return func(e *Env) string { return e.Type }
	case "context.channel":
		return func(e *Env) string { return e.Context.Channel }
	case "context.campaign.name":
		return func(e *Env) string { return e.Context.Campaign.Name }
	case "context.campaign.source":
		return func(e *Env) string { return e.Context.Campaign.Source }
	case "context.campaign.medium":
		return func(e *Env) string { return e.Context.Campaign.Medium }
	case "context.campaign.term":
		return func(e *Env) string { return e.Context.Campaign.Term }
	case "context.campaign.content":
		return func(e *Env) string { return e.Context.Campaign.Content }
	case "context.page.path":
		return func(e *Env) string { return e.Context.Page.Path }
	case "context.page.url":
		return func(e *Env) string { return e.Context.Page.URL }
	case "context.page.title":
		return func(e *Env) string { return e.Context.Page.Title }
	case "context.referrer":
		return func(e *Env) string { return e.Context.Referrer }
	case "context.device.type":
		return func(e *Env) string { return e.Context.Device.Type }
	case "context.device.os":
		return func(e *Env) string { return e.Context.Device.OS }
	case "context.device.manufacturer":
		return func(e *Env) string { return e.Context.Device.Manufacturer }
	case "context.locale":
		return func(e *Env) string { return e.Context.Locale }
	}
	return nil
}

// ruleReads is the state the patchers of one rule share.
type ruleReads struct {
	// shadowed: the rule declares a variable with the name of an Env
	// field, so an identifier may not be the event's.
	shadowed bool
	// tests are the patched comparisons by their call, so that a rule
	// made only of them can run without the VM (direct).
	tests map[ast.Node]func(*Env) bool
}

// shadowScan sets shadowed. It runs over the whole rule before the
// patchers, which could not tell a use from a declaration that comes later
// in their walk.
type shadowScan struct{ r *ruleReads }

func (s shadowScan) Visit(node *ast.Node) {
	if d, ok := (*node).(*ast.VariableDeclaratorNode); ok {
		if isEnvName(d.Name) {
			s.r.shadowed = true
		}
	}
}

func isEnvName(name string) bool {
	t := reflect.TypeFor[Env]()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("expr") == name {
			return true
		}
	}
	return name == envName
}

// fieldPath returns the path of n if it reads a field of Env by static
// names (context.page.path, event), and "" otherwise.
func (r *ruleReads) fieldPath(n ast.Node) string {
	if r.shadowed {
		return ""
	}
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if n.Value == envName {
			return ""
		}
		return n.Value
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Optional || n.Method {
			return ""
		}
		if base := r.fieldPath(n.Node); base != "" {
			return base + "." + prop.Value
		}
	}
	return ""
}

// stringRead returns the reader of n if n reads a string field of Env.
func (r *ruleReads) stringRead(n ast.Node) func(*Env) string {
	if t := n.Type(); t == nil || t.Kind() != reflect.String {
		return nil
	}
	return stringField(r.fieldPath(n))
}

// keyRead returns the key n reads if n is properties.key or traits.key as
// numberPatcher left it: a fetchFunc call.
func (r *ruleReads) keyRead(n ast.Node) *keyRead {
	c, ok := n.(*ast.CallNode)
	if !ok || r.shadowed || len(c.Arguments) != 2 {
		return nil
	}
	if id, ok := c.Callee.(*ast.IdentifierNode); !ok || id.Value != fetchFunc {
		return nil
	}
	m, ok := c.Arguments[0].(*ast.IdentifierNode)
	key, ok2 := c.Arguments[1].(*ast.StringNode)
	if !ok || !ok2 || (m.Value != "properties" && m.Value != "traits") {
		return nil
	}
	return &keyRead{traits: m.Value == "traits", key: key.Value}
}

// call is a call of fn with the environment: OpLoadEnv, OpPush fn,
// OpCallTyped.
func call(fn any) *ast.CallNode {
	return &ast.CallNode{
		Callee:    &ast.ConstantNode{Value: fn},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: envName}},
	}
}

// testPatcher turns comparisons of a string field or a key with a literal
// into one call. It runs after numberPatcher and before readPatcher, which
// would hide the reads it looks for.
type testPatcher struct{ r *ruleReads }

func (p testPatcher) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.BinaryNode)
	if !ok {
		return
	}
	r := p.r
	if n.Operator == "??" {
		// A string is never nil: `(context.page.path ?? "")` is the path.
		// Only when both sides are strings, so that the type the checker
		// sees does not change.
		if r.stringRead(n.Left) != nil && n.Right.Type() != nil && n.Right.Type().Kind() == reflect.String {
			ast.Patch(node, n.Left)
		}
		return
	}
	if t := r.stringTest(n); t != nil {
		c := call(t.eval)
		r.tests[c] = t.test
		ast.Patch(node, c)
		return
	}
	if t := r.keyTest(n); t != nil {
		c := call(t.eval)
		r.tests[c] = t.test
		ast.Patch(node, c)
	}
}

// direct returns the rule n as Go code when it is tests joined by &&, ||
// and !, which the VM would only combine; nil otherwise. A test of a key
// may panic where the VM would fail.
func (r *ruleReads) direct(n ast.Node) func(*Env) bool {
	switch n := n.(type) {
	case *ast.CallNode:
		return r.tests[n]
	case *ast.UnaryNode:
		if f := r.direct(n.Node); f != nil && (n.Operator == "!" || n.Operator == "not") {
			return func(e *Env) bool { return !f(e) }
		}
	case *ast.BinaryNode:
		a, b := r.direct(n.Left), r.direct(n.Right)
		if a == nil || b == nil {
			return nil
		}
		switch n.Operator {
		case "&&", "and":
			return func(e *Env) bool { return a(e) && b(e) }
		case "||", "or":
			return func(e *Env) bool { return a(e) || b(e) }
		}
	}
	return nil
}

// stringTest is a comparison of a string field with a literal. It cannot
// fail.
type stringTest struct {
	field func(*Env) string
	op    string
	s     string
	set   []string       // op "in"
	re    *regexp.Regexp // op "matches"
	not   bool           // op was "!="
}

func (r *ruleReads) stringTest(n *ast.BinaryNode) *stringTest {
	field, other := r.stringRead(n.Left), n.Right
	if field == nil && (n.Operator == "==" || n.Operator == "!=") {
		field, other = r.stringRead(n.Right), n.Left
	}
	if field == nil {
		return nil
	}
	t := &stringTest{field: field, op: n.Operator}
	if n.Operator == "in" {
		arr, ok := other.(*ast.ArrayNode)
		if !ok {
			return nil
		}
		for _, e := range arr.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return nil
			}
			t.set = append(t.set, s.Value)
		}
		return t
	}
	lit, ok := other.(*ast.StringNode)
	if !ok {
		return nil
	}
	t.s = lit.Value
	switch n.Operator {
	case "==", "startsWith", "endsWith", "contains":
	case "!=":
		t.op, t.not = "==", true
	case "matches":
		re, err := regexp.Compile(lit.Value)
		if err != nil {
			return nil // the checker reports it
		}
		t.re = re
	default:
		return nil
	}
	return t
}

func (t *stringTest) test(e *Env) bool {
	v := t.field(e)
	switch t.op {
	case "==":
		return (v == t.s) != t.not
	case "startsWith":
		return strings.HasPrefix(v, t.s)
	case "endsWith":
		return strings.HasSuffix(v, t.s)
	case "contains":
		return strings.Contains(v, t.s)
	case "matches":
		return t.re.MatchString(v)
	case "in":
		for _, s := range t.set {
			if v == s {
				return true
			}
		}
	}
	return false
}

func (t *stringTest) eval(env any) bool { return t.test(env.(*Env)) }

// keyRead is properties.key or traits.key.
type keyRead struct {
	traits bool
	key    string
}

// raw is the value as the event holds it; nil if missing. It is read
// from the object's text, which finds the one key without decoding the
// whole object unless something has decoded it already.
func (k *keyRead) raw(e *Env) any {
	switch {
	case e.hasLast && e.last == *k:
		return e.value
	case k.traits:
		e.value, _ = e.traits.Get(k.key)
	default:
		e.value, _ = e.properties.Get(k.key)
	}
	e.last, e.hasLast = *k, true
	return e.value
}

// read is what fetch returns.
func (k *keyRead) read(env any) any {
	v, err := number(k.raw(env.(*Env)))
	if err != nil {
		panic(err) // as the VM does with a function's error
	}
	return v
}

// keyTest is a comparison of a key with a literal, computed as the VM
// computes it: expr's runtime operator on the dereferenced operands, or
// when both are numbers the same comparison of float64s. != is the
// negation of ==, as compiled.
type keyTest struct {
	key       *keyRead
	op        string // ==, <, >, <=, >=
	not       bool   // op was !=
	lit       any    // as the compiler would push it
	num       float64
	numeric   bool // lit is an int or a float64, num its value
	nilEqual  bool // op is == and lit is nil: true for nil, false for a number
	litOnLeft bool
}

func (r *ruleReads) keyTest(n *ast.BinaryNode) *keyTest {
	switch n.Operator {
	case "==", "!=", "<", ">", "<=", ">=":
	default:
		return nil
	}
	t := &keyTest{op: n.Operator}
	lit := n.Right
	if t.key = r.keyRead(n.Left); t.key == nil {
		t.key, lit, t.litOnLeft = r.keyRead(n.Right), n.Left, true
	}
	if t.key == nil {
		return nil
	}
	if t.op == "!=" {
		t.op, t.not = "==", true
	}
	switch l := lit.(type) {
	case *ast.NilNode:
		t.lit, t.nilEqual = nil, t.op == "=="
	case *ast.StringNode:
		t.lit = l.Value
	case *ast.BoolNode:
		t.lit = l.Value
	case *ast.IntegerNode:
		// The compiler pushes an int literal as the type the checker
		// gave it; against an interface that is int.
		if l.Type() == nil || l.Type().Kind() != reflect.Int {
			return nil
		}
		t.lit, t.num, t.numeric = l.Value, float64(l.Value), true
	case *ast.FloatNode:
		if l.Type() == nil || l.Type().Kind() != reflect.Float64 {
			return nil
		}
		t.lit, t.num, t.numeric = l.Value, l.Value, true
	default:
		return nil
	}
	return t
}

func (t *keyTest) eval(env any) bool { return t.test(env.(*Env)) }

func (t *keyTest) test(e *Env) bool {
	v := t.key.raw(e)
	switch x := v.(type) {
	case float64:
		if t.numeric {
			return t.floats(x)
		}
		if t.nilEqual {
			return t.not
		}
	case json.Number:
		f, err := parseNumber(x)
		if err != nil {
			panic(err)
		}
		if t.numeric {
			return t.floats(f)
		}
		if t.nilEqual {
			return t.not
		}
		v = f
	case nil:
		if t.nilEqual {
			return !t.not
		}
	case string, bool:
	default:
		v = deref(v)
	}
	a, b := v, t.lit
	if t.litOnLeft {
		a, b = b, a
	}
	switch t.op {
	case "<":
		return runtime.Less(a, b)
	case ">":
		return runtime.More(a, b)
	case "<=":
		return runtime.LessOrEqual(a, b)
	case ">=":
		return runtime.MoreOrEqual(a, b)
	}
	return runtime.Equal(a, b) != t.not
}

// floats is the comparison when both operands are numbers: expr's runtime
// compares an int with a float64 as float64s.
func (t *keyTest) floats(v float64) bool {
	a, b := v, t.num
	if t.litOnLeft {
		a, b = b, a
	}
	switch t.op {
	case "<":
		return a < b
	case ">":
		return a > b
	case "<=":
		return a <= b
	case ">=":
		return a >= b
	}
	return (a == b) != t.not
}

// deref is expr's OpDeref, which the compiler puts before an operator on
// an interface value: pointers are followed.
func deref(v any) any {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	return rv.Interface()
}

// readPatcher turns the string field and key reads that testPatcher left
// into calls.
type readPatcher struct{ r *ruleReads }

func (p readPatcher) Visit(node *ast.Node) {
	if f := p.r.stringRead(*node); f != nil {
		ast.Patch(node, call(func(env any) string { return f(env.(*Env)) }))
		return
	}
	if k := p.r.keyRead(*node); k != nil {
		ast.Patch(node, call(k.read))
	}
}
