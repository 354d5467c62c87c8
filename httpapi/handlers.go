package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
	"github.com/sever-ir/sever/service"
)

func (s *Server) submitSignal(w http.ResponseWriter, r *http.Request) {
	body, err := s.readJSON(w, r)
	if err != nil {
		s.fail(w, r, "httpapi.submitSignal", err)
		return
	}
	sig, err := DecodeSignal(body)
	if err != nil {
		s.fail(w, r, "httpapi.submitSignal", err)
		return
	}
	if sig.Drill {
		if err := s.checkDrill(r.Context()); err != nil {
			s.fail(w, r, "httpapi.submitSignal", err)
			return
		}
	}
	sig.ReceivedAt = s.now().UTC()
	sig.Receipt = newReceipt()
	// The reporter may not approve actions in the incident it raised, so it is
	// recorded as the identity approvals are checked against.
	sig.Reporter = Approver(r.Context())
	sig.ID = sever.SignalID(sig.Source, sig.SourceEventID, sig.Receipt)
	res, err := s.submit(r.Context(), sig)
	if err != nil {
		s.fail(w, r, "httpapi.submitSignal", err)
		return
	}
	s.signalAccepted(sig)
	s.log.InfoContext(r.Context(), "signal accepted", "signal_id", sig.ID, "incident_id", res.IncidentID,
		"source", sig.Source, "kind", sig.Kind, "status", res.Status, "principal", Principal(r.Context()))
	writeJSON(w, http.StatusAccepted, res)
}

// newReceipt returns a random ID for one submission, so that two deliveries of a
// signal without a source event ID are told apart.
func newReceipt() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead
	return hex.EncodeToString(b[:])
}

const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

var incidentStatuses = []sever.IncidentStatus{sever.IncidentOpen, sever.IncidentContained, sever.IncidentFailed, sever.IncidentClosed}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	f, err := parseListFilter(r)
	if err != nil {
		s.fail(w, r, "httpapi.listIncidents", err)
		return
	}
	incs, err := s.svc.ListIncidents(r.Context(), f)
	if err != nil {
		s.fail(w, r, "httpapi.listIncidents", err)
		return
	}
	if incs == nil {
		incs = []sever.IncidentSummary{} // clients expect a list, never null
	}
	writeJSON(w, http.StatusOK, struct {
		Incidents []sever.IncidentSummary `json:"incidents"`
	}{incs})
}

