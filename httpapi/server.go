// Package httpapi is sever's HTTP API: signal intake and the incident endpoints.
//
// It knows nothing about Temporal; it talks to the engine through service.Service, so the same
// handlers run against the real engine, an in-process one, or a test fake.
package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

// Scopes a Token may carry. A token with no scopes may do everything.
const (
	ScopeSignalsWrite   = "signals:write"
	ScopeIncidentsRead  = "incidents:read"
	ScopeIncidentsWrite = "incidents:write" // contain on demand (POST /v1/incidents), close
	ScopeApprovalsWrite = "approvals:write"
	// ScopeDrillsWrite lets a token start drill incidents (a signal with "drill":
	// true), which run under drill policy rules, some without approval. Only where
	// Options.Drills is set.
	ScopeDrillsWrite = "drills:write"
)

// Scopes lists every known scope.
var Scopes = []string{ScopeSignalsWrite, ScopeIncidentsRead, ScopeIncidentsWrite, ScopeApprovalsWrite, ScopeDrillsWrite, ScopeTokensVendor}

// Token is a bearer token the API accepts. Name is what logs and the ledger see;
// Value is the secret and is never logged.
type Token struct {
	Name   string
	Value  string
	Scopes []string
	// Approver is the identity this token decides approvals as (an operator's Slack
	// user id, so it matches approver lists); empty means Name.
	Approver string
}

// DefaultMaxBodyBytes caps request bodies when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes int64 = 1 << 20

// Options configures a Server.
type Options struct {
	Service      service.Service
	Tokens       []Token
	MaxBodyBytes int64            // 0 means DefaultMaxBodyBytes
	Logger       *slog.Logger     // nil discards
	Now          func() time.Time // nil means time.Now; stamps Signal.ReceivedAt
	// Metrics records intake counts and, when set, is served at GET /metrics.
	Metrics Metrics
	// GitHubWebhookSecret is the secret of the GitHub webhook that posts to
	// POST /v1/signals/github. With it, GitHub's X-Hub-Signature-256 authenticates a
	// delivery without a bearer token; without it, that endpoint needs a bearer token.
	GitHubWebhookSecret []byte
	// GitHubAlerts, when sever has a GitHub App, resolves a secret-scanning alert
	// about an AWS key ID to that key, so the alert joins the key's incident; nil
	// keeps every alert on its own place (see GitHubAlerts).
	GitHubAlerts GitHubAlerts
	// Runbook finds a runbook by name, so GET /v1/incidents/{id}/report can map the
	// incident's pinned runbook to frameworks and list controls it never reached. Nil
	// leaves those parts out of reports.
	Runbook func(name string) (*sever.Runbook, bool)
	// Limits is admission control at intake; nil means DefaultLimits().
	Limits *Limits
	// Drills allows drill incidents, for tokens with ScopeDrillsWrite. Set it only
	// where every action runs against the drill cloud: a drill incident runs under
	// the policy's drill rules, so against production clients it would be a way to
	// act without approval.
	Drills bool
	// VendorStatus records the issuer's notices about tokens of the token store
	// (PUT /v1/tokens/{id}/vendor-status, scope tokens:vendor); nil answers 503.
	VendorStatus VendorStatusRecorder
}

// Server serves the API. It is safe for concurrent use.
type Server struct {
	svc     service.Service
	tokens  []tokenEntry
	maxBody int64
	log     *slog.Logger
	now     func() time.Time
	metrics Metrics
	// runbook finds a pinned runbook by name, for reports and the enforcement gap.
	runbook func(name string) (*sever.Runbook, bool)
	// githubSecret authenticates GitHub webhook deliveries; empty means bearer only.
	githubSecret []byte
	githubAlerts GitHubAlerts
	// admission limits signals per credential and per token, and incident
	// openings per token.
	admission *admission
	shedCount shedCounter // nil when there are no metrics
	drills    bool
	// vendorStatus records issuers' notices about tokens; nil = not served.
	vendorStatus VendorStatusRecorder
	mux          *http.ServeMux
	handler      http.Handler
}

