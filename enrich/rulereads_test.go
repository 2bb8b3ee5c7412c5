package enrich

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/journeys-analytics/journeys/schemas"
)

// readRules are rules whose reads compile() patches, or nearly does: each
// operator and literal kind on each kind of read, in both orders, combined,
// shadowed, and inside the expressions the patches must leave alone.
func readRules() []string {
	var rules []string
	for _, f := range []string{"event", "type", "context.channel", "context.campaign.source", "context.page.path",
		"context.device.os", "context.locale", "context.referrer"} {
		for _, r := range []string{
			`F == "x"`, `"x" == F`, `F != "x"`, `"x" != F`, `F startsWith "x"`, `F endsWith "x"`,
			`F contains "y"`, `F matches "^x.?$"`, `F in ["x", "xy"]`, `F not in ["x"]`, `F in []`,
			`(F ?? "") == "x"`, `(F ?? "z") startsWith "x"`, `(F ?? 1) == "x"`, `len(F) > 1`, `upper(F) == "X"`,
			`F == context.channel`, `F + "!" == "x!"`, `F < "xa"`, `F >= "y"`, `"x" in [F]`, `not (F == "x")`,
			`!(F startsWith "x") || F == ""`, `F == "x" and F != "y" or F == ""`, `F == "x" ? true : false`,
		} {
			rules = append(rules, strings.ReplaceAll(r, "F", f))
		}
	}
	for _, k := range []string{"properties.n", "traits.n", `properties["n"]`} {
		for _, op := range []string{"==", "!=", "<", ">", "<=", ">="} {
			for _, lit := range []string{"4", "4.5", `"4.5"`, "true", "nil", "0"} {
				rules = append(rules, k+" "+op+" "+lit, lit+" "+op+" "+k)
			}
		}
		for _, r := range []string{
			`K != nil && K > 4`, `K == nil || K < 1`, `!(K > 4)`, `not (K >= 4) and event == "x"`,
			`K > 4 ? true : false`, `(K ?? 0) > 4`, `K * 2 == 9`, `K in [4.5, 5]`, `K > 4 || K == "4.5"`,
			`K == K`, `K > -1`, `K == 4.5 && context.page.path startsWith "x"`,
		} {
			rules = append(rules, strings.ReplaceAll(r, "K", k))
		}
	}
	return append(rules,
		// Both objects' keys in one rule.
		`properties.n != nil && traits.n > 4`, `traits.n == nil || properties.n >= 4`, `properties.n == traits.n`,
		`traits.n != nil && properties.n != nil && traits.n < 5`, `properties.m == traits.m`,
		`let event = "x"; event == "x"`,
		`let properties = {"n": 5}; properties.n > 4`,
		`let context = {"channel": "x"}; context.channel == "x"`,
		`let n = properties.n; n > 4 && event == "x"`,
		`$env.event == "x"`, `$env.properties.n > 4`, `$env["context"].page.path == "x"`,
		`any(["x", "y"], # == event)`, `any(properties.items ?? [], # > 4)`, `properties.m.n > 4`,
		`properties?.n > 4`, `properties.n?.m == nil`, `true`, `false || event == "x"`,
	)
}

