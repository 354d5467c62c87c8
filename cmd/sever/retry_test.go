package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIncidentsRetry(t *testing.T) {
	var sent map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/v1/incidents/inc-1/retry" {
			http.NotFound(w, r)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&sent); err != nil {
			t.Errorf("decode body: %v", err)
		}
		if sent["step"] == "done" {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":{"code":"conflict","message":"retry: step done is succeeded, not failed","field":"step"}}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"incident_id":"inc-1","step":"deactivate","attempt":2,"steps":["deactivate","revoke-sessions"],"status":"open"}`)
	}))
	defer srv.Close()
	cases := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"Retried", []string{"--step", "deactivate", "--reason", "granted iam:UpdateAccessKey"}, "attempt 2  running again: deactivate, revoke-sessions", ""},
		{"Refused", []string{"--step", "done"}, "", "not failed"},
		{"NoStep", nil, "", "step"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent = nil
			args := append([]string{"incidents", "retry", "inc-1", "--url", srv.URL, "--token", "sever_test_token_0123456789"}, tc.args...)
			out, _, err := run(t, args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.wantOut) {
				t.Fatalf("retry: %v %q", err, out)
			}
			if sent["step"] != "deactivate" || sent["reason"] != "granted iam:UpdateAccessKey" {
				t.Errorf("sent %v", sent)
			}
		})
	}
}
