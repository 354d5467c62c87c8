package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultHealthTimeout bounds one readiness check of the Temporal frontend: well
// under a Kubernetes probe's default one-second-per-retry budget times its retries.
const DefaultHealthTimeout = 2 * time.Second

// Health answers a worker process's probes on its metrics listener, which is the
// only HTTP it serves:
//
//	GET /healthz  200 while the process serves HTTP (liveness: a worker whose
//	              Temporal worker stopped exits, so there is nothing else to see)
//	GET /readyz   200 when the Temporal worker has started its pollers and the
//	              Temporal frontend answers a health check; 503 naming which is not
//
// The zero value is usable; SetPolling reports the worker's state.
type Health struct {
	// Check asks the Temporal frontend whether it serves (client.Client's
	// CheckHealth); nil skips that part of readiness.
	Check func(ctx context.Context) error
	// Timeout bounds Check; 0 = DefaultHealthTimeout.
	Timeout time.Duration

	polling atomic.Bool
}

// SetPolling records whether the Temporal worker is running its pollers: true
// once Start returned, false when it stops.
func (h *Health) SetPolling(on bool) { h.polling.Store(on) }

// Register adds GET /healthz and GET /readyz to mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { answer(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", h.ready)
}

func (h *Health) ready(w http.ResponseWriter, r *http.Request) {
	if !h.polling.Load() {
		answer(w, http.StatusServiceUnavailable, "not ready: the Temporal worker is not polling (starting or stopped)")
		return
	}
	if h.Check != nil {
		d := h.Timeout
		if d <= 0 {
			d = DefaultHealthTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		if err := h.Check(ctx); err != nil {
			// The client's error names the frontend's address and the gRPC status,
			// never a credential (the API key travels in metadata, not in errors).
			answer(w, http.StatusServiceUnavailable, fmt.Sprintf("not ready: the Temporal frontend does not answer its health check: %v", err))
			return
		}
	}
	answer(w, http.StatusOK, "ready")
}

func answer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, msg)
}