// readEvents vary the string fields and the values of properties.n and
// traits.n over what the rules distinguish, including values no validator
// produces, set as maps; then the values a validator does produce, as it
// leaves them: JSON text that the event decodes on demand, with the keys
// spelt and repeated as JSON allows.
func readEvents(t testing.TB) []schemas.Event {
	f := 4.5
	var events []schemas.Event
	for _, s := range []string{"", "x", "xy", "y", "X"} {
		for _, n := range []any{nil, "missing", 4.0, 4.5, 5.0, json.Number("4.5"), json.Number("4"), json.Number("1e999"),
			json.Number("abc"), "4.5", true, &f, map[string]any{"n": 5.0}, []any{5.0}} {
			ev := schemas.Event{Event: s, Type: s, Context: schemas.Context{
				Channel: s, Referrer: s, Locale: s,
				Campaign: schemas.Campaign{Source: s}, Page: schemas.Page{Path: s}, Device: schemas.Device{OS: s},
			}}
			if n != "missing" {
				ev.SetProperties(map[string]any{"n": n, "items": []any{n}, "m": map[string]any{"n": n}})
				ev.SetTraits(map[string]any{"n": n})
			}
			events = append(events, ev)
		}
	}
	v, err := schemas.NewValidator(schemas.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	values := []string{"null", "4", "4.0", "4.5", "5", "-0", "1e-400", `"4.5"`, `"x"`, `"\u0078"`, `"\ud800"`,
		"true", `{"n":5}`, "[5]", "[]"}
	for i, n := range values {
		for _, obj := range []string{
			`{"n":N,"items":[N],"m":{"n":N}}`,
			`{"n":1,"items":[],"n":N}`, // the last of duplicates
			`{"\u006e":N,"m":{"n":N}}`, // an escaped key
			`{"items":[{"n":1}],"m":{"n":0}, "n" : N }`,
			`{"\udc00":1,"n":N}`, // a key the fast parser leaves to encoding/json
		} {
			props := strings.ReplaceAll(obj, "N", n)
			// traits.n differs from properties.n, so that a read of one
			// cannot pass for the other.
			traits := strings.ReplaceAll(obj, "N", values[(i+3)%len(values)])
			for _, e := range []string{"x", "y"} {
				raw := `{"event_id":"e","type":"track","event":"` + e + `","user_id":"u","properties":` + props + `,"traits":` + traits + `}`
				ev, inv := v.Decode([]byte(raw), at)
				if inv != nil {
					t.Fatalf("%s: %v", raw, inv)
				}
				events = append(events, ev)
			}
		}
	}
	return events
}

// TestRuleReadsAgreeWithVM checks that the patched reads change nothing a
// rule computes: every rule gives every event the outcome that the rule
// compiled without them gives, and fails where it fails with the same
// message.
func TestRuleReadsAgreeWithVM(t *testing.T) {
	s := NewState(mustParse(t, tierMap))
	events := readEvents(t)
	direct := 0
	for _, src := range readRules() {
		if p := agree(t, s, src, events); p != nil && p.direct != nil {
			direct++
		}
	}
	if direct < 100 {
		t.Errorf("only %d rules run without the VM: the test no longer covers that path", direct)
	}
}

// FuzzRuleReadsAgree is TestRuleReadsAgreeWithVM for any rule.
func FuzzRuleReadsAgree(f *testing.F) {
	for _, src := range readRules() {
		f.Add(src)
	}
	s := NewState(mustParse(f, tierMap))
	events := readEvents(f)
	f.Fuzz(func(t *testing.T, src string) { agree(t, s, src, events) })
}

// agree checks src on events against the rule compiled as written, and
// returns the program it checked; nil if the rule does not compile.
func agree(t *testing.T, s *State, src string, events []schemas.Event) *program {
	t.Helper()
	ref, err := expr.Compile(src, options()...)
	if err != nil {
		if _, err2 := compile(src); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%s: compiled with error %v, without the reads %v", src, err2, err)
		}
		return nil
	}
	p, err := compileReads(src)
	if err != nil {
		t.Errorf("%s: compiles as written, not with the reads: %v", src, err)
		return nil
	}
	var refVM vm.VM
	var refEnv Env
	for i := range events {
		// Each side has its own copy of the event, so that the patched
		// rule reads keys from an event nothing has decoded yet.
		ev, refEv := events[i], events[i]
		refEnv.set(&refEv)
		refEnv.fill()
		out, refErr := refVM.Run(ref, &refEnv)
		want := refErr == nil && out == true
		s.env.set(&ev)
		r := &rule{program: p}
		got := r.eval(s)
		var gotErr error
		if last := r.last.Load(); last != nil {
			gotErr = *last
		}
		if got != want || (gotErr == nil) != (refErr == nil) || (refErr != nil && message(gotErr) != message(refErr)) {
			t.Errorf("%s on %s: %v (error %v), without the reads %v (error %v)",
				src, eventOf(events[i]), got, gotErr, want, refErr)
		}
	}
	return p
}

// message is what a rule failure says, without where in the rule: a key
// that holds an invalid json.Number fails at the comparison rather than at
// the read.
func message(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

func eventOf(ev schemas.Event) string {
	n, ok := ev.Property("n")
	if !ok {
		return fmt.Sprintf("strings %q, n missing", ev.Event)
	}
	return fmt.Sprintf("strings %q, n %T %v (properties %s)", ev.Event, n, n, ev.RawProperties)
}

// TestExampleRulesRunWithoutVM keeps the example map's rules, the shapes
// a map is made of, on the path that neither reflects nor allocates.
func TestExampleRulesRunWithoutVM(t *testing.T) {
	for _, r := range loadExample(t).rules {
		if r.program.direct == nil {
			t.Errorf("%s %s runs on the VM:\n%s", r.kind, r.name, r.program.vm.Disassemble())
		}
	}
}

// TestStringFieldsCovered checks that stringField reads every string field
// of Env under the name rules use.
func TestStringFieldsCovered(t *testing.T) {
	var e Env
	want := map[string]string{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue // not seen by rules
			}
			name := strings.TrimPrefix(path+"."+v.Type().Field(i).Tag.Get("expr"), ".")
			switch f := v.Field(i); f.Kind() {
			case reflect.Struct:
				walk(f, name)
			case reflect.String:
				f.SetString("value of " + name)
				want[name] = f.String()
			}
		}
	}
	walk(reflect.ValueOf(&e).Elem(), "")
	if len(want) < 16 {
		t.Fatalf("found %d string fields in Env", len(want))
	}
	for path, v := range want {
		if f := stringField(path); f == nil {
			t.Errorf("no reader for %s", path)
		} else if got := f(&e); got != v {
			t.Errorf("the reader of %s reads %q", path, got)
		}
	}
}
