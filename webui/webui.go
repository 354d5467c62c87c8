// Package webui is sever's read-only web UI: the incident list and, per incident,
// its report (timeline, accountability table, signals, evidence hashes, enforcement
// gap) rendered on the server with html/template. There is no JavaScript and no
// build step; pages print as they look. Its one write is the Contain form
// (Options.Contain), for operators signed in with an incidents:write token.
//
// It reads incidents through Service, the part of service.Service it needs, so the
// engine serves it directly and tests use a fake.
package webui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/internal/secretscan"
	"github.com/sever-ir/sever/report"
	"github.com/sever-ir/sever/service"
)

// Service is what the UI reads; service.Service (the engine) satisfies it.
type Service interface {
	ListIncidents(ctx context.Context, f service.ListFilter) ([]sever.IncidentSummary, error)
	// GetIncident returns *sever.Error{Code: sever.ENOTFOUND} when id is unknown.
	GetIncident(ctx context.Context, id string) (*sever.Incident, error)
}

// Runbooks finds a runbook by name; *runbooks.Library satisfies it. The report
// uses the runbook only when its hash matches the one the incident pinned.
type Runbooks interface {
	Get(name string) (*sever.Runbook, bool)
}

// Options configure New.
type Options struct {
	Service Service
	// Public serves every page without authentication. Only for `sever dev`, which
	// listens on loopback. A public UI answers only requests whose Host is a
	// loopback name or one of AllowedHosts (see HostGuard): without that check, DNS
	// rebinding lets any web page the developer opens read the incidents.
	Public bool
	// AllowedHosts are the host names (or IPs) a public UI answers to besides
	// loopback ones, such as the configured listen host.
	AllowedHosts []string
	// Tokens are the API's tokens; one with the incidents:read scope opens the UI,
	// as a bearer token or through the login form. Required unless Public.
	Tokens []httpapi.Token
	// Runbooks, when set, gives reports step names and the framework mapping.
	Runbooks Runbooks
	// TemporalUIURL is the Temporal Web UI's base URL (http://127.0.0.1:8233); with
	// it, incident pages link to their workflow. Namespace is the incidents' namespace.
	TemporalUIURL string
	Namespace     string
	// SessionTTL is how long a login lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure even on plain-HTTP requests, for
	// a UI behind a TLS-terminating proxy. Requests over TLS always get it.
	SecureCookies bool
	// ListLimit is how many incidents the list shows (newest first); 0 means 50.
	ListLimit int
	Logger    *slog.Logger
	Now       func() time.Time
	// Contain, when set, serves the Contain form (GET and POST /contain) to operators
	// signed in with a token that has incidents:write; *httpapi.Server is one.
	Contain Container
}

// MaxListLimit caps ?limit=: every row costs the engine one incident read.
const MaxListLimit = 200

//go:embed templates/*.html static/style.css
var content embed.FS

// ui serves the pages. Safe for concurrent use.
type ui struct {
	svc         Service
	runbooks    Runbooks
	public      bool
	tokens      *httpapi.TokenSet
	temporalURL string
	sessionTTL  time.Duration
	secure      bool
	listLimit   int
	log         *slog.Logger
	now         func() time.Time
	pages       map[string]*template.Template
	css         []byte
	contain     Container
}

