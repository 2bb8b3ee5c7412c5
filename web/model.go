package web

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
)

// Health of a cell: its conversion to the next stage against a reference
// (the same stage over all personas; for the all-personas lane, the
// journey's average over its non-final stages).
const (
	healthGood  = "good"  // at least 95% of the reference
	healthFair  = "fair"  // 80–95%
	healthPoor  = "poor"  // below 80%
	healthNone  = "none"  // final stage: nothing to convert to
	healthEmpty = "empty" // nobody reached it
)

func health(conv, ref float64, reached uint64, final bool) string {
	switch {
	case reached == 0:
		return healthEmpty
	case final:
		return healthNone
	case ref == 0 || conv >= 0.95*ref:
		return healthGood
	case conv >= 0.8*ref:
		return healthFair
	}
	return healthPoor
}

type navItem struct {
	Name, URL string
	Current   bool
}

type mapPage struct {
	Title      string
	MapVersion string
	Nav        []navItem
	Journey    enrich.JourneyDef
	Filter     filter
	Personas   []personaInfo // choices of the persona filter
	Problems   []string      // invalid parameters: nothing was queried
	Stages     []stageHead
	Lanes      []lane
	AvgConv    float64 // journey average conversion over non-final stages
	Churn      churnPanel
}

type stageHead struct {
	Index   int
	Name    string
	Reached uint64 // all personas
}

type lane struct {
	All         bool
	Persona     string
	Description string
	AtRiskURL   string // "" without churn scoring
	Cells       []cell
	Churn       []bandCount
	AtRisk      uint64 // customers outside the safe band
}

type cell struct {
	Persona    string // "" in the all-personas lane
	Stage      string
	StageIndex int
	Final      bool
	aggregate.StageCell
	Conversion, DropOff float64
	Health              string
	Bar                 float64 // Reached as % of the busiest cell of the lane
	Touchpoints         []touchCell
}

type touchCell struct {
	Name      string
	Negative  bool
	Customers uint64
	Bar       float64 // % of the busiest touchpoint of the cell
}

type bandCount struct {
	Band      string
	Customers uint64
	AvgRisk   float64
	Safe      bool
}

type churnPanel struct {
	Available bool
	SafeBand  string
	Bands     []string // every band seen, riskiest first
	Total     uint64
}

func (h *Handler) nav(current string, q string) []navItem {
	var out []navItem
	for _, j := range h.journeys {
		out = append(out, navItem{Name: j.Name, URL: "/journeys/" + url.PathEscape(j.Name) + q, Current: j.Name == current})
	}
	return out
}

func (h *Handler) newMapPage(j enrich.JourneyDef, f filter) mapPage {
	p := mapPage{
		Title:      j.Name,
		MapVersion: h.jm.Version(),
		Nav:        h.nav(j.Name, f.query()),
		Journey:    j,
		Filter:     f,
		Personas:   h.personas,
	}
	for _, s := range j.Stages {
		p.Stages = append(p.Stages, stageHead{Index: s.Index, Name: s.Name})
	}
	return p
}

