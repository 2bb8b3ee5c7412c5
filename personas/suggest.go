package personas

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/muesli/clusters"
	"github.com/muesli/kmeans"

	"github.com/journeys-analytics/journeys/aggregate"
)

// Options tunes Suggest. Zero values take the defaults.
type Options struct {
	K        int // clusters; 0 picks the k in 2..MaxK with the best silhouette
	MaxK     int // default 8
	Restarts int // k-means runs per k, best (least squared error) kept; default 8
	// Weights multiplies the weight of a feature group (activity, channels,
	// touchpoints, progress, acquisition, value) in squared distances; a
	// group not named weighs 1, 0 leaves it out. nil means DefaultWeights.
	Weights map[string]float64
	// Seed drives the silhouette sample only; k-means itself draws from
	// math/rand's global source, which the library does not let us seed.
	Seed uint64
}

// DefaultWeights counts acquisition ten times. Persona rules can only use
// what events carry, and the first events carry the campaign: a clustering
// led by acquisition yields rules that work. Behaviour alone (all weights 1)
// hardly recovers the generator's personas (adjusted Rand index 0.02-0.26
// against 0.66-0.83 with these weights, recover_test.go), because personas
// there differ in rates, which do not separate individuals.
func DefaultWeights() map[string]float64 { return map[string]float64{groupAcquisition: 10} }

// Groups lists the feature groups Weights can name.
func Groups() []string {
	return []string{groupActivity, groupChannels, groupTouchpoints, groupProgress, groupAcquisition, groupValue}
}

// Suggestion is the result of Suggest.
type Suggestion struct {
	K          int
	Silhouette float64         // mean silhouette of the chosen clustering, on a sample
	Tried      map[int]float64 // k → silhouette, when K was chosen
	People     int
	Clusters   []Cluster
	// Assignment is each person's cluster index into Clusters.
	Assignment map[string]int
}

// Cluster is one proposed persona.
type Cluster struct {
	Name  string // proposed persona name; rename freely
	Size  int
	Share float64
	// Distinct lists the features where the cluster differs most from
	// everybody, strongest first.
	Distinct []Trait
	// Rule is a journey-map `when` expression matching the cluster's
	// people, "" when no event attribute identifies it well enough. Its
	// precision (share of matched people in this cluster) and recall (share
	// of the cluster matched) are measured on the same people.
	Rule              string
	Precision, Recall float64
	Priority          int
	Personas          map[string]int // current persona (from the map) → people in this cluster
}

// Trait is a feature of a cluster against the population.
type Trait struct {
	Feature             string
	Cluster, Population float64 // means of the raw feature (shares for yes/no features)
	Effect              float64 // (cluster − population) / population stddev
}

const (
	attrSource  = "campaign source"
	attrMedium  = "campaign medium"
	attrSection = "landing section"
	attrSize    = "company size"
)

// Rule search: a condition is kept when at least minPrecision of the people
// it matches are in the cluster; conditions are added, best coverage first,
// while each adds at least minGain of the cluster.
const (
	minPrecision = 0.75
	minGain      = 0.05
	maxConds     = 4
	maxTraits    = 5
	sampleSize   = 800
)

