package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

// retryService is a fakeService that also retries steps.
type retryService struct {
	fakeService
	RetryFunc func(ctx context.Context, id string, r service.RetryRequest) (service.RetryResult, error)
}

func (f *retryService) RetryStep(ctx context.Context, id string, r service.RetryRequest) (service.RetryResult, error) {
	return f.RetryFunc(ctx, id, r)
}

func TestRetryRoute(t *testing.T) {
	var got service.RetryRequest
	var gotID string
	svc := &retryService{RetryFunc: func(_ context.Context, id string, r service.RetryRequest) (service.RetryResult, error) {
		gotID, got = id, r
		switch r.Step {
		case "done":
			return service.RetryResult{}, sever.Errorf(sever.ECONFLICT, "step", "retry: step done is succeeded, not failed")
		case "nope":
			return service.RetryResult{}, sever.Errorf(sever.ENOTFOUND, "step", "retry: incident has no step \"nope\"")
		}
		return service.RetryResult{IncidentID: id, Step: r.Step, Attempt: 2, Steps: []string{r.Step}, Status: "open"}, nil
	}}
	cases := []struct {
		name   string
		svc    service.Service
		token  string
		body   string
		status int
		want   string
	}{
		{"Accepted", svc, closerToken, `{"step":"deactivate","reason":"permission granted"}`, http.StatusAccepted, `"attempt":2`},
		{"NotFailed", svc, closerToken, `{"step":"done"}`, http.StatusConflict, "not failed"},
		{"UnknownStep", svc, closerToken, `{"step":"nope"}`, http.StatusNotFound, "no step"},
		{"NoStep", svc, closerToken, `{"reason":"x"}`, http.StatusBadRequest, "step is required"},
		{"UnknownField", svc, closerToken, `{"step":"deactivate","force":true}`, http.StatusBadRequest, "force"},
		{"LongStep", svc, closerToken, `{"step":"` + strings.Repeat("s", 200) + `"}`, http.StatusBadRequest, "longer than"},
		{"ReadScopeOnly", svc, readerToken, `{"step":"deactivate"}`, http.StatusForbidden, "incidents:write"},
		{"NoToken", svc, "", `{"step":"deactivate"}`, http.StatusUnauthorized, ""},
		{"ServiceWithoutRetries", &fakeService{}, closerToken, `{"step":"deactivate"}`, http.StatusServiceUnavailable, "not available"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got = service.RetryRequest{}
			a := newAPI(t, tc.svc)
			rec := a.do(t, req{method: "POST", path: "/v1/incidents/inc-1/retry", token: tc.token,
				contentType: "application/json", body: tc.body})
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d with %q", rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
	a := newAPI(t, svc)
	a.do(t, req{method: "POST", path: "/v1/incidents/inc-1/retry", token: closerToken, contentType: "application/json",
		body: `{"step":" deactivate ","reason":"permission granted"}`})
	if gotID != "inc-1" || got != (service.RetryRequest{Step: "deactivate", Reason: "permission granted", By: "closer"}) {
		t.Errorf("service got %s %+v, want the trimmed step and reason, by the token's name", gotID, got)
	}
}

func FuzzDecodeRetryBody(f *testing.F) {
	f.Add(`{"step":"deactivate","reason":"x"}`)
	f.Add(`{"step":""}`)
	f.Add(`{"step":"a","step":"b"}`)
	f.Add(`[]`)
	svc := &retryService{RetryFunc: func(_ context.Context, id string, r service.RetryRequest) (service.RetryResult, error) {
		if strings.TrimSpace(r.Step) == "" || r.Step != strings.TrimSpace(r.Step) {
			panic("the service got an untrimmed or empty step: " + r.Step)
		}
		return service.RetryResult{IncidentID: id, Step: r.Step, Attempt: 2}, nil
	}}
	a := newAPI(f, svc)
	f.Fuzz(func(t *testing.T, body string) {
		rec := a.do(t, req{method: "POST", path: "/v1/incidents/inc-1/retry", token: closerToken, contentType: "application/json", body: body})
		if rec.Code != http.StatusAccepted && rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
