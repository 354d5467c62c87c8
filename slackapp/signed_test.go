package slackapp

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSignedRequestGateShared sends the same doubtful requests to the
// interactivity and the slash command endpoints: both go through one gate, so
// both must answer alike, to the byte.
func TestSignedRequestGateShared(t *testing.T) {
	now := time.Now()
	oversized := bytes.Repeat([]byte("a"), MaxBodyBytes+1)
	tests := []struct {
		name       string
		req        func() *http.Request
		noSecret   bool
		wantStatus int
		wantBody   string
	}{
		{name: "GET", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) },
			wantStatus: http.StatusMethodNotAllowed, wantBody: "method not allowed; use POST\n"},
		{name: "oversized body", req: func() *http.Request { return signedRequest(oversized, testSecret, now) },
			wantStatus: http.StatusBadRequest, wantBody: "request body is larger than 65536 bytes\n"},
		{name: "forged signature", req: func() *http.Request { return signedRequest([]byte("a=b"), "not-the-secret", now) },
			wantStatus: http.StatusUnauthorized, wantBody: "invalid or expired Slack signature\n"},
		{name: "expired timestamp", req: func() *http.Request { return signedRequest([]byte("a=b"), testSecret, now.Add(-time.Hour)) },
			wantStatus: http.StatusUnauthorized, wantBody: "invalid or expired Slack signature\n"},
		{name: "no signing secret", noSecret: true, req: func() *http.Request { return signedRequest([]byte("a=b"), "", now) },
			wantStatus: http.StatusUnauthorized, wantBody: "invalid or expired Slack signature\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ih := newTestHandler(&fakeDecider{}, io.Discard)
			sh := newSlashHandler(&fakeContainer{}, io.Discard)
			if tt.noSecret {
				ih.SigningSecret, sh.SigningSecret = "", ""
			}
			for name, h := range map[string]http.Handler{"interactivity": ih, "slash": sh} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, tt.req())
				if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody {
					t.Errorf("%s: %d %q, want %d %q", name, w.Code, w.Body, tt.wantStatus, tt.wantBody)
				}
			}
		})
	}
}
