package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/telemetry"
)

func TestMetricsEndpoint(t *testing.T) {
	m, err := telemetry.New(telemetry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll}, func(o *httpapi.Options) { o.Metrics = m })

	if rec := a.postSignal(t, signalJSON(t, nil)); rec.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/signals = %d: %s", rec.Code, rec.Body)
	}
	// Rejected signals are not counted as accepted.
	a.postSignal(t, signalJSON(t, func(m map[string]any) { m["origin"] = "nowhere" }))

	t.Run("ServedWithoutToken", func(t *testing.T) {
		rec := a.do(t, req{method: "GET", path: "/metrics"})
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
		}
		body := rec.Body.String()
		want := `sever_signals_accepted_total{origin="enterprise",source="gitleaks-ci"} 1`
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %s:\n%s", want, body)
		}
		for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "123456789012", "writer", "evt-42"} {
			if strings.Contains(body, secret) {
				t.Errorf("exposition contains %q", secret)
			}
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		rec := a.do(t, req{method: "POST", path: "/metrics"})
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST /metrics = %d, want 405", rec.Code)
		}
	})
}

func TestNoMetricsEndpointWithoutMetrics(t *testing.T) {
	a := newAPI(t, &fakeService{})
	rec := a.do(t, req{method: "GET", path: "/metrics", token: adminToken})
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /metrics without Options.Metrics = %d, want 404", rec.Code)
	}
}

// TestMetricsNameNoOperator: /metrics is served without a token, so its labels never
// carry an identity. An on-demand containment's signal names its operator in its
// source ("operator:<token name>"); the metric counts it under source="operator",
// whichever front end it came through (the API, or Server.Contain for the Slack
// command and the web UI's form), while the signal itself still names the operator.
func TestMetricsNameNoOperator(t *testing.T) {
	tests := []struct {
		name    string
		contain func(t *testing.T, s *httpapi.Server)
	}{
		{name: "POST /v1/incidents", contain: func(t *testing.T, s *httpapi.Server) {
			r := httptest.NewRequest("POST", "/v1/incidents", strings.NewReader(containJSON(t, nil)))
			r.Header.Set("Authorization", "Bearer "+oscarToken)
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != http.StatusAccepted {
				t.Fatalf("POST /v1/incidents = %d: %s", w.Code, w.Body)
			}
		}},
		{name: "Server.Contain (Slack, web UI)", contain: func(t *testing.T, s *httpapi.Server) {
			_, err := s.Contain(context.Background(), httpapi.ContainRequest{
				Credential: sever.Credential{Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"},
				Reason:     "key seen on a paste site", Operator: "oscar", Reporter: "U0OSCAR", Channel: httpapi.ContainChannelSlack})
			if err != nil {
				t.Fatalf("Contain: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := telemetry.New(telemetry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close(context.Background()) })
			svc := &containService{}
			o := httpapi.Options{Service: svc, Tokens: testTokens, Metrics: m, Now: func() time.Time { return fixedNow }}
			withOscar(&o)
			s, err := httpapi.New(o)
			if err != nil {
				t.Fatal(err)
			}
			tc.contain(t, s)

			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil)) // no token
			if w.Code != http.StatusOK {
				t.Fatalf("GET /metrics = %d: %s", w.Code, w.Body)
			}
			for _, line := range strings.Split(w.Body.String(), "\n") {
				if strings.Contains(line, "oscar") {
					t.Errorf("unauthenticated /metrics names the operator token: %s", line)
				}
			}
			if want := `sever_signals_accepted_total{origin="enterprise",source="operator"} 1`; !strings.Contains(w.Body.String(), want) {
				t.Errorf("exposition lacks %s", want)
			}
			svc.mu.Lock()
			defer svc.mu.Unlock()
			if len(svc.got) != 1 || svc.got[0].Source != httpapi.ContainSourcePrefix+"oscar" {
				t.Errorf("the engine got %+v, want one signal whose source names the operator", svc.got)
			}
		})
	}
}
