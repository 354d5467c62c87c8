package httpapi

import (
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

// retryWire is the body of POST /v1/incidents/{id}/retry.
type retryWire struct {
	Step   string `json:"step"`
	Reason string `json:"reason"`
}

var retrySchema = schemaOf(reflect.TypeFor[retryWire]())

const maxStepIDLength = 128

func decodeRetryRequest(body []byte) (service.RetryRequest, error) {
	var w retryWire
	if err := decodeStrict(body, retrySchema, nil, &w); err != nil {
		return service.RetryRequest{}, err
	}
	step, reason := strings.TrimSpace(w.Step), strings.TrimSpace(w.Reason)
	switch {
	case step == "":
		return service.RetryRequest{}, sever.Errorf(sever.EINVALID, "step", "step is required: the id of the failed step to run again")
	case len(step) > maxStepIDLength:
		return service.RetryRequest{}, sever.Errorf(sever.EINVALID, "step", "step is longer than %d bytes", maxStepIDLength)
	case utf8.RuneCountInString(reason) > maxReasonLength:
		return service.RetryRequest{}, sever.Errorf(sever.EINVALID, "reason", "reason is longer than %d characters", maxReasonLength)
	}
	return service.RetryRequest{Step: step, Reason: reason}, nil
}

// retryStep serves POST /v1/incidents/{id}/retry (scope incidents:write, like a
// close: it changes the incident's course, and the step still passes the policy
// gate, approval included, before it acts).
func (s *Server) retryStep(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.retryStep"
	rt, ok := s.svc.(service.Retrier)
	if !ok {
		s.fail(w, r, op, &sever.Error{Code: sever.EUNAVAILABLE, Message: "retrying steps is not available on this server"})
		return
	}
	id, body, err := s.idAndJSON(w, r, incidentID)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	req, err := decodeRetryRequest(body)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	req.By = Principal(r.Context())
	res, err := rt.RetryStep(r.Context(), id, req)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	s.log.InfoContext(r.Context(), "step retry", "incident_id", id, "step", req.Step, "attempt", res.Attempt, "by", req.By)
	writeJSON(w, http.StatusAccepted, res)
}
