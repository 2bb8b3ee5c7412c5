package gen

import (
	"strconv"
	"time"
)

// splitmix is SplitMix64: a tiny generator for the choices made while
// encoding, seeded by the spec, so that a duplicate re-encodes to the very
// same bytes without storing them.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s *splitmix) intn(n int) int { return int(s.next() % uint64(n)) }

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

// appendUUID writes a version 4 UUID made of a and b.
func appendUUID(b []byte, a, c uint64) []byte {
	a = a&^0xf000 | 0x4000                                 // version 4
	c = c&^(0xc000_0000_0000_0000) | 0x8000_0000_0000_0000 // RFC 4122 variant
	b = appendHex(b, a>>32, 8)
	b = append(b, '-')
	b = appendHex(b, a>>16, 4)
	b = append(b, '-')
	b = appendHex(b, a, 4)
	b = append(b, '-')
	b = appendHex(b, c>>48, 4)
	b = append(b, '-')
	return appendHex(b, c, 12)
}

func uuid(a, b uint64) string { return string(appendUUID(nil, a, b)) }

func hex16(v uint64) string { return string(appendHex(nil, v, 16)) }

// appendString writes s as a JSON string. Everything gen writes is ASCII;
// the escapes are for safety, not for a case that occurs.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return append(appendEscaped(append(b, s[:i]...), s[i:]), '"')
		}
	}
	b = append(b, s...)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendTime writes a Unix millisecond time as a quoted RFC 3339 UTC time
// with milliseconds. It is written out by hand because it runs twice per
// message and time.Time.AppendFormat is a tenth of the generator's time.
func appendTime(b []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	b = append(b, '"')
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	b = append(b, '.')
	frac := int(((ms % 1000) + 1000) % 1000)
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return append(b, 'Z', '"')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// jw writes one JSON object at a time, placing the commas.
type jw struct {
	b     []byte
	fresh bool // nothing written yet in the current object
}

func (w *jw) open() { w.b = append(w.b, '{'); w.fresh = true }

func (w *jw) close() { w.b = append(w.b, '}'); w.fresh = false }

func (w *jw) key(k string) {
	if !w.fresh {
		w.b = append(w.b, ',')
	}
	w.fresh = false
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jw) str(k, v string) { w.key(k); w.b = appendString(w.b, v) }

func (w *jw) int(k string, v int) { w.key(k); w.b = strconv.AppendInt(w.b, int64(v), 10) }

func (w *jw) money(k string, cents int) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, float64(cents)/100, 'f', 2, 64)
}

func (w *jw) obj(k string) { w.key(k); w.open() }

func pick(r *splitmix, xs ...string) string { return xs[r.intn(len(xs))] }

// encode appends the message of s as person p's browser or backend sends
// it. Its bytes depend only on p and s (never on delivery), so a duplicate
// encodes like its original.
func (g *Generator) encode(b []byte, p *person, s *spec) []byte {
	switch s.bad {
	case badTooLarge:
		// Encode once to learn the size without padding, then pad to an
		// exact size just over the limit.
		r := splitmix(s.seed)
		target := g.cfg.MaxEventBytes + 1 + r.intn(1024)
		start := len(b)
		b = g.encodeEvent(b, p, s, 0)
		pad := target - (len(b) - start)
		return g.encodeEvent(b[:start], p, s, pad)
	case badNotJSON:
		start := len(b)
		b = g.encodeEvent(b, p, s, 0)
		r := splitmix(s.seed ^ 0x5bd1e995)
		n := len(b) - start
		return b[:start+n*(40+r.intn(50))/100]
	default:
		return g.encodeEvent(b, p, s, 0)
	}
}

