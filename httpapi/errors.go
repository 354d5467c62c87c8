package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
	"github.com/sever-ir/sever/service"
)

// Error codes the API uses beyond those in package sever. They travel in the same
// {"error": {"code", ...}} shape.
const (
	EFORBIDDEN        = service.EFORBIDDEN
	EUNSUPPORTEDMEDIA = "unsupported_media_type"
	EMETHODNOTALLOWED = "method_not_allowed"
)

// httpStatuses maps an error code to its HTTP status.
var httpStatuses = map[string]int{
	sever.EINVALID:       http.StatusBadRequest,
	sever.EUNAUTHORIZED:  http.StatusUnauthorized,
	EFORBIDDEN:           http.StatusForbidden,
	sever.ENOTFOUND:      http.StatusNotFound,
	EMETHODNOTALLOWED:    http.StatusMethodNotAllowed,
	sever.ECONFLICT:      http.StatusConflict,
	sever.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	EUNSUPPORTEDMEDIA:    http.StatusUnsupportedMediaType,
	sever.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	sever.EUNAVAILABLE:   http.StatusServiceUnavailable,
	ETOOMANY:             http.StatusTooManyRequests,
}

// httpStatus maps an error code to its HTTP status. Unknown codes are 500, so a new
// code never reaches a client as a success or a misleading 4xx by accident.
func httpStatus(code string) int {
	if st, ok := httpStatuses[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

var errInternal = &sever.Error{Code: sever.EINTERNAL, Message: "internal error; the server log has the details"}

// fail answers a request that failed in op. Errors that are safe to show (a
// *sever.Error with a mapped code) go to the client as they are; anything else is
// logged with op and answered with a generic 500 so internals never leak.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	if le, ok := errors.AsType[*LimitError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(le.RetryAfter)))
		writeError(w, le.Err)
		return
	}
	if e, ok := errors.AsType[*sever.Error](err); ok && httpStatus(e.Code) != http.StatusInternalServerError {
		if e.Code == sever.EUNAVAILABLE {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, e)
		return
	}
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		// The engine did not answer in time but the client is still waiting: that is
		// an availability problem it can retry, not a bug.
		s.log.WarnContext(r.Context(), "engine timed out", "op", op, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, sever.Errorf(sever.EUNAVAILABLE, "", "the engine did not answer in time; retry"))
		return
	}
	s.log.ErrorContext(r.Context(), "request failed", "op", op, "err", err,
		"method", r.Method, "path", secretscan.RedactPath(r.URL.Path), "principal", Principal(r.Context()))
	writeError(w, errInternal)
}

func writeError(w http.ResponseWriter, e *sever.Error) {
	writeJSON(w, httpStatus(e.Code), struct {
		Error *sever.Error `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// Incident data is sensitive and changes by the second; no cache should keep it.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status is already sent: a failed write means the client went away, and
	// there is nobody left to tell.
	_ = json.NewEncoder(w).Encode(v)
}