// Suggest clusters people and proposes personas. It needs at least 2·k
// people.
func Suggest(cs []aggregate.CustomerFeatures, o Options) (*Suggestion, error) {
	if o.MaxK == 0 {
		o.MaxK = 8
	}
	if o.Restarts == 0 {
		o.Restarts = 8
	}
	if o.Weights == nil {
		o.Weights = DefaultWeights()
	}
	for g, w := range o.Weights {
		if !slices.Contains(Groups(), g) || w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("personas: weight %s=%g: want a group of %v and a finite weight >= 0", g, w, Groups())
		}
	}
	if o.K < 0 || o.K == 1 || o.MaxK < 2 {
		return nil, fmt.Errorf("personas: k must be 0 (choose) or >= 2, max k >= 2")
	}
	minPeople := 2 * max(o.K, 2)
	if len(cs) < minPeople {
		return nil, fmt.Errorf("personas: %d people, need at least %d", len(cs), minPeople)
	}
	sp := newSpace(cs, o.Weights)
	points := make([]clusters.Coordinates, len(cs))
	obs := make(clusters.Observations, len(cs))
	for i := range cs {
		points[i] = sp.vector(&cs[i])
		obs[i] = points[i]
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6a6f75726e657973))
	sample := rng.Perm(len(cs))[:min(sampleSize, len(cs))]

	s := &Suggestion{People: len(cs)}
	var best []int
	if o.K > 0 {
		labels, err := partition(obs, points, o.K, o.Restarts)
		if err != nil {
			return nil, err
		}
		best, s.K, s.Silhouette = labels, o.K, silhouette(points, labels, sample)
	} else {
		s.Tried = map[int]float64{}
		for k := 2; k <= min(o.MaxK, len(cs)/2); k++ {
			labels, err := partition(obs, points, k, o.Restarts)
			if err != nil {
				return nil, err
			}
			sil := silhouette(points, labels, sample)
			s.Tried[k] = sil
			if best == nil || sil > s.Silhouette {
				best, s.K, s.Silhouette = labels, k, sil
			}
		}
	}
	s.describe(cs, sp, best)
	return s, nil
}

// partition runs k-means restarts times and keeps the labelling with the
// least within-cluster squared error.
func partition(obs clusters.Observations, points []clusters.Coordinates, k, restarts int) ([]int, error) {
	km, err := kmeans.NewWithOptions(0.001, nil)
	if err != nil {
		return nil, err
	}
	var best []int
	bestSSE := math.Inf(1)
	for range restarts {
		cc, err := km.Partition(obs, k)
		if err != nil {
			return nil, fmt.Errorf("personas: k-means: %w", err)
		}
		labels := make([]int, len(points))
		sse := 0.0
		for i, p := range points {
			labels[i] = cc.Nearest(p)
			sse += p.Distance(cc[labels[i]].Center)
		}
		if sse < bestSSE {
			best, bestSSE = labels, sse
		}
	}
	if best == nil {
		return nil, errors.New("personas: k-means: no run")
	}
	return best, nil
}

// silhouette is the mean silhouette coefficient of the sampled points,
// against the sampled points (Euclidean distance).
func silhouette(points []clusters.Coordinates, labels []int, sample []int) float64 {
	k := slices.Max(labels) + 1
	total, n := 0.0, 0
	sum := make([]float64, k)
	cnt := make([]int, k)
	for _, i := range sample {
		clear(sum)
		clear(cnt)
		for _, j := range sample {
			if i == j {
				continue
			}
			sum[labels[j]] += math.Sqrt(points[i].Distance(points[j]))
			cnt[labels[j]]++
		}
		own := labels[i]
		if cnt[own] == 0 {
			n++ // a singleton scores 0
			continue
		}
		a := sum[own] / float64(cnt[own])
		b := math.Inf(1)
		for c := range k {
			if c != own && cnt[c] > 0 {
				b = math.Min(b, sum[c]/float64(cnt[c]))
			}
		}
		if math.IsInf(b, 1) {
			n++
			continue
		}
		total += (b - a) / math.Max(a, b)
		n++
	}
	if n == 0 {
		return 0
	}
	return total / float64(n)
}

// condition is a candidate rule term.
type condition struct {
	expr, label string
	match       func(c *aggregate.CustomerFeatures) bool
}

func candidates(cs []aggregate.CustomerFeatures) []condition {
	var out []condition
	seen := map[string]bool{}
	for i := range cs {
		c := &cs[i]
		for _, a := range []struct{ attr, v string }{
			{attrSource, c.CampaignSource}, {attrMedium, c.CampaignMedium}, {attrSection, c.LandingSection},
		} {
			if a.v == "" || seen[a.attr+"\x00"+a.v] {
				continue
			}
			seen[a.attr+"\x00"+a.v] = true
			out = append(out, categorical(a.attr, a.v))
		}
	}
	var sizes []float64
	for i := range cs {
		if cs[i].HasCompanySize {
			sizes = append(sizes, cs[i].CompanySize)
		}
	}
	if len(sizes) > 0 {
		// Thresholds at the deciles: round numbers would be nicer to read
		// but could fall inside a cluster.
		for q := 0.1; q < 0.95; q += 0.1 {
			t := quantile(sizes, q)
			ts := strconv.FormatFloat(t, 'f', -1, 64)
			out = append(out,
				condition{
					expr:  "(traits.company_size != nil && traits.company_size >= " + ts + ")",
					label: attrSize + " >= " + ts,
					match: func(c *aggregate.CustomerFeatures) bool { return c.HasCompanySize && c.CompanySize >= t },
				},
				condition{
					expr:  "(traits.company_size != nil && traits.company_size < " + ts + ")",
					label: attrSize + " < " + ts,
					match: func(c *aggregate.CustomerFeatures) bool { return c.HasCompanySize && c.CompanySize < t },
				})
		}
	}
	slices.SortFunc(out, func(a, b condition) int { return cmp.Compare(a.expr, b.expr) })
	return out
}