func (g *Generator) encodeEvent(b []byte, p *person, s *spec, pad int) []byte {
	r := splitmix(s.seed)
	w := jw{b: b}
	w.open()
	a, c := r.next(), r.next()
	if s.bad != badNoEventID {
		w.key("event_id")
		w.b = append(w.b, '"')
		w.b = appendUUID(w.b, a, c)
		w.b = append(w.b, '"')
	}

	typ := "track"
	switch {
	case s.kind.isPage():
		typ = "page"
	case s.kind == kIdentify:
		typ = "identify"
	}
	if s.bad == badUnknownType {
		typ = "click"
	}
	w.str("type", typ)
	pg := page(&r, s.kind)
	switch {
	case s.kind.isPage():
		w.str("name", pg.name) // Segment's page name, which the pipeline reads as the event name
	case s.kind != kIdentify:
		w.str("event", eventName(&r, s.kind))
	}

	switch s.bad {
	case badNoCustomerID:
	case badUserIDType:
		w.int("user_id", 42)
		w.str("anonymous_id", p.anon)
	default:
		if s.ids != idAnon {
			w.str("user_id", p.user)
		}
		if s.ids != idUser {
			w.str("anonymous_id", p.anon)
		}
	}
	w.key("timestamp")
	w.b = appendTime(w.b, s.ts+p.skew)
	w.key("sent_at")
	w.b = appendTime(w.b, s.sent+p.skew)

	switch s.bad {
	case badPropertiesType:
		w.str("properties", "x")
	case badTooDeep:
		w.obj("properties")
		depth := 40 + r.intn(24)
		for range depth {
			w.obj("and")
		}
		for range depth {
			w.close()
		}
		w.close()
	case badNotUTF8:
		w.obj("properties")
		w.key("comment")
		// Latin-1 "Café crème": what a producer that skipped transcoding sends.
		w.b = append(w.b, '"', 'C', 'a', 'f', 0xe9, ' ', 'c', 'r', 0xe8, 'm', 'e', '"')
		w.close()
	case badTooLarge:
		w.obj("properties")
		w.key("blob")
		w.b = append(w.b, '"')
		for range pad {
			w.b = append(w.b, 'x')
		}
		w.b = append(w.b, '"')
		w.close()
	default:
		w.obj("properties")
		properties(&w, &r, s.kind)
		w.close()
	}
	if s.kind == kIdentify {
		w.obj("traits")
		w.str("email", p.user+"@example.com")
		w.int("company_size", p.company)
		w.str("industry", pick(&r, "software", "retail", "finance", "healthcare", "education"))
		w.close()
	}

	w.obj("context")
	if s.kind.server() {
		w.str("channel", "server")
	} else {
		w.str("channel", "web")
		if s.first {
			campaign(&w, p)
		}
		if s.kind.isPage() {
			w.obj("page")
			w.str("path", pg.path)
			w.str("url", "https://acme.example"+pg.path)
			if pg.title != "" {
				w.str("title", pg.title)
			}
			w.close()
		}
	}
	// The browser library attaches device and locale to page and identify
	// calls; track calls stay lean, as they mostly are in production.
	if !s.kind.server() && (s.kind.isPage() || s.kind == kIdentify) {
		dev := int(p.variant) % 7
		w.obj("device")
		w.str("type", [...]string{"desktop", "desktop", "desktop", "mobile", "mobile", "tablet", "desktop"}[dev])
		w.str("os", [...]string{"macOS", "Windows", "Windows", "iOS", "Android", "iPadOS", "Linux"}[dev])
		w.str("manufacturer", [...]string{"Apple", "Dell", "Lenovo", "Apple", "Samsung", "Apple", "Framework"}[dev])
		w.close()
		w.str("locale", [...]string{"en-US", "en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR", "nl-NL"}[int(p.variant)%9])
	}
	w.close()
	w.close()
	return w.b
}

// campaign writes the UTM parameters (and referrer) of the landing page.
// They alone decide the persona: linkedin → enterprise_buyer, medium cpc →
// smb_owner, github → developer, and direct, organic or newsletter traffic
// matches no persona rule.
func campaign(w *jw, p *person) {
	v := int(p.variant)
	var name, source, medium, term, content, referrer string
	switch p.persona {
	case enterpriseBuyer:
		name = [...]string{"abm-fortune-500", "enterprise-q4", "cx-leaders"}[v%3]
		source, medium, content = "linkedin", "paid_social", [...]string{"carousel", "video"}[v%2]
		referrer = "https://www.linkedin.com/"
	case smbOwner:
		name = "smb-search"
		source, medium = [...]string{"google", "bing"}[v%2], "cpc"
		term = [...]string{"customer analytics", "funnel software", "churn tool"}[v%3]
		content = "ad-" + strconv.Itoa(v%5)
		referrer = "https://www." + source + ".com/"
	case developer:
		name = "oss-readme"
		source, medium = "github", [...]string{"referral", "sponsorship"}[v%2]
		referrer = "https://github.com/"
	default:
		switch v % 4 {
		case 2:
			source, medium, referrer = "google", "organic", "https://www.google.com/"
		case 3:
			name, source, medium = "monthly-digest", "newsletter", "email"
		default:
			return // direct traffic: no campaign at all
		}
	}
	w.obj("campaign")
	if name != "" {
		w.str("name", name)
	}
	w.str("source", source)
	w.str("medium", medium)
	if term != "" {
		w.str("term", term)
	}
	if content != "" {
		w.str("content", content)
	}
	w.close()
	if referrer != "" {
		w.str("referrer", referrer)
	}
}

