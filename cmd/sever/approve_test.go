package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sever approve reads the waiting step first and sends its approval nonce and
// argument hash, so the decision answers the request the operator saw.
func TestApproveSendsTheRequestNonce(t *testing.T) {
	const nonce, args = "0123456789abcdef0123456789abcdef", "aa00000000000000000000000000000000000000000000000000000000000000"
	var sent map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/incidents/inc-1":
			_, _ = io.WriteString(w, `{"id":"inc-1","steps":[{"id":"other","approval_nonce":"ffffffffffffffffffffffffffffffff"},`+
				`{"id":"disable","status":"waiting_approval","args_sha256":"`+args+`","approval_nonce":"`+nonce+`"}]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/incidents/inc-1/approvals":
			if err := json.NewDecoder(r.Body).Decode(&sent); err != nil {
				t.Errorf("decode body: %v", err)
			}
			_, _ = io.WriteString(w, `{"incident_id":"inc-1","step":"disable","status":"running","remaining":0}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out, _, err := run(t, "approve", "inc-1", "--step", "disable", "--decision", "approve", "--as", "alice",
		"--url", srv.URL, "--token", "sever_test_token_0123456789")
	if err != nil || !strings.Contains(out, "running") {
		t.Fatalf("approve: %v %q", err, out)
	}
	if sent["nonce"] != nonce || sent["args_sha256"] != args || sent["channel"] != "cli" {
		t.Errorf("sent %v; want the waiting step's nonce and args hash", sent)
	}
}
