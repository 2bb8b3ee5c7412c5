package enrich

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const exampleMap = "../deploy/journey-map.yaml"

func loadExample(t testing.TB) *Map {
	t.Helper()
	m, err := Load(exampleMap)
	if err != nil {
		t.Fatalf("example map: %v", err)
	}
	return m
}

func mustParse(t testing.TB, src string) *Map {
	t.Helper()
	m, err := Parse([]byte(src), t.Name())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

// problems returns the individual problems of a Parse error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Parse succeeded, want problems")
	}
	joined, ok := errors.Unwrap(err).(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %q does not unwrap to a list of problems", err)
	}
	var out []string
	for _, e := range joined.Unwrap() {
		out = append(out, e.Error())
	}
	return out
}

// assertProblems checks that got has exactly one problem per want, each
// containing its want.
func assertProblems(t *testing.T, got, want []string) {
	t.Helper()
	left := slices.Clone(got)
	for _, w := range want {
		i := slices.IndexFunc(left, func(p string) bool { return strings.Contains(p, w) })
		if i < 0 {
			t.Errorf("missing problem %q", w)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, p := range left {
		t.Errorf("unexpected problem %q", p)
	}
}

func TestLoadExample(t *testing.T) {
	m := loadExample(t)

	if got := m.Name(); got != "acme-saas" {
		t.Errorf("Name = %q", got)
	}
	if !regexp.MustCompile(`^acme-saas@[0-9a-f]{12}$`).MatchString(m.Version()) {
		t.Errorf("Version = %q, want acme-saas@<12 hex>", m.Version())
	}
	if got := m.DefaultPersona(); got != "unassigned" {
		t.Errorf("DefaultPersona = %q", got)
	}

	var personas []string
	for _, p := range m.Personas() {
		personas = append(personas, p.Name)
	}
	if want := []string{"enterprise_buyer", "smb_owner", "developer"}; !slices.Equal(personas, want) {
		t.Errorf("Personas = %v, want %v (highest priority first)", personas, want)
	}

	js := m.Journeys()
	if len(js) != 2 || js[0].Name != "lifecycle" || js[1].Name != "onboarding" {
		t.Fatalf("Journeys = %+v", js)
	}
	if js[0].ConversionWindow != 720*time.Hour || js[1].ConversionWindow != 168*time.Hour {
		t.Errorf("conversion windows = %v, %v", js[0].ConversionWindow, js[1].ConversionWindow)
	}
	retention := js[0].Stages[3]
	if retention.Name != "retention" || retention.Index != 3 || len(retention.Touchpoints) != 5 {
		t.Errorf("stage 3 = %+v", retention)
	}
	if tp := retention.Touchpoints[2]; tp.Name != "support_ticket" || !tp.Negative {
		t.Errorf("retention touchpoint 2 = %+v", tp)
	}

	// Journeys returns a copy: changing it must not change the map.
	js[0].Stages[0].Touchpoints[0].Name = "changed"
	if m.Journeys()[0].Stages[0].Touchpoints[0].Name != "ad_click" {
		t.Error("Journeys exposes the map's internals")
	}

	sum := m.Summary()
	for _, want := range []string{
		m.Version(),
		"2 journeys, 8 stages, 18 touchpoints (3 negative), 3 personas",
		"journey lifecycle, conversion window 720h",
		"journey onboarding, conversion window 168h",
		"3 retention: feature_use, renewal, support_ticket (negative)",
		"unassigned (customers no rule matched)",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("Summary lacks %q:\n%s", want, sum)
		}
	}
}

func TestVersionFollowsContent(t *testing.T) {
	data, err := os.ReadFile(exampleMap)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(data, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(append(data, "\n# a comment is a change too\n"...), "b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() == b.Version() {
		t.Errorf("edited map kept version %s", a.Version())
	}
	if a.Version() != loadExample(t).Version() {
		t.Error("Parse and Load disagree on the version of the same bytes")
	}
}

func TestParseListsEveryProblem(t *testing.T) {
	const src = `name: bad map
default_persona: developer
personas:
  - name: developer
    priority: 10
    when: context.channel == "web"
  - name: Developer2
    priority: 10
    when: traits.plan
journeys:
  - name: lifecycle
    conversion_window: 3 days
    stages:
      - name: awareness
        touchpoints:
          - name: ad_click
            event: Ad Clicked
            when: properties.campaign ==
          - name: nothing
          - name: ad_click
            type: email
  - name: lifecycle
    stages: []
`
	_, err := Parse([]byte(src), "inline.yaml")
	if !strings.HasPrefix(err.Error(), "enrich: journey map inline.yaml has 11 problems:\n") {
		t.Errorf("error header: %q", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	assertProblems(t, problems(t, err), []string{
		`name: line 1: "bad map" is not a valid name`,
		`personas[0].name: line 4: "developer" is also the default_persona`,
		`personas[1].name: line 7: "Developer2" is not a valid name`,
		`personas[1].priority: line 7: priority 10 is also used by personas[0]`,
		`journeys[0].conversion_window: line 12: want a duration such as 720h, got "3 days"`,
		`journeys[0].stages[0].touchpoints[0].when: line 18: unexpected token EOF`,
		`journeys[0].stages[0].touchpoints[1]: line 19: needs at least one of event, type, when`,
		`journeys[0].stages[0].touchpoints[2].name: line 20: touchpoint "ad_click" is already defined at journeys[0].stages[0].touchpoints[0]`,
		`journeys[0].stages[0].touchpoints[2].type: line 21: want track, identify or page, got "email"`,
		`journeys[1].name: line 22: journey "lifecycle" is already defined at journeys[0]`,
		`journeys[1].stages: line 23: no stages`,
	})
}

// TestBadMaps loads testdata/*.bad.yaml. Each file lists the problems it
// must produce in "# want: <substring>" comments, one per problem.
func TestBadMaps(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad maps: %v", err)
	}
	wantRE := regexp.MustCompile(`(?m)^# want: (.+)$`)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, m := range wantRE.FindAllStringSubmatch(string(data), -1) {
				want = append(want, m[1])
			}
			if len(want) == 0 {
				t.Fatal("file has no '# want:' lines")
			}
			_, err = Load(f)
			assertProblems(t, problems(t, err), want)
		})
	}
}

func TestGoodMaps(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good maps: %v", err)
	}
	for _, f := range append(files, exampleMap) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMinimalMapDefaults(t *testing.T) {
	m, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Journeys()[0].ConversionWindow; w != 720*time.Hour {
		t.Errorf("default conversion window = %v, want 720h", w)
	}
	if len(m.Personas()) != 0 {
		t.Errorf("Personas = %v, want none", m.Personas())
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
}
