package personas

import (
	"math"
	"slices"
	"sort"

	"github.com/journeys-analytics/journeys/aggregate"
)

// group names a block of features; each block weighs the same in distances,
// whatever its number of columns, so that twenty touchpoint columns do not
// drown three activity columns.
const (
	groupActivity    = "activity"
	groupChannels    = "channels"
	groupTouchpoints = "touchpoints"
	groupProgress    = "progress"
	groupAcquisition = "acquisition"
	groupValue       = "value"
)

// column is one dimension of the feature vector.
type column struct {
	name  string // readable, e.g. "events (log)", "channel=web"
	group string
	raw   func(c *aggregate.CustomerFeatures) float64
}

// minCategoryShare drops categorical values too rare to describe a persona;
// they would only add dimensions.
const minCategoryShare = 0.01

// space is the feature space of one set of people: its columns and, per
// column, the min-max scaling and group weight.
type space struct {
	cols   []column
	lo, hi []float64
	weight []float64
}

func log1p(x float64) float64 { return math.Log1p(math.Max(x, 0)) }

// newSpace derives the columns from the data: channels, touchpoints,
// journeys and acquisition values seen in it.
func newSpace(cs []aggregate.CustomerFeatures, weights map[string]float64) *space {
	var cols []column
	add := func(group, name string, f func(c *aggregate.CustomerFeatures) float64) {
		cols = append(cols, column{name: name, group: group, raw: f})
	}
	add(groupActivity, "events (log)", func(c *aggregate.CustomerFeatures) float64 { return log1p(float64(c.Events)) })
	add(groupActivity, "active days (log)", func(c *aggregate.CustomerFeatures) float64 { return log1p(float64(c.ActiveDays)) })
	add(groupActivity, "active span hours (log)", func(c *aggregate.CustomerFeatures) float64 { return log1p(c.SpanHours) })

	channels, touchpoints, journeys := map[string]int{}, map[string]int{}, map[string]uint8{}
	sources, mediums, sections := map[string]int{}, map[string]int{}, map[string]int{}
	for i := range cs {
		c := &cs[i]
		for k := range c.Channels {
			channels[k]++
		}
		for k := range c.Touchpoints {
			touchpoints[k]++
		}
		for k, v := range c.Furthest {
			journeys[k] = max(journeys[k], v)
		}
		sources[c.CampaignSource]++
		mediums[c.CampaignMedium]++
		sections[c.LandingSection]++
	}
	n := float64(len(cs))
	frequent := func(m map[string]int) []string {
		var out []string
		for k, v := range m {
			if float64(v) >= minCategoryShare*n {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	for _, ch := range frequent(channels) {
		add(groupChannels, "channel="+ch+" (share)", func(c *aggregate.CustomerFeatures) float64 {
			return float64(c.Channels[ch]) / math.Max(1, float64(c.Events))
		})
	}
	for _, tp := range frequent(touchpoints) {
		add(groupTouchpoints, "touchpoint "+tp, func(c *aggregate.CustomerFeatures) float64 {
			return b2f(c.Touchpoints[tp] > 0)
		})
	}
	js := make([]string, 0, len(journeys))
	for j := range journeys {
		js = append(js, j)
	}
	sort.Strings(js)
	for _, j := range js {
		top := float64(journeys[j]) + 1
		add(groupProgress, "furthest stage of "+j, func(c *aggregate.CustomerFeatures) float64 {
			s, ok := c.Furthest[j]
			if !ok {
				return 0
			}
			return (float64(s) + 1) / top
		})
	}
	for _, v := range frequent(sources) {
		add(groupAcquisition, attrSource+"="+label(v), func(c *aggregate.CustomerFeatures) float64 { return b2f(c.CampaignSource == v) })
	}
	for _, v := range frequent(mediums) {
		add(groupAcquisition, attrMedium+"="+label(v), func(c *aggregate.CustomerFeatures) float64 { return b2f(c.CampaignMedium == v) })
	}
	for _, v := range frequent(sections) {
		add(groupAcquisition, attrSection+"="+label(v), func(c *aggregate.CustomerFeatures) float64 { return b2f(c.LandingSection == v) })
	}
	add(groupValue, "spend (log)", func(c *aggregate.CustomerFeatures) float64 { return log1p(c.Spend) })
	add(groupValue, "company size (log)", func(c *aggregate.CustomerFeatures) float64 {
		if !c.HasCompanySize {
			return 0
		}
		return log1p(c.CompanySize)
	})
	add(groupValue, "churn signals (log)", func(c *aggregate.CustomerFeatures) float64 { return log1p(float64(c.Negative)) })

	sp := &space{cols: cols, lo: make([]float64, len(cols)), hi: make([]float64, len(cols)), weight: make([]float64, len(cols))}
	perGroup := map[string]int{}
	for _, c := range cols {
		perGroup[c.group]++
	}
	for j, col := range cols {
		sp.lo[j], sp.hi[j] = math.Inf(1), math.Inf(-1)
		for i := range cs {
			v := col.raw(&cs[i])
			sp.lo[j], sp.hi[j] = math.Min(sp.lo[j], v), math.Max(sp.hi[j], v)
		}
		// Squared distances add up over columns, so a group of m columns
		// gets weight 1/sqrt(m) per column to weigh as much as one column.
		sp.weight[j] = 1 / math.Sqrt(float64(perGroup[col.group]))
		if w, ok := weights[col.group]; ok {
			sp.weight[j] *= math.Sqrt(w)
		}
	}
	return sp
}

// vector is c's point: each column scaled to [0, 1] and weighted.
func (sp *space) vector(c *aggregate.CustomerFeatures) []float64 {
	v := make([]float64, len(sp.cols))
	for j, col := range sp.cols {
		if d := sp.hi[j] - sp.lo[j]; d > 0 {
			v[j] = (col.raw(c) - sp.lo[j]) / d * sp.weight[j]
		}
	}
	return v
}

// raw is c's unscaled column values, for describing clusters.
func (sp *space) raw(c *aggregate.CustomerFeatures) []float64 {
	v := make([]float64, len(sp.cols))
	for j, col := range sp.cols {
		v[j] = col.raw(c)
	}
	return v
}

// label shows an empty categorical value readably.
func label(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// mean and stddev of column j over rows.
func meanStd(rows [][]float64, j int) (float64, float64) {
	if len(rows) == 0 {
		return 0, 0
	}
	var s, s2 float64
	for _, r := range rows {
		s += r[j]
		s2 += r[j] * r[j]
	}
	n := float64(len(rows))
	m := s / n
	return m, math.Sqrt(math.Max(0, s2/n-m*m))
}

// quantile of xs (sorted in place) at level q, by nearest rank.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(math.Floor(q * float64(len(xs)-1)))
	return xs[i]
}