// loadMap reads the cells, touchpoints and churn counts of a journey and lays
// them out: lanes in the map's persona order (all personas first, unless the
// filter picks one), then personas found only in the data.
func (h *Handler) loadMap(ctx context.Context, p *mapPage, j enrich.JourneyDef, f filter) error {
	af := aggregate.Filter{Journey: j.Name, Persona: f.Persona, From: f.from, To: f.to}
	cells, err := h.src.JourneyMapCells(ctx, af)
	if err != nil {
		return err
	}
	touches, err := h.src.TouchpointReach(ctx, af)
	if err != nil {
		return err
	}
	p.Churn.SafeBand = h.cfg.SafeBand
	if p.Churn.Available, err = h.src.ChurnAvailable(ctx); err != nil {
		return err
	}
	var bands []aggregate.ChurnBandCount
	if p.Churn.Available {
		if bands, err = h.src.ChurnBands(ctx, aggregate.Filter{Journey: j.Name, Persona: f.Persona}); err != nil {
			return err
		}
	}

	type key struct {
		all     bool
		persona string
		stage   int
	}
	byCell := map[key]aggregate.StageCell{}
	seen := map[string]bool{}
	for _, c := range cells {
		if c.Journey != j.Name || int(c.StageIndex) >= len(j.Stages) {
			continue // stages of an older map with more stages
		}
		byCell[key{c.AllPersonas, c.Persona, int(c.StageIndex)}] = c
		if !c.AllPersonas {
			seen[c.Persona] = true
		}
	}
	type tkey struct {
		all        bool
		persona    string
		stage      int
		touchpoint string
	}
	byTouch := map[tkey]uint64{}
	for _, t := range touches {
		if t.Journey == j.Name {
			byTouch[tkey{t.AllPersonas, t.Persona, int(t.StageIndex), t.Touchpoint}] = t.Customers
		}
	}
	for _, b := range bands {
		seen[b.Persona] = true
	}

	// Reference conversions for health.
	var sumR, sumP uint64
	stageConv := make([]float64, len(j.Stages))
	for i := range j.Stages {
		c := byCell[key{true, "", i}]
		p.Stages[i].Reached = c.Reached
		stageConv[i] = c.ConversionRate()
		if i < len(j.Stages)-1 {
			sumR += c.Reached
			sumP += c.Progressed
		}
	}
	if sumR > 0 {
		p.AvgConv = float64(sumP) / float64(sumR)
	}

	var lanes []lane
	if f.Persona == "" {
		lanes = append(lanes, lane{All: true, Description: "Every customer, under any persona."})
	}
	for _, pi := range h.personas {
		if f.Persona == "" || f.Persona == pi.Name {
			lanes = append(lanes, lane{Persona: pi.Name, Description: pi.Description})
		}
	}
	var extra []string
	for name := range seen {
		if !h.knownPersona(name) && (f.Persona == "" || f.Persona == name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		lanes = append(lanes, lane{Persona: name, Description: "Not in the current journey map."})
	}

	bandSet := map[string]float64{}
	for i := range lanes {
		l := &lanes[i]
		var busiest uint64
		for si, s := range j.Stages {
			sc := byCell[key{l.All, l.Persona, si}]
			sc.Journey, sc.StageIndex, sc.Stage = j.Name, uint8(si), s.Name
			final := si == len(j.Stages)-1
			ref := stageConv[si]
			if l.All {
				ref = p.AvgConv
			}
			c := cell{
				Persona: l.Persona, Stage: s.Name, StageIndex: si, Final: final, StageCell: sc,
				Conversion: sc.ConversionRate(), DropOff: sc.DropOffRate(),
				Health: health(sc.ConversionRate(), ref, sc.Reached, final),
			}
			var topTouch uint64
			for _, t := range s.Touchpoints {
				n := byTouch[tkey{l.All, l.Persona, si, t.Name}]
				c.Touchpoints = append(c.Touchpoints, touchCell{Name: t.Name, Negative: t.Negative, Customers: n})
				topTouch = max(topTouch, n)
			}
			for k := range c.Touchpoints {
				c.Touchpoints[k].Bar = share(c.Touchpoints[k].Customers, topTouch)
			}
			busiest = max(busiest, sc.Reached)
			l.Cells = append(l.Cells, c)
		}
		for k := range l.Cells {
			l.Cells[k].Bar = share(l.Cells[k].Reached, busiest)
		}
		if !p.Churn.Available || l.All {
			continue
		}
		l.AtRiskURL = "/journeys/" + url.PathEscape(j.Name) + "/personas/" + url.PathEscape(l.Persona)
		for _, b := range bands {
			if b.Persona != l.Persona {
				continue
			}
			safe := b.Band == h.cfg.SafeBand
			l.Churn = append(l.Churn, bandCount{Band: b.Band, Customers: b.Customers, AvgRisk: b.AvgRisk, Safe: safe})
			bandSet[b.Band] = max(bandSet[b.Band], b.AvgRisk)
			if !safe {
				l.AtRisk += b.Customers
			}
			p.Churn.Total += b.Customers
		}
	}
	for b := range bandSet {
		p.Churn.Bands = append(p.Churn.Bands, b)
	}
	// Riskiest band first: bands are named by the churn scoring, so their
	// order comes from the scores, not from their names.
	slices.SortFunc(p.Churn.Bands, func(a, b string) int {
		return cmp.Or(cmp.Compare(bandSet[b], bandSet[a]), cmp.Compare(a, b))
	})
	for i := range lanes {
		l := &lanes[i]
		if l.All || !p.Churn.Available {
			continue
		}
		full := make([]bandCount, len(p.Churn.Bands))
		for k, b := range p.Churn.Bands {
			full[k] = bandCount{Band: b, Safe: b == h.cfg.SafeBand}
			for _, c := range l.Churn {
				if c.Band == b {
					full[k] = c
				}
			}
		}
		l.Churn = full
	}
	p.Lanes = lanes
	return nil
}

func share(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

type atRiskPage struct {
	Title      string
	MapVersion string
	Nav        []navItem
	Journey    enrich.JourneyDef
	Persona    string
	Available  bool
	SafeBand   string
	Limit      int
	Customers  []aggregate.AtRiskCustomer
	BackURL    string
}

func (h *Handler) loadAtRisk(ctx context.Context, j enrich.JourneyDef, persona string) (atRiskPage, error) {
	p := atRiskPage{
		Title:      persona + " at risk · " + j.Name,
		MapVersion: h.jm.Version(),
		Nav:        h.nav(j.Name, ""),
		Journey:    j,
		Persona:    persona,
		SafeBand:   h.cfg.SafeBand,
		Limit:      h.cfg.AtRiskLimit,
		BackURL:    "/journeys/" + url.PathEscape(j.Name) + "?" + url.Values{"persona": {persona}}.Encode(),
	}
	var err error
	if p.Available, err = h.src.ChurnAvailable(ctx); err != nil || !p.Available {
		return p, err
	}
	p.Customers, err = h.src.AtRisk(ctx, aggregate.Filter{Journey: j.Name, Persona: persona}, h.cfg.SafeBand, h.cfg.AtRiskLimit)
	return p, err
}

type errorPage struct {
	Title, MapVersion, Message string
	Nav                        []navItem
}

func (h *Handler) errorPage(title, msg string) errorPage {
	return errorPage{Title: title, Message: msg, MapVersion: h.jm.Version(), Nav: h.nav("", "")}
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"num": func(n uint64) string {
			s := strconv.FormatUint(n, 10)
			var b strings.Builder
			for i, c := range s {
				if i > 0 && (len(s)-i)%3 == 0 {
					b.WriteByte(',')
				}
				b.WriteRune(c)
			}
			return b.String()
		},
		"pct": func(r float64) string { return strconv.FormatFloat(100*r, 'f', 1, 64) + "%" },
		// raw renders a float for data attributes: full precision, so tests
		// compare exactly what ClickHouse returned.
		"raw":        func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) },
		"w":          func(f float64) string { return strconv.FormatFloat(math.Max(0, math.Min(100, f)), 'f', 2, 64) },
		"dur":        humanDuration,
		"risk":       func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
		"when":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"mainFactor": mainFactor,
		// Churn factors are fractions of the score, 0..1.
		"mul100": func(f float64) float64 { return 100 * f },
	}
}

// humanDuration renders seconds the way people read a median: two units at
// most.
func humanDuration(sec float64) string {
	neg := sec < 0
	d := time.Duration(math.Abs(sec) * float64(time.Second)).Round(time.Second)
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	if neg {
		return "−" + s
	}
	return s
}

// mainFactor names the largest factor of a score, the first thing to act on.
func mainFactor(c aggregate.AtRiskCustomer) string {
	name, v := "inactivity", c.Inactivity
	for _, f := range []struct {
		name string
		v    float64
	}{{"decline", c.Decline}, {"stall", c.Stall}, {"negative touchpoints", c.Negative}} {
		if f.v > v {
			name, v = f.name, f.v
		}
	}
	if v == 0 {
		return "—"
	}
	return name
}