func categorical(attr, v string) condition {
	q := strconv.Quote(v)
	var expr string
	var match func(c *aggregate.CustomerFeatures) bool
	switch attr {
	case attrSource:
		expr = "context.campaign.source == " + q
		match = func(c *aggregate.CustomerFeatures) bool { return c.CampaignSource == v }
	case attrMedium:
		expr = "context.campaign.medium == " + q
		match = func(c *aggregate.CustomerFeatures) bool { return c.CampaignMedium == v }
	default:
		expr = `(context.page.path ?? "") startsWith ` + q
		if v == "/" {
			expr = `context.page.path == "/"`
		}
		match = func(c *aggregate.CustomerFeatures) bool { return c.LandingSection == v }
	}
	return condition{expr: expr, label: attr + " = " + v, match: match}
}

// describe fills Clusters and Assignment from a labelling.
func (s *Suggestion) describe(cs []aggregate.CustomerFeatures, sp *space, labels []int) {
	k := s.K
	raw := make([][]float64, len(cs))
	members := make([][]int, k)
	s.Assignment = make(map[string]int, len(cs))
	for i := range cs {
		raw[i] = sp.raw(&cs[i])
		members[labels[i]] = append(members[labels[i]], i)
	}
	conds := candidates(cs)
	s.Clusters = make([]Cluster, k)
	for c := range k {
		cl := &s.Clusters[c]
		cl.Size = len(members[c])
		cl.Share = float64(cl.Size) / float64(len(cs))
		cl.Personas = map[string]int{}
		in := make([]bool, len(cs))
		rows := make([][]float64, 0, cl.Size)
		for _, i := range members[c] {
			in[i] = true
			rows = append(rows, raw[i])
			cl.Personas[cs[i].Persona]++
		}
		for j, col := range sp.cols {
			pm, psd := meanStd(raw, j)
			cm, _ := meanStd(rows, j)
			if psd == 0 {
				continue
			}
			cl.Distinct = append(cl.Distinct, Trait{Feature: col.name, Cluster: cm, Population: pm, Effect: (cm - pm) / psd})
		}
		slices.SortStableFunc(cl.Distinct, func(a, b Trait) int { return cmp.Compare(math.Abs(b.Effect), math.Abs(a.Effect)) })
		cl.Distinct = cl.Distinct[:min(maxTraits, len(cl.Distinct))]
		cl.Rule, cl.Precision, cl.Recall = rule(cs, in, cl.Size, conds)
		cl.Name = fmt.Sprintf("segment_%d", c+1)
		if len(cl.Distinct) > 0 {
			cl.Name = name(cl.Distinct[0], c+1)
		}
	}
	// Largest first, renumbered, so the output reads top-down.
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(s.Clusters[b].Size, s.Clusters[a].Size) })
	sorted := make([]Cluster, k)
	newIndex := make([]int, k)
	for n, o := range order {
		sorted[n] = s.Clusters[o]
		newIndex[o] = n
	}
	s.Clusters = sorted
	for i := range cs {
		s.Assignment[cs[i].Person] = newIndex[labels[i]]
	}
	// Priorities: the most precise rule first, so a person matching two
	// rules ends up where it most likely belongs.
	byPrecision := make([]int, 0, k)
	for i := range s.Clusters {
		if s.Clusters[i].Rule != "" {
			byPrecision = append(byPrecision, i)
		}
	}
	slices.SortStableFunc(byPrecision, func(a, b int) int {
		return cmp.Compare(s.Clusters[b].Precision, s.Clusters[a].Precision)
	})
	for r, i := range byPrecision {
		s.Clusters[i].Priority = 10 * (len(byPrecision) - r)
	}
	seen := map[string]int{}
	for i := range s.Clusters {
		n := s.Clusters[i].Name
		seen[n]++
		if seen[n] > 1 {
			s.Clusters[i].Name = fmt.Sprintf("%s_%d", n, seen[n])
		}
	}
}

