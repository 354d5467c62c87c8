package worker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// /healthz answers while the process serves; /readyz only once the worker polls
// and the Temporal frontend answers, naming what is missing otherwise.
func TestHealth(t *testing.T) {
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name       string
		polling    bool
		check      error
		noCheck    bool
		path       string
		wantStatus int
		want       string
	}{
		{name: "live while starting", path: "/healthz", wantStatus: http.StatusOK, want: "ok"},
		{name: "not ready before Start", path: "/readyz", wantStatus: http.StatusServiceUnavailable, want: "not polling"},
		{name: "ready", polling: true, path: "/readyz", wantStatus: http.StatusOK, want: "ready"},
		{name: "ready without a check", polling: true, noCheck: true, path: "/readyz", wantStatus: http.StatusOK, want: "ready"},
		{name: "frontend down", polling: true, check: down, path: "/readyz", wantStatus: http.StatusServiceUnavailable, want: "connection refused"},
		{name: "live with the frontend down", polling: true, check: down, path: "/healthz", wantStatus: http.StatusOK, want: "ok"},
		{name: "no POST", path: "/readyz", wantStatus: http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Health{Check: func(ctx context.Context) error {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("health check without a deadline")
				}
				return tc.check
			}}
			if tc.noCheck {
				h.Check = nil
			}
			h.SetPolling(tc.polling)
			mux := http.NewServeMux()
			h.Register(mux)
			method := "GET"
			if tc.name == "no POST" {
				method = "POST"
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(method, tc.path, nil))
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s %s = %d %q; want %d containing %q", method, tc.path, rec.Code, rec.Body, tc.wantStatus, tc.want)
			}
		})
	}
}
