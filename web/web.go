package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/enrich"
)

// Source is the ClickHouse data the pages show; aggregate.Store implements it.
type Source interface {
	JourneyMapCells(ctx context.Context, f aggregate.Filter) ([]aggregate.StageCell, error)
	TouchpointReach(ctx context.Context, f aggregate.Filter) ([]aggregate.TouchpointReachRow, error)
	ChurnAvailable(ctx context.Context) (bool, error)
	ChurnBands(ctx context.Context, f aggregate.Filter) ([]aggregate.ChurnBandCount, error)
	AtRisk(ctx context.Context, f aggregate.Filter, excludeBand string, limit int) ([]aggregate.AtRiskCustomer, error)
}

// JourneyMap is the structure the pages lay out: journeys, stages,
// touchpoints and personas. *enrich.Map implements it.
type JourneyMap interface {
	Journeys() []enrich.JourneyDef
	Personas() []enrich.PersonaDef
	DefaultPersona() string
	Version() string
}

// Config tunes the pages. The zero Config is usable.
type Config struct {
	// QueryTimeout bounds the ClickHouse reads of one page. 0: 15s.
	QueryTimeout time.Duration
	// AtRiskLimit is the most customers the at-risk page lists. 0: 200.
	AtRiskLimit int
	// SafeBand is the churn band that is not "at risk". "": "low".
	SafeBand string
}

// Handler serves the pages. It is safe for concurrent use.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
	src      Source
	jm       JourneyMap
	journeys []enrich.JourneyDef
	personas []personaInfo // map personas, priority order, then the default
	pages    *template.Template
	mux      *http.ServeMux
}

type personaInfo struct{ Name, Description string }

//go:embed assets
var assets embed.FS

// New builds the handler. It parses the embedded templates, so an error here
// is a bug in them.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer, src Source, jm JourneyMap) (*Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 15 * time.Second
	}
	if cfg.AtRiskLimit == 0 {
		cfg.AtRiskLimit = 200
	}
	if cfg.SafeBand == "" {
		cfg.SafeBand = "low"
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	pages, err := template.New("").Funcs(funcs()).ParseFS(assets, "assets/templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, fmt.Errorf("web: static: %w", err)
	}
	h := &Handler{cfg: cfg, log: log, metrics: m, src: src, jm: jm, journeys: jm.Journeys(), pages: pages}
	for _, p := range jm.Personas() {
		h.personas = append(h.personas, personaInfo{p.Name, p.Description})
	}
	if d := jm.DefaultPersona(); d != "" && !slices.ContainsFunc(h.personas, func(p personaInfo) bool { return p.Name == d }) {
		h.personas = append(h.personas, personaInfo{d, "Customers no persona rule has matched yet."})
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /journeys/{journey}", h.journeyMap)
	mux.HandleFunc("GET /journeys/{journey}/personas/{persona}", h.atRisk)
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", h.count(pageStatic, files))
	h.mux = mux
	return h, nil
}

// ServeHTTP serves the pages with security headers that suit a page with no
// script, no frames and no third-party resources.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// statusWriter remembers the status code for the requests metric.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (h *Handler) count(page string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		h.metrics.requests.WithLabelValues(page, strconv.Itoa(sw.code)).Inc()
	})
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	// Every journey has its own page; the first is the natural start.
	u := "/journeys/" + url.PathEscape(h.journeys[0].Name)
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, u, http.StatusFound)
	h.metrics.requests.WithLabelValues(pageIndex, strconv.Itoa(http.StatusFound)).Inc()
}

// render executes a page template into a buffer first, so that a template
// error becomes a clean 500 instead of half a page.
func (h *Handler) render(w http.ResponseWriter, page string, code int, name string, data any) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.log.Error("web: render", "page", page, "err", err)
		code = http.StatusInternalServerError
		http.Error(w, "internal error", code)
		h.metrics.requests.WithLabelValues(page, strconv.Itoa(code)).Inc()
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
	h.metrics.requests.WithLabelValues(page, strconv.Itoa(code)).Inc()
}

func (h *Handler) journey(name string) (enrich.JourneyDef, bool) {
	for _, j := range h.journeys {
		if j.Name == name {
			return j, true
		}
	}
	return enrich.JourneyDef{}, false
}

