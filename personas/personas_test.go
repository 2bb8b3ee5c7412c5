package personas

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/journeys-analytics/journeys/aggregate"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name        string
		clusters    map[string]int
		reference   map[string]string
		purity, ari float64
	}{
		{"same partition, other names", map[string]int{"a": 0, "b": 0, "c": 1, "d": 1},
			map[string]string{"a": "x", "b": "x", "c": "y", "d": "y"}, 1, 1},
		// Contingency [[1 1] [1 1]]: no agreeing pair, 2·2/6 expected, max
		// index 2, so ARI = (0 − 2/3) / (2 − 2/3) = −0.5.
		{"crossed", map[string]int{"a": 0, "b": 0, "c": 1, "d": 1},
			map[string]string{"a": "x", "b": "y", "c": "x", "d": "y"}, 0.5, -0.5},
		{"people missing from the reference are left out", map[string]int{"a": 0, "b": 1, "z": 0},
			map[string]string{"a": "x", "b": "y"}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(tc.clusters, tc.reference)
			if math.Abs(got.Purity-tc.purity) > 1e-12 || math.Abs(got.ARI-tc.ari) > 1e-12 {
				t.Errorf("purity %v ARI %v, want %v %v", got.Purity, got.ARI, tc.purity, tc.ari)
			}
		})
	}
}

// TestSuggestSeparable: three groups that differ in acquisition and
// behaviour must come back exactly, each with a rule of full precision.
func TestSuggestSeparable(t *testing.T) {
	var cs []aggregate.CustomerFeatures
	ref := map[string]string{}
	groups := []struct{ persona, source, medium string }{
		{"dev", "github", "referral"}, {"ent", "linkedin", "paid_social"}, {"smb", "google", "cpc"},
	}
	for g, grp := range groups {
		for i := range 40 {
			id := fmt.Sprintf("%s%02d", grp.persona, i)
			c := aggregate.CustomerFeatures{Person: id, Persona: grp.persona,
				Events: uint64(5 + 20*g + i%3), ActiveDays: uint64(1 + g), SpanHours: float64(10 * (g + 1)),
				Channels: map[string]uint64{"web": 5}, Touchpoints: map[string]uint64{"lifecycle/ad_click": 1},
				Furthest: map[string]uint8{"lifecycle": uint8(g)}, CampaignSource: grp.source, CampaignMedium: grp.medium,
				LandingSection: "/", CompanySize: float64(10 * (g + 1)), HasCompanySize: true}
			cs = append(cs, c)
			ref[id] = grp.persona
		}
	}
	s, err := Suggest(cs, Options{K: 3, Restarts: 5})
	if err != nil {
		t.Fatal(err)
	}
	if ag := Compare(s.Assignment, ref); ag.ARI != 1 {
		t.Errorf("ARI %v, want 1", ag.ARI)
	}
	for _, c := range s.Clusters {
		if c.Size != 40 || c.Precision != 1 || c.Recall != 1 || c.Rule == "" {
			t.Errorf("%s: size %d rule %q precision %v recall %v", c.Name, c.Size, c.Rule, c.Precision, c.Recall)
		}
	}
	if y := s.YAML(); strings.Count(y, "- name: ") != 3 {
		t.Errorf("YAML has not 3 personas:\n%s", y)
	}
	if _, err := Suggest(cs, Options{Weights: map[string]float64{"nope": 1}}); err == nil {
		t.Error("an unknown weight group was accepted")
	}
}

// TestDrift: in the later period developers double and start buying; the
// other persona keeps its size and behaviour.
func TestDrift(t *testing.T) {
	mk := func(persona string, n int, spend float64) []aggregate.CustomerFeatures {
		var out []aggregate.CustomerFeatures
		for i := range n {
			out = append(out, aggregate.CustomerFeatures{Person: fmt.Sprintf("%s%d", persona, i), Persona: persona,
				Events: uint64(3 + i%2), ActiveDays: 1, Channels: map[string]uint64{"web": 3}, Spend: spend})
		}
		return out
	}
	before := append(mk("developer", 10, 0), mk("smb_owner", 30, 0)...)
	after := append(mk("developer", 20, 100), mk("smb_owner", 30, 0)...)
	ds := Drift(before, after)
	if len(ds) != 2 || ds[0].Persona != "smb_owner" || ds[1].Persona != "developer" {
		t.Fatalf("personas %+v, want smb_owner (30 after) then developer (20)", ds)
	}
	dev, smb := ds[1], ds[0]
	if dev.Before.People != 10 || dev.After.People != 20 || dev.SizeChange != 1 ||
		math.Abs(dev.ShareChange-(20.0/50-10.0/40)) > 1e-12 {
		t.Errorf("developer: %+v", dev)
	}
	if len(dev.Shifts) == 0 || dev.Shifts[0].Feature != "spend (log)" || dev.Shifts[0].Effect <= 0 {
		t.Errorf("developer's top shift: %+v, want spend up", dev.Shifts)
	}
	if smb.SizeChange != 0 || (len(smb.Shifts) > 0 && math.Abs(smb.Shifts[0].Effect) > 1e-9) {
		t.Errorf("smb_owner changed: %+v", smb)
	}
}
