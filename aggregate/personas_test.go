package aggregate

import (
	"context"
	"reflect"
	"testing"
)

// TestCustomerFeatures: an anonymous visitor who lands from a campaign, signs
// up and buys is one person, with the campaign of its landing page and the
// traits and revenue of its user id.
func TestCustomerFeatures(t *testing.T) {
	s := migratedStore(t, "native")
	ctx := context.Background()
	rs := []row{
		{offset: 0, customer: "a1", persona: "enterprise_buyer", journey: "lifecycle", stage: 0, at: "2024-03-01 10:00:00", typ: "page", anon: "a1"},
		{offset: 1, customer: "U", persona: "enterprise_buyer", at: "2024-03-01 11:00:00", typ: "identify", anon: "a1", user: "U"},
		{offset: 2, customer: "U", persona: "enterprise_buyer", journey: "lifecycle", stage: 2, at: "2024-03-03 09:00:00", user: "U"},
		{offset: 3, customer: "V", persona: "unassigned", journey: "lifecycle", stage: 1, at: "2024-03-05 09:00:00", negative: true, anon: "v"},
	}
	b := batchOf(t, topic, 0, 0, 3, rs)
	b.Rows[0].Context.Campaign.Source, b.Rows[0].Context.Campaign.Medium = "linkedin", "paid_social"
	b.Rows[0].Context.Page.Path = "/blog/why"
	b.Rows[1].Context.Campaign.Source, b.Rows[1].Context.Campaign.Medium = "", ""
	b.Rows[1].Context.Page.Path = ""
	b.Rows[1].RawTraits = []byte(`{"company_size":800}`)
	b.Rows[2].Context.Channel = "server"
	b.Rows[2].Context.Campaign.Source, b.Rows[2].Context.Campaign.Medium = "", ""
	b.Rows[2].Context.Page.Path = ""
	b.Rows[2].RawProperties = []byte(`{"revenue":49.5}`)
	b.Rows[3].Context.Campaign.Source, b.Rows[3].Context.Campaign.Medium = "", ""
	b.Rows[3].Context.Page.Path = "/"
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := s.CustomerFeatures(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []CustomerFeatures{
		{Person: "U", Persona: "enterprise_buyer", Events: 3, ActiveDays: 2, SpanHours: 47,
			Channels: map[string]uint64{"web": 2, "server": 1}, Touchpoints: map[string]uint64{
				"lifecycle/awareness_touch": 1, "lifecycle/purchase_touch": 1},
			Furthest: map[string]uint8{"lifecycle": 2}, CampaignSource: "linkedin", CampaignMedium: "paid_social",
			LandingSection: "/blog", Spend: 49.5, CompanySize: 800, HasCompanySize: true},
		{Person: "V", Persona: "unassigned", Events: 1, ActiveDays: 1,
			Channels: map[string]uint64{"web": 1}, Touchpoints: map[string]uint64{"lifecycle/consideration_touch": 1},
			Furthest: map[string]uint8{"lifecycle": 1}, Negative: 1, LandingSection: "/"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	// A day range keeps the events of those days only.
	got, err = s.CustomerFeatures(ctx, Filter{From: day("2024-03-03"), To: day("2024-03-04")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Person != "U" || got[0].Events != 1 || got[0].Spend != 49.5 || got[0].CampaignSource != "" {
		t.Errorf("2024-03-03..04: %+v", got)
	}
}