// New checks o and returns the UI's handler, to be mounted at "/".
func New(o Options) (http.Handler, error) {
	if o.Service == nil {
		return nil, errors.New("webui.New: Options.Service is required")
	}
	if o.SessionTTL < 0 || o.ListLimit < 0 || o.ListLimit > MaxListLimit {
		return nil, fmt.Errorf("webui.New: SessionTTL must not be negative and ListLimit must be 0 to %d", MaxListLimit)
	}
	u := &ui{svc: o.Service, runbooks: o.Runbooks, public: o.Public, sessionTTL: o.SessionTTL,
		secure: o.SecureCookies, listLimit: o.ListLimit, log: o.Logger, now: o.Now, contain: o.Contain}
	if !o.Public {
		ts, err := httpapi.NewTokenSet(o.Tokens)
		if err != nil {
			return nil, fmt.Errorf("webui.New: %w (or set Options.Public for a loopback dev UI)", err)
		}
		u.tokens = ts
	}
	if o.TemporalUIURL != "" {
		base, err := url.Parse(o.TemporalUIURL)
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return nil, fmt.Errorf("webui.New: Options.TemporalUIURL %q is not an http or https URL", o.TemporalUIURL)
		}
		ns := o.Namespace
		if ns == "" {
			ns = "default"
		}
		// report.Build fills in {id}, escaped.
		u.temporalURL = strings.TrimRight(o.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows/{id}"
	}
	if u.sessionTTL == 0 {
		u.sessionTTL = 12 * time.Hour
	}
	if u.listLimit == 0 {
		u.listLimit = 50
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	var err error
	if u.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if u.css, err = fs.ReadFile(content, "static/style.css"); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", u.auth(u.list))
	mux.Handle("GET /incidents/{id}", u.auth(u.incident))
	mux.Handle("GET /contain", u.auth(u.containPage))
	mux.Handle("POST /contain", u.auth(u.containPost))
	mux.HandleFunc("GET /login", u.loginForm)
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("POST /logout", u.logout)
	// Styles are not secret; the login page needs them before anyone has logged in.
	mux.HandleFunc("GET /static/style.css", u.style)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, http.StatusNotFound, "There is no page at this address.")
	})
	if o.Public {
		return HostGuard(o.AllowedHosts, securityHeaders(mux)), nil
	}
	return securityHeaders(mux), nil
}

// csp allows nothing but the UI's own stylesheet, images and forms. Inline styles
// are allowed because the report's SVG timeline positions its shapes with them;
// scripts are not allowed at all, from anywhere.
const csp = "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Incident ids are in the paths; a link out (to the Temporal UI) need not carry
		// them. Not no-referrer: with it, browsers send "Origin: null" on the login
		// form's POST, and the login's same-origin check could not tell it from a
		// cross-site post.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (u *ui) style(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(u.css)
}

func (u *ui) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := service.ListFilter{Status: q.Get("status"), Limit: u.listLimit}
	if f.Status != "" && !validStatus(f.Status) {
		u.errorPage(w, r, http.StatusBadRequest, "Unknown status filter.")
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			u.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("The limit must be a whole number from 1 to %d.", MaxListLimit))
			return
		}
		f.Limit = n
	}
	list, err := u.svc.ListIncidents(r.Context(), f)
	if err != nil {
		u.fail(w, r, "webui.list", err)
		return
	}
	rows := u.rows(r.Context(), list)
	u.render(w, r, http.StatusOK, "list", map[string]any{
		"Title": "Incidents", "Rows": rows, "Status": f.Status, "Statuses": statuses,
		"Limit": f.Limit, "MaxLimit": MaxListLimit, "Full": len(list) >= f.Limit, "Now": u.now().UTC(),
	})
}

var statuses = []sever.IncidentStatus{sever.IncidentOpen, sever.IncidentContained, sever.IncidentFailed, sever.IncidentClosed}

func validStatus(s string) bool {
	for _, st := range statuses {
		if string(st) == s {
			return true
		}
	}
	return false
}

// row is one line of the incident list. Containment time and open approvals need
// the incident itself; Detail is false when it could not be read.
type row struct {
	sever.IncidentSummary
	Detail        bool
	TimeToContain *time.Duration
	OpenApprovals int
	Drill         bool
}

// rowReads bounds parallel incident reads for one list page.
const rowReads = 8