func (h *Handler) knownPersona(name string) bool {
	return slices.ContainsFunc(h.personas, func(p personaInfo) bool { return p.Name == name })
}

// filter is a validated set of query parameters.
type filter struct {
	From, To string // YYYY-MM-DD or ""
	Persona  string // a persona of the map or ""
	from, to time.Time
}

// parseFilter validates from, to and persona; every problem is reported.
func (h *Handler) parseFilter(q url.Values) (filter, []string) {
	var f filter
	var problems []string
	day := func(key string) (string, time.Time) {
		v := q.Get(key)
		if v == "" {
			return "", time.Time{}
		}
		t, err := time.Parse(time.DateOnly, v)
		// ClickHouse's Date holds 1970-01-01..2149-06-06; outside it a bound
		// would wrap around instead of failing.
		if err != nil || t.Year() < 1970 || t.After(time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC)) {
			problems = append(problems, fmt.Sprintf("%s: %q is not a date between 1970-01-01 and 2149-06-06 (YYYY-MM-DD)", key, v))
			return "", time.Time{}
		}
		return v, t
	}
	f.From, f.from = day("from")
	f.To, f.to = day("to")
	if !f.from.IsZero() && !f.to.IsZero() && f.to.Before(f.from) {
		problems = append(problems, fmt.Sprintf("to (%s) is before from (%s)", f.To, f.From))
	}
	if p := q.Get("persona"); p != "" {
		if h.knownPersona(p) {
			f.Persona = p
		} else {
			problems = append(problems, fmt.Sprintf("persona: %q is not a persona of the journey map", p))
		}
	}
	return f, problems
}

// query returns the filter as query parameters, for links that keep it.
func (f filter) query() string {
	v := url.Values{}
	if f.From != "" {
		v.Set("from", f.From)
	}
	if f.To != "" {
		v.Set("to", f.To)
	}
	if f.Persona != "" {
		v.Set("persona", f.Persona)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func (h *Handler) journeyMap(w http.ResponseWriter, r *http.Request) {
	j, ok := h.journey(r.PathValue("journey"))
	if !ok {
		h.render(w, pageMap, http.StatusNotFound, "error.html", h.errorPage("Unknown journey",
			fmt.Sprintf("There is no journey %q in the journey map.", r.PathValue("journey"))))
		return
	}
	f, problems := h.parseFilter(r.URL.Query())
	page := h.newMapPage(j, f)
	if len(problems) > 0 {
		page.Problems = problems
		h.render(w, pageMap, http.StatusBadRequest, "map.html", page)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.QueryTimeout)
	defer cancel()
	if err := h.loadMap(ctx, &page, j, f); err != nil {
		h.log.Error("web: journey map", "journey", j.Name, "err", err)
		h.render(w, pageMap, http.StatusServiceUnavailable, "error.html", h.errorPage("ClickHouse unavailable",
			"The numbers could not be read from ClickHouse. The error is in the server's log; try again shortly."))
		return
	}
	h.render(w, pageMap, http.StatusOK, "map.html", page)
}

func (h *Handler) atRisk(w http.ResponseWriter, r *http.Request) {
	j, ok := h.journey(r.PathValue("journey"))
	if !ok {
		h.render(w, pageAtRisk, http.StatusNotFound, "error.html", h.errorPage("Unknown journey",
			fmt.Sprintf("There is no journey %q in the journey map.", r.PathValue("journey"))))
		return
	}
	persona := r.PathValue("persona")
	if !h.knownPersona(persona) {
		h.render(w, pageAtRisk, http.StatusNotFound, "error.html", h.errorPage("Unknown persona",
			fmt.Sprintf("There is no persona %q in the journey map.", persona)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.QueryTimeout)
	defer cancel()
	page, err := h.loadAtRisk(ctx, j, persona)
	if err != nil {
		h.log.Error("web: at risk", "journey", j.Name, "persona", persona, "err", err)
		h.render(w, pageAtRisk, http.StatusServiceUnavailable, "error.html", h.errorPage("ClickHouse unavailable",
			"The churn scores could not be read from ClickHouse. The error is in the server's log; try again shortly."))
		return
	}
	h.render(w, pageAtRisk, http.StatusOK, "atrisk.html", page)
}