// New checks o and builds a Server.
func New(o Options) (*Server, error) {
	if o.Service == nil {
		return nil, errors.New("httpapi.New: Options.Service is required")
	}
	if o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("httpapi.New: Options.MaxBodyBytes is negative (%d)", o.MaxBodyBytes)
	}
	tokens, err := compileTokens(o.Tokens)
	if err != nil {
		return nil, fmt.Errorf("httpapi.New: %w", err)
	}
	s := &Server{
		svc:     o.Service,
		tokens:  tokens,
		maxBody: o.MaxBodyBytes,
		log:     o.Logger,
		now:     o.Now,
		metrics: o.Metrics,
		mux:     http.NewServeMux(),
	}
	if err := checkGitHubSecret(o.GitHubWebhookSecret); err != nil {
		return nil, fmt.Errorf("httpapi.New: %w", err)
	}
	s.githubSecret = bytes.Clone(o.GitHubWebhookSecret)
	s.githubAlerts = o.GitHubAlerts
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	limits := DefaultLimits()
	if o.Limits != nil {
		limits = *o.Limits
	}
	if err := limits.check(); err != nil {
		return nil, fmt.Errorf("httpapi.New: %w", err)
	}
	s.admission = newAdmission(limits, s.now)
	s.drills = o.Drills
	s.vendorStatus = o.VendorStatus
	if s.metrics != nil {
		s.shedCount = newShedMetric(s.metrics)
	}
	s.routes()
	s.adapterRoutes()
	s.runbook = o.Runbook
	s.reportRoute(o.Runbook)
	s.handler = s.logRequests(s.recoverPanics(http.HandlerFunc(s.route)))
	return s, nil
}

// Handler returns the API's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.metricsRoute()
	s.mux.Handle("POST /v1/signals", s.auth(ScopeSignalsWrite, s.submitSignal))
	s.mux.Handle("GET /v1/incidents", s.auth(ScopeIncidentsRead, s.listIncidents))
	s.mux.Handle("POST /v1/incidents", s.auth(ScopeIncidentsWrite, s.containIncident))
	s.mux.Handle("GET /v1/incidents/{id}", s.auth(ScopeIncidentsRead, s.getIncident))
	s.mux.Handle("POST /v1/incidents/{id}/close", s.auth(ScopeIncidentsWrite, s.closeIncident))
	s.mux.Handle("POST /v1/incidents/{id}/approvals", s.auth(ScopeApprovalsWrite, s.decide))
	s.mux.Handle("POST /v1/incidents/{id}/retry", s.auth(ScopeIncidentsWrite, s.retryStep))
	s.mux.Handle("PUT /v1/tokens/{id}/vendor-status", s.auth(ScopeTokensVendor, s.reportVendorStatus))
}

// route dispatches through the mux but answers "no route" and "wrong method" in the
// API's JSON error shape; the mux itself would answer those in plain text.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	r = withPreferences(r)
	if _, pattern := s.mux.Handler(r); pattern != "" {
		// Serve through the mux, not the returned handler, so path values get populated.
		s.mux.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(&fallbackWriter{ResponseWriter: w, r: r}, r)
}

// fallbackWriter turns the mux's plain-text 404 and 405 into JSON errors and lets
// anything else (path-cleaning redirects) through untouched.
type fallbackWriter struct {
	http.ResponseWriter
	r           *http.Request
	intercepted bool
}

func (f *fallbackWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		f.intercepted = true
		writeError(f.ResponseWriter, sever.Errorf(sever.ENOTFOUND, "", "no route for %s %s", f.r.Method, f.r.URL.Path))
	case http.StatusMethodNotAllowed:
		f.intercepted = true
		writeError(f.ResponseWriter, sever.Errorf(EMETHODNOTALLOWED, "",
			"method %s is not allowed on %s (allowed: %s)", f.r.Method, f.r.URL.Path, f.Header().Get("Allow")))
	default:
		f.ResponseWriter.WriteHeader(code)
	}
}

func (f *fallbackWriter) Write(b []byte) (int, error) {
	if f.intercepted {
		return len(b), nil
	}
	return f.ResponseWriter.Write(b)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
