package aggregate

import "context"

// CustomerFeatures is the behaviour of one person over a period, as
// `journeys personas` clusters it. A person is a customer id with the
// anonymous ids linked to it by identify events folded in, so the landing
// campaign (seen before sign-up) and the traits and purchases (seen after)
// describe the same row.
type CustomerFeatures struct {
	Person  string
	Persona string // persona of the person's latest event in the period (journey map rules)

	Events     uint64
	ActiveDays uint64  // distinct UTC days with an event
	SpanHours  float64 // last event - first event

	Channels    map[string]uint64 // context.channel → events
	Touchpoints map[string]uint64 // "journey/touchpoint" → events
	Furthest    map[string]uint8  // journey → highest stage index reached
	Negative    uint64            // churn-signal touchpoint events

	// Acquisition: the campaign and the first path segment of the first
	// page ("/blog", "/" for the home page) of the person's earliest event
	// that has them ("" when none).
	CampaignSource, CampaignMedium, LandingSection string

	// Spend sums properties.revenue; CompanySize is the largest
	// traits.company_size (HasCompanySize false when never sent).
	Spend          float64
	CompanySize    float64
	HasCompanySize bool
}

// CustomerFeatures computes CustomerFeatures for every person with an event
// on the filter's days (From and To inclusive; zero means unbounded). Journey
// and Persona of the filter are ignored: clustering looks at everybody.
// Ordered by person.
func (s *Store) CustomerFeatures(ctx context.Context, f Filter) ([]CustomerFeatures, error) {
	where, args := Filter{From: f.From, To: f.To}.where("toDate(e.ts)")
	// links folds anonymous ids into the user they identified as; an
	// anonymous id linked to several users (shared devices) goes to one of
	// them, which is fine for a behavioural profile.
	q := `WITH links AS (
    SELECT anonymous_id, any(user_id) AS uid
    FROM ` + s.table("events") + `
    WHERE user_id != '' AND anonymous_id != ''
    GROUP BY anonymous_id
)
SELECT
    if(e.user_id != '', e.user_id, if(l.uid != '', l.uid, e.customer_id)) AS person,
    argMax(e.persona, e.ts) AS persona,
    count() AS events,
    uniqExact(toDate(e.ts)) AS active_days,
    (toUnixTimestamp64Milli(max(e.ts)) - toUnixTimestamp64Milli(min(e.ts))) / 3600000 AS span_hours,
    sumMap(map(toString(e.channel), toUInt64(1))) AS channels,
    sumMapIf(map(concat(toString(e.journey), '/', toString(e.touchpoint)), toUInt64(1)), e.touchpoint != '') AS touchpoints,
    maxMapIf(map(toString(e.journey), e.stage_index), e.journey != '') AS furthest,
    countIf(e.negative) AS negative,
    argMinIf(toString(e.campaign_source), e.ts, e.campaign_source != '') AS campaign_source,
    argMinIf(toString(e.campaign_medium), e.ts, e.campaign_medium != '') AS campaign_medium,
    argMinIf(concat('/', splitByChar('/', e.page_path)[2]), e.ts, startsWith(e.page_path, '/')) AS landing_section,
    sum(JSONExtractFloat(e.properties, 'revenue')) AS spend,
    max(JSONExtractFloat(e.traits, 'company_size')) AS company_size,
    countIf(JSONHas(e.traits, 'company_size')) > 0 AS has_company_size
FROM ` + s.table("events") + ` AS e
LEFT JOIN links AS l ON l.anonymous_id = e.anonymous_id` + where + `
GROUP BY person
ORDER BY person
SETTINGS join_use_nulls = 0`
	var out []CustomerFeatures
	err := s.query(ctx, "customer features", q, args, func(r scanner) error {
		var x CustomerFeatures
		if err := r.Scan(&x.Person, &x.Persona, &x.Events, &x.ActiveDays, &x.SpanHours, &x.Channels,
			&x.Touchpoints, &x.Furthest, &x.Negative, &x.CampaignSource, &x.CampaignMedium, &x.LandingSection,
			&x.Spend, &x.CompanySize, &x.HasCompanySize); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}
