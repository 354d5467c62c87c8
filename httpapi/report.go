package httpapi

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
	"github.com/sever-ir/sever/service"
)

// defaultReportFormat is what GET /v1/incidents/{id}/report answers without ?format.
const defaultReportFormat = "json"

// reportCSP keeps an HTML report inert in a browser: it needs its inline styles and
// nothing else, so no script runs even if text from a signal slipped past escaping.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var reportExtensions = map[string]string{"md": "md", "html": "html", "json": "json", "ocsf": "ocsf.json"}

func (s *Server) reportRoute(runbook func(name string) (*sever.Runbook, bool)) {
	s.mux.Handle("GET /v1/incidents/{id}/report", s.auth(ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) {
		s.incidentReport(w, r, runbook)
	}))
}

func (s *Server) incidentReport(w http.ResponseWriter, r *http.Request, runbook func(string) (*sever.Runbook, bool)) {
	const op = "httpapi.incidentReport"
	id, err := incidentID(r)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	format := defaultReportFormat
	switch fs := r.URL.Query()["format"]; len(fs) {
	case 0:
	case 1:
		format = fs[0]
	default:
		s.fail(w, r, op, sever.Errorf(sever.EINVALID, "format", "format is given %d times; give it once", len(fs)))
		return
	}
	// Check the format before asking the engine, so a typo costs nothing.
	ct, err := report.ContentType(format)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	inc, err := s.svc.GetIncident(r.Context(), id)
	if err == nil && inc == nil {
		err = errors.New("service returned neither an incident nor an error")
	}
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	var rb *sever.Runbook
	if runbook != nil {
		if got, ok := runbook(inc.Runbook.Name); ok {
			rb = got // report.Build ignores it unless it is the pinned version
		}
	}
	o := report.Options{Runbook: rb, Now: s.now()}
	if rs, ok := s.svc.(service.RefusalSource); ok {
		// The refused attempts are in the ledger, not the incident; a report without
		// them is still the incident's report, so a failed read is logged, not fatal.
		if o.Refused, err = rs.RefusedAttempts(r.Context(), id); err != nil {
			s.log.WarnContext(r.Context(), "report without refused attempts", "incident_id", id, "err", err)
		}
	}
	rep, err := report.Build(*inc, o)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	// Render fully before the status goes out, so a failure is still a clean 500.
	var buf bytes.Buffer
	if _, err := report.Render(&buf, rep, format); err != nil {
		s.fail(w, r, op, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `inline; filename="`+id+"-report."+reportExtensions[format]+`"`)
	if format == "html" {
		h.Set("Content-Security-Policy", reportCSP)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes()) // the status is sent; a failed write means the client left
}
