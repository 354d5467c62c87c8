package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// containServer answers POST /v1/incidents like the API and keeps what it got.
type containServer struct {
	mu     sync.Mutex
	bodies []map[string]any
	header []http.Header
	status int
	answer string
}

func (s *containServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/incidents" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	s.mu.Lock()
	s.bodies, s.header = append(s.bodies, m), append(s.header, r.Header.Clone())
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.status)
	_, _ = io.WriteString(w, s.answer)
}

func TestContainCommand(t *testing.T) {
	srv := &containServer{status: http.StatusAccepted,
		answer: `{"incident_id":"inc-aws-0123","signal_id":"sig-1","duplicate":false,"status":"recorded"}`}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	out, errOut, err := run(t, "contain", "--url", ts.URL, "--token", "oscar-0123456789abcdef", "--data-dir", t.TempDir(),
		"--type", "aws_access_key", "--id", "AKIAIOSFODNN7EXAMPLE", "--account", "123456789012",
		"--runbook", "aws-access-key-exposed", "--reason", "seen on a paste site")
	if err != nil {
		t.Fatalf("contain: %v (%s)", err, errOut)
	}
	if out != "inc-aws-0123\n" {
		t.Errorf("stdout = %q; want the incident ID alone", out)
	}
	if len(srv.bodies) != 1 {
		t.Fatalf("%d requests", len(srv.bodies))
	}
	b, h := srv.bodies[0], srv.header[0]
	c, _ := b["credential"].(map[string]any)
	if c["type"] != "aws_access_key" || c["id"] != "AKIAIOSFODNN7EXAMPLE" || c["provider"] != "aws" || c["account"] != "123456789012" ||
		b["runbook"] != "aws-access-key-exposed" || b["reason"] != "seen on a paste site" {
		t.Errorf("body = %v", b)
	}
	if h.Get("Authorization") != "Bearer oscar-0123456789abcdef" || !strings.HasPrefix(h.Get("Idempotency-Key"), "cli-") {
		t.Errorf("headers: Authorization %q, Idempotency-Key %q", h.Get("Authorization"), h.Get("Idempotency-Key"))
	}
}

func TestContainCommandRefuses(t *testing.T) {
	mismatch := &containServer{status: http.StatusUnprocessableEntity,
		answer: `{"error":{"code":"unprocessable","field":"runbook","message":"runbook \"github-token-exposed\" does not exist or does not contain a aws_access_key; runbooks that do: aws-access-key-exposed"}}`}
	ts := httptest.NewServer(mismatch)
	defer ts.Close()
	base := []string{"contain", "--token", "oscar-0123456789abcdef", "--type", "aws_access_key", "--id", "AKIAIOSFODNN7EXAMPLE"}
	tests := []struct {
		name    string
		args    []string
		url     string // "" is a port nothing listens on: the CLI must refuse before the network
		wantErr []string
	}{
		{name: "no reason", args: base, wantErr: []string{"reason"}},
		{name: "blank reason", args: append(append([]string{}, base...), "--reason", "  "), wantErr: []string{"reason is required"}},
		{name: "oversized reason", args: append(append([]string{}, base...), "--reason", strings.Repeat("x", 1025)), wantErr: []string{"longer than 1024"}},
		{name: "unknown type", args: []string{"contain", "--token", "t-0123456789abcdef", "--type", "ssh_key", "--id", "k", "--reason", "r"},
			wantErr: []string{"credential.type", "aws_access_key"}},
		{name: "secret as id", args: []string{"contain", "--token", "t-0123456789abcdef", "--type", "anthropic_api_key",
			"--id", "sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0", "--reason", "r"}, wantErr: []string{"never accepts"}},
		{name: "runbook mismatch", args: append(append([]string{}, base...), "--reason", "r", "--runbook", "github-token-exposed"),
			url: ts.URL, wantErr: []string{"HTTP 422", "runbooks that do: aws-access-key-exposed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				url = "http://127.0.0.1:1"
			}
			args := append(append([]string{}, tc.args...), "--url", url, "--data-dir", t.TempDir())
			out, _, err := run(t, args...)
			if err == nil {
				t.Fatalf("no error; stdout %q", out)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sk-ant-api03") {
				t.Error("the error echoes the secret")
			}
			if out != "" {
				t.Errorf("stdout %q on failure", out)
			}
		})
	}
}