func (u *ui) rows(ctx context.Context, list []sever.IncidentSummary) []row {
	rows := make([]row, len(list))
	sem := make(chan struct{}, rowReads)
	var wg sync.WaitGroup
	for i, s := range list {
		rows[i].IncidentSummary = s
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			inc, err := u.svc.GetIncident(ctx, s.ID)
			if err != nil || inc == nil {
				// The row still shows what the listing knows; the log says why the rest is missing.
				u.log.WarnContext(ctx, "incident row without detail", "op", "webui.rows", "incident_id", s.ID, "err", err)
				return
			}
			r := &rows[i]
			r.Detail, r.Drill = true, inc.Drill
			if inc.ContainedAt != nil && !inc.OpenedAt.IsZero() {
				d := inc.ContainedAt.Sub(inc.OpenedAt)
				r.TimeToContain = &d
			}
			for _, st := range inc.Steps {
				if st.Status == sever.StepWaitingApproval {
					r.OpenApprovals++
				}
			}
		})
	}
	wg.Wait()
	return rows
}

const maxIncidentIDLength = 200

// validID accepts the alphabet of sever-made incident ids (as the API does), so
// nothing else reaches the engine.
func validID(id string) bool {
	if id == "" || len(id) > maxIncidentIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:", c) >= 0) {
			return false
		}
	}
	return true
}

func (u *ui) incident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		u.errorPage(w, r, http.StatusNotFound, "There is no incident with this id.")
		return
	}
	inc, err := u.svc.GetIncident(r.Context(), id)
	if err == nil && inc == nil {
		err = errors.New("service returned neither an incident nor an error")
	}
	if err != nil {
		u.fail(w, r, "webui.incident", err)
		return
	}
	o := report.Options{Now: u.now(), TemporalUIURL: u.temporalURL}
	if u.runbooks != nil {
		if rb, ok := u.runbooks.Get(inc.Runbook.Name); ok {
			o.Runbook = rb
		}
	}
	if rs, ok := u.svc.(service.RefusalSource); ok {
		// As in the API's report: refused attempts live in the ledger, and a page
		// without them is still the incident's page, so a failed read is only logged.
		if o.Refused, err = rs.RefusedAttempts(r.Context(), id); err != nil {
			u.log.WarnContext(r.Context(), "incident page without refused attempts", "incident_id", id, "err", err)
		}
	}
	rep, err := report.Build(*inc, o)
	if err != nil {
		u.fail(w, r, "webui.incident", err)
		return
	}
	var pending []sever.Step
	for _, st := range inc.Steps {
		if st.Status == sever.StepWaitingApproval {
			pending = append(pending, st)
		}
	}
	u.render(w, r, http.StatusOK, "incident", map[string]any{
		"Title": "Incident " + rep.Incident.ID, "R": rep, "Timeline": report.TimelineSVG(rep),
		"Evidence": evidence(rep), "Pending": pending,
	})
}

// evidenceRow is one hash in the evidence section, with the control point it backs.
type evidenceRow struct {
	Ref, What string
	report.Hash
}

func evidence(r *report.Report) []evidenceRow {
	var out []evidenceRow
	for _, cp := range r.Accountability {
		for _, h := range cp.Evidence {
			out = append(out, evidenceRow{Ref: cp.Ref, What: cp.What, Hash: h})
		}
	}
	return out
}

// fail answers a failed read: a *sever.Error's message is safe to show; anything
// else is logged and shown as a generic error, so internals never reach the page.
func (u *ui) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	if e, ok := errors.AsType[*sever.Error](err); ok {
		switch e.Code {
		case sever.ENOTFOUND:
			u.errorPage(w, r, http.StatusNotFound, e.Message)
			return
		case sever.EUNAVAILABLE:
			w.Header().Set("Retry-After", "1")
			u.errorPage(w, r, http.StatusServiceUnavailable, e.Message)
			return
		case sever.EINVALID:
			u.errorPage(w, r, http.StatusBadRequest, e.Message)
			return
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		u.errorPage(w, r, http.StatusServiceUnavailable, "The engine did not answer in time; reload to retry.")
		return
	}
	u.log.ErrorContext(r.Context(), "page failed", "op", op, "err", err, "path", secretscan.RedactPath(r.URL.Path))
	u.errorPage(w, r, http.StatusInternalServerError, "Internal error; the server log has the details.")
}

func (u *ui) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	u.render(w, r, status, "error", map[string]any{"Title": http.StatusText(status), "Status": status, "Message": msg})
}