// rule greedily ORs conditions of high precision for the cluster.
func rule(cs []aggregate.CustomerFeatures, in []bool, size int, conds []condition) (string, float64, float64) {
	if size == 0 {
		return "", 0, 0
	}
	type scored struct {
		c        condition
		hit, all int
	}
	var good []scored
	for _, c := range conds {
		var sc scored
		sc.c = c
		for i := range cs {
			if c.match(&cs[i]) {
				sc.all++
				if in[i] {
					sc.hit++
				}
			}
		}
		if sc.all > 0 && float64(sc.hit)/float64(sc.all) >= minPrecision && float64(sc.hit) >= minGain*float64(size) {
			good = append(good, sc)
		}
	}
	slices.SortStableFunc(good, func(a, b scored) int { return cmp.Compare(b.hit, a.hit) })
	covered := make([]bool, len(cs))
	var exprs []string
	hit, all := 0, 0
	for _, g := range good {
		if len(exprs) == maxConds {
			break
		}
		addHit, addAll := 0, 0
		for i := range cs {
			if !covered[i] && g.c.match(&cs[i]) {
				addAll++
				if in[i] {
					addHit++
				}
			}
		}
		if float64(addHit) < minGain*float64(size) || float64(hit+addHit)/float64(all+addAll) < minPrecision {
			continue
		}
		for i := range cs {
			if g.c.match(&cs[i]) {
				covered[i] = true
			}
		}
		hit, all = hit+addHit, all+addAll
		exprs = append(exprs, g.c.expr)
	}
	if len(exprs) == 0 {
		return "", 0, 0
	}
	return strings.Join(exprs, " ||\n  "), float64(hit) / float64(all), float64(hit) / float64(size)
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// name makes a persona name from the strongest trait, e.g.
// "high_campaign_source_linkedin".
func name(t Trait, n int) string {
	dir := "high"
	if t.Effect < 0 {
		dir = "low"
	}
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Feature), "_"), "_")
	s := dir + "_" + base
	if len(s) > 60 {
		s = s[:60]
	}
	if s == dir+"_" {
		return fmt.Sprintf("segment_%d", n)
	}
	return strings.TrimRight(s, "_")
}

// YAML renders the clusters with a rule as a ready-to-paste `personas:`
// section of a journey map (with comments on size, precision and recall).
func (s *Suggestion) YAML() string {
	var b strings.Builder
	b.WriteString("personas:\n")
	for _, c := range s.Clusters {
		if c.Rule == "" {
			fmt.Fprintf(&b, "  # %s (%d people, %.1f%%): no event attribute identifies it; left to default_persona\n",
				c.Name, c.Size, 100*c.Share)
			continue
		}
		fmt.Fprintf(&b, "  # %d people (%.1f%%); the rule matches %.1f%% of them at %.1f%% precision\n",
			c.Size, 100*c.Share, 100*c.Recall, 100*c.Precision)
		fmt.Fprintf(&b, "  - name: %s\n    priority: %d\n", c.Name, c.Priority)
		var ds []string
		for _, t := range c.Distinct[:min(3, len(c.Distinct))] {
			ds = append(ds, fmt.Sprintf("%s %s than average", t.Feature, map[bool]string{true: "higher", false: "lower"}[t.Effect > 0]))
		}
		fmt.Fprintf(&b, "    description: %s\n", strconv.Quote("Suggested from behaviour: "+strings.Join(ds, "; ")))
		fmt.Fprintf(&b, "    when: >-\n      %s\n", strings.ReplaceAll(c.Rule, "\n  ", "\n      "))
	}
	return b.String()
}
