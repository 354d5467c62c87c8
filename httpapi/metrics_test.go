package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

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