type pageInfo struct{ name, path, title string }

// page describes a page kind. Blog and docs paths start with /blog and /docs
// and nothing else does; no page name is also a track event name.
func page(r *splitmix, k kind) pageInfo {
	switch k {
	case kHome:
		return pageInfo{"Home", "/", "Acme"}
	case kBlog:
		slug := pick(r, "funnel-analysis-101", "churn-signals", "persona-marketing", "clickhouse-at-scale", "journey-maps", "saas-metrics")
		return pageInfo{"Blog Post", "/blog/" + slug, ""}
	case kDocs:
		slug := pick(r, "quickstart", "sdk/javascript", "sdk/go", "api/events", "self-hosting", "integrations/segment")
		return pageInfo{"Docs", "/docs/" + slug, ""}
	case kPricing:
		return pageInfo{"Pricing", "/pricing", "Pricing"}
	case kCancelPage:
		return pageInfo{"Cancel Subscription", "/account/cancel", "Cancel"}
	case kSitePage:
		path := pick(r, "/features", "/about", "/customers", "/integrations", "/careers", "/security")
		return pageInfo{"Site", path, ""}
	case kAppPage:
		path := pick(r, "/app", "/app/dashboards", "/app/reports", "/app/settings", "/app/team")
		return pageInfo{"App", path, ""}
	default:
		return pageInfo{}
	}
}

func eventName(r *splitmix, k kind) string {
	switch k {
	case kAdClicked:
		return "Ad Clicked"
	case kDemo:
		return "Demo Requested"
	case kTrial:
		return "Trial Started"
	case kSignedUp:
		return "Signed Up"
	case kProfile:
		return "Profile Completed"
	case kIntegration:
		return "Integration Connected"
	case kReport:
		return "Report Created"
	case kOrder:
		return "Order Completed"
	case kSubStarted:
		return "Subscription Started"
	case kFeature:
		return "Feature Used"
	case kRenewed:
		return "Subscription Renewed"
	case kTicket:
		return "Support Ticket Opened"
	case kPayFailed:
		return "Payment Failed"
	case kReferral:
		return "Referral Sent"
	case kReviewGood, kReviewBad:
		return "Review Posted"
	default:
		return pick(r, "Button Clicked", "Video Played", "Search Performed", "Email Opened", "Newsletter Subscribed")
	}
}

func properties(w *jw, r *splitmix, k kind) {
	plan := func() string { return pick(r, "starter", "pro", "business") }
	switch k {
	case kAdClicked:
		w.str("ad_id", "ad_"+strconv.Itoa(1000+r.intn(9000)))
		w.str("placement", pick(r, "feed", "sidebar", "search"))
	case kDemo:
		w.str("form", pick(r, "contact-sales", "book-a-demo"))
	case kTrial:
		w.str("plan", plan())
		w.int("trial_days", 14)
	case kSignedUp:
		w.str("method", pick(r, "email", "google", "github"))
	case kProfile:
		w.int("fields_completed", 3+r.intn(6))
	case kIntegration:
		w.str("integration", pick(r, "slack", "salesforce", "hubspot", "segment", "snowflake"))
	case kReport:
		w.str("report_type", pick(r, "funnel", "retention", "cohort", "journey"))
	case kOrder:
		w.str("order_id", "o_"+hex16(r.next())[:10])
		w.money("revenue", 4900+r.intn(200_000))
		w.str("currency", "USD")
		w.str("plan", plan())
	case kSubStarted, kRenewed:
		w.str("plan", plan())
		w.str("billing", pick(r, "monthly", "annual"))
		w.money("mrr", 4900+r.intn(50_000))
	case kFeature:
		w.str("feature", pick(r, "dashboards", "funnels", "alerts", "exports", "segments", "api"))
	case kTicket:
		w.str("ticket_id", "t_"+strconv.Itoa(10_000+r.intn(90_000)))
		w.str("priority", pick(r, "low", "normal", "high"))
	case kPayFailed:
		w.money("amount", 4900+r.intn(50_000))
		w.str("decline_code", pick(r, "insufficient_funds", "expired_card", "do_not_honor"))
	case kReferral:
		w.str("channel", pick(r, "email", "link", "slack"))
	case kReviewGood:
		w.int("rating", 4+r.intn(2))
		w.str("site", pick(r, "g2", "capterra", "trustradius"))
	case kReviewBad:
		w.int("rating", 1+r.intn(3))
		w.str("site", pick(r, "g2", "capterra", "trustradius"))
	case kClick:
		w.str("label", pick(r, "cta-hero", "nav-menu", "footer-link", "play", "search-box"))
	}
}