func parseListFilter(r *http.Request) (service.ListFilter, error) {
	q := r.URL.Query()
	f := service.ListFilter{Status: q.Get("status"), Limit: defaultListLimit}
	if f.Status != "" && !slices.Contains(incidentStatuses, sever.IncidentStatus(f.Status)) {
		return service.ListFilter{}, sever.Errorf(sever.EINVALID, "status", "unknown status %q (one of %s)", shorten(f.Status), joinStatuses())
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return service.ListFilter{}, sever.Errorf(sever.EINVALID, "limit", "limit must be a whole number from 1 to %d", maxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func joinStatuses() string {
	s := make([]string, len(incidentStatuses))
	for i, st := range incidentStatuses {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, err := incidentID(r)
	if err != nil {
		s.fail(w, r, "httpapi.getIncident", err)
		return
	}
	inc, err := s.svc.GetIncident(r.Context(), id)
	if err == nil && inc == nil {
		err = errors.New("service returned neither an incident nor an error")
	}
	if err != nil {
		s.fail(w, r, "httpapi.getIncident", err)
		return
	}
	writeJSON(w, http.StatusOK, s.withGap(inc))
}

// incidentWithGap is an incident as the API shows it: with its enforcement gap, the
// runbook's controls in four columns (vendor-notified, vendor-enforced and observed,
// enterprise-enforced and verified, not done), so a reader sees at once what the
// enterprise itself made sure of.
type incidentWithGap struct {
	*sever.Incident
	EnforcementGap *report.Gap `json:"enforcement_gap,omitempty"`
}

func (s *Server) withGap(inc *sever.Incident) incidentWithGap {
	var rb *sever.Runbook
	if s.runbook != nil {
		if got, ok := s.runbook(inc.Runbook.Name); ok {
			rb = got
		}
	}
	out := incidentWithGap{Incident: inc}
	if rep, err := report.Build(*inc, report.Options{Runbook: rb, Now: s.now()}); err == nil {
		out.EnforcementGap = &rep.Gap
	} else {
		s.log.Warn("enforcement gap not computed", "incident", inc.ID, "err", err)
	}
	return out
}

func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request) {
	id, body, err := s.idAndJSON(w, r, incidentID)
	if err != nil {
		s.fail(w, r, "httpapi.closeIncident", err)
		return
	}
	req, err := decodeCloseRequest(body)
	if err != nil {
		s.fail(w, r, "httpapi.closeIncident", err)
		return
	}
	req.By, req.Approver = Principal(r.Context()), Approver(r.Context())
	if err := s.svc.CloseIncident(r.Context(), id, req); err != nil {
		s.fail(w, r, "httpapi.closeIncident", err)
		return
	}
	s.log.InfoContext(r.Context(), "incident closed", "incident_id", id, "by", req.By, "false_positive", req.FalsePositive)
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "status": string(sever.IncidentClosed)})
}

const maxIncidentIDLength = 200

// incidentID reads {id} from the path. IDs are sever-made (sever.IncidentID), so
// anything outside their alphabet is a client error, and it never reaches the engine.
func incidentID(r *http.Request) (string, error) {
	return pathID(r, "incident", maxIncidentIDLength, "-_.:")
}

// pathID reads the {id} path value of a what (incident, token): letters, digits
// and the bytes in extra, up to max bytes. One check serves every id in a path so
// the alphabets and their messages cannot drift apart.
func pathID(r *http.Request, what string, max int, extra string) (string, error) {
	id := r.PathValue("id")
	ok := id != "" && len(id) <= max
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0
	}
	if !ok {
		return "", sever.Errorf(sever.EINVALID, "id", "invalid %s id: want up to %d letters, digits, %s", what, max, quoteBytes(extra))
	}
	return id, nil
}

// quoteBytes lists each byte of s quoted, the last after "or": "'-', '_' or '.'".
func quoteBytes(s string) string {
	q := make([]string, len(s))
	for i := range len(s) {
		q[i] = "'" + s[i:i+1] + "'"
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// idAndJSON reads what every POST or PUT on /{id} starts with: the checked path
// id (by pathID, e.g. incidentID) and then the JSON body.
func (s *Server) idAndJSON(w http.ResponseWriter, r *http.Request, pathID func(*http.Request) (string, error)) (string, []byte, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, err
	}
	body, err := s.readJSON(w, r)
	if err != nil {
		return "", nil, err
	}
	return id, body, nil
}

// readJSON checks the media type and reads the body, at most s.maxBody bytes of it.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	tooLarge := sever.Errorf(sever.ETOOLARGE, "", "request body is larger than %d bytes", s.maxBody)
	if r.ContentLength > s.maxBody {
		return nil, tooLarge // refuse before reading a byte of it
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, sever.Errorf(sever.EINVALID, "", "reading request body: %v", err)
	}
	return body, nil
}

func checkContentType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return sever.Errorf(EUNSUPPORTEDMEDIA, "", "Content-Type must be application/json (charset, if given, utf-8)")
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.decide"
	id, body, err := s.idAndJSON(w, r, incidentID)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	req, as, err := decodeDecideRequest(body)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	req.Approver = Approver(r.Context())
	if as != "" && as != req.Approver && as != Principal(r.Context()) {
		s.fail(w, r, op, sever.Errorf(EFORBIDDEN, "as", "this token decides as %s, not %s", req.Approver, as))
		return
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if len(k) > 128 {
			s.fail(w, r, op, sever.Errorf(sever.EINVALID, "Idempotency-Key", "Idempotency-Key is longer than 128 characters"))
			return
		}
		req.IdempotencyKey = scopedIdempotencyKey(r.Context(), k)
	}
	res, err := s.svc.Decide(r.Context(), id, req)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	s.log.InfoContext(r.Context(), "approval decision", "incident_id", id, "step", req.Step,
		"approve", req.Approve, "approver", req.Approver, "channel", req.Channel, "status", res.Status)
	writeJSON(w, http.StatusOK, res)
}
