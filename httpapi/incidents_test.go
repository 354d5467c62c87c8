package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

func TestListIncidents(t *testing.T) {
	t.Parallel()
	opened := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	summaries := []sever.IncidentSummary{{ID: "inc-aws-1", Status: sever.IncidentOpen, Runbook: "aws-access-key", OpenedAt: opened, Running: true}}
	tests := []struct {
		name       string
		query      string
		token      string
		result     []sever.IncidentSummary
		wantStatus int
		wantFilter service.ListFilter
		wantField  string
		wantBody   string
	}{
		{name: "defaults", query: "", result: summaries, wantStatus: 200, wantFilter: service.ListFilter{Limit: 100}},
		{name: "status and limit", query: "?status=open&limit=5", result: summaries, wantStatus: 200,
			wantFilter: service.ListFilter{Status: "open", Limit: 5}},
		{name: "max limit", query: "?limit=1000", wantStatus: 200, wantFilter: service.ListFilter{Limit: 1000}},
		{name: "nothing is an empty list", query: "?status=closed", result: nil, wantStatus: 200,
			wantFilter: service.ListFilter{Status: "closed", Limit: 100}, wantBody: `{"incidents":[]}`},
		{name: "unknown status", query: "?status=resolved", wantStatus: 400, wantField: "status"},
		{name: "limit zero", query: "?limit=0", wantStatus: 400, wantField: "limit"},
		{name: "limit negative", query: "?limit=-3", wantStatus: 400, wantField: "limit"},
		{name: "limit too big", query: "?limit=1001", wantStatus: 400, wantField: "limit"},
		{name: "limit not a number", query: "?limit=ten", wantStatus: 400, wantField: "limit"},
		{name: "no token", token: "-", wantStatus: 401},
		{name: "missing scope", token: writerToken, wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *service.ListFilter
			a := newAPI(t, &fakeService{ListIncidentsFunc: func(_ context.Context, f service.ListFilter) ([]sever.IncidentSummary, error) {
				got = &f
				return tt.result, nil
			}})
			rec := a.do(t, req{method: "GET", path: "/v1/incidents" + tt.query, token: orDefault(tt.token, readerToken)})
			if !checkServiceRequest(t, rec, tt.wantStatus, tt.wantField, nil, got, tt.wantFilter) {
				return
			}
			if tt.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("body = %s, want %s", rec.Body, tt.wantBody)
			}
			res := decodeJSON[struct {
				Incidents []sever.IncidentSummary `json:"incidents"`
			}](t, rec)
			if len(res.Incidents) != len(tt.result) || (len(res.Incidents) > 0 && res.Incidents[0] != tt.result[0]) {
				t.Errorf("incidents = %+v, want %+v", res.Incidents, tt.result)
			}
		})
	}
}

func TestGetIncident(t *testing.T) {
	t.Parallel()
	opened := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	inc := &sever.Incident{
		ID:         "inc-aws-0123456789abcdef0123",
		Status:     sever.IncidentContained,
		Credential: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"},
		Runbook:    sever.RunbookRef{Name: "aws-access-key", Version: "1", SHA256: "abc"},
		OpenedAt:   opened,
		Steps: []sever.Step{{ID: "deactivate", Action: "aws.iam.deactivate_access_key", Status: sever.StepSucceeded,
			Enforcement: sever.EnterpriseEnforced, Verified: true, Actor: "sever", PolicyRule: "auto-deactivate", StartedAt: &opened, EndedAt: &opened}},
	}
	svc := &fakeService{GetIncidentFunc: func(_ context.Context, id string) (*sever.Incident, error) {
		switch id {
		case inc.ID:
			return inc, nil
		case "inc-nil":
			return nil, nil
		}
		return nil, sever.Errorf(sever.ENOTFOUND, "", "no incident %q", id)
	}}
	a := newAPI(t, svc)

	t.Run("found", func(t *testing.T) {
		rec := a.do(t, req{method: "GET", path: "/v1/incidents/" + inc.ID, token: readerToken})
		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
		}
		// The incident as it is, plus its enforcement gap.
		var body map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		gap := body["enforcement_gap"]
		delete(body, "enforcement_gap")
		got, _ := json.Marshal(body)
		var wantMap map[string]json.RawMessage
		b, _ := json.Marshal(inc)
		_ = json.Unmarshal(b, &wantMap)
		want, _ := json.Marshal(wantMap)
		if string(got) != string(want) {
			t.Errorf("body =\n%s\nwant\n%s", got, want)
		}
		var g struct {
			EnterpriseEnforced []struct{ Ref string } `json:"enterprise_enforced"`
			NotDone            []struct{ Ref string } `json:"not_done"`
		}
		if err := json.Unmarshal(gap, &g); err != nil || len(g.EnterpriseEnforced) != 1 || g.EnterpriseEnforced[0].Ref != "deactivate" {
			t.Errorf("enforcement_gap = %s (%v)", gap, err)
		}
		for _, k := range []string{`"runbook":{"name"`, `"steps":[{"id"`, `"enforcement":"enterprise_enforced"`, `"policy_rule"`} {
			if !strings.Contains(rec.Body.String(), k) {
				t.Errorf("body lacks %s", k)
			}
		}
	})
	for _, tt := range []struct {
		name, path string
		token      string
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"not found", "/v1/incidents/inc-unknown", readerToken, 404, sever.ENOTFOUND, ""},
		{"id with bad characters", "/v1/incidents/inc%20x%3Cscript%3E", readerToken, 400, sever.EINVALID, "id"},
		{"id too long", "/v1/incidents/" + strings.Repeat("a", 201), readerToken, 400, sever.EINVALID, "id"},
		{"service returns nothing", "/v1/incidents/inc-nil", readerToken, 500, sever.EINTERNAL, ""},
		{"missing scope", "/v1/incidents/" + inc.ID, closerToken, 403, httpapi.EFORBIDDEN, ""},
		{"no token", "/v1/incidents/" + inc.ID, "", 401, sever.EUNAUTHORIZED, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.do(t, req{method: "GET", path: tt.path, token: tt.token})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if e := apiError(t, rec); e.Code != tt.wantCode || e.Field != tt.wantField {
				t.Errorf("code/field = %q/%q, want %q/%q", e.Code, e.Field, tt.wantCode, tt.wantField)
			}
		})
	}
}

func TestCloseIncident(t *testing.T) {
	t.Parallel()
	const id = "inc-aws-0123456789abcdef0123"
	tests := []struct {
		name        string
		body        string
		token       string
		contentType string
		svcErr      error
		wantStatus  int
		wantField   string
		wantReq     service.CloseRequest
	}{
		{name: "closes", body: `{"reason":"  key rotated, owner confirmed  "}`, token: closerToken, wantStatus: 200,
			wantReq: service.CloseRequest{Reason: "key rotated, owner confirmed", By: "closer", Approver: "closer"}},
		{name: "false positive", body: `{"reason":"test key","false_positive":true}`, token: adminToken, wantStatus: 200,
			wantReq: service.CloseRequest{Reason: "test key", By: "admin", Approver: "admin", FalsePositive: true}},
		{name: "reason at the limit", body: `{"reason":"` + strings.Repeat("é", 1024) + `"}`, token: closerToken, wantStatus: 200,
			wantReq: service.CloseRequest{Reason: strings.Repeat("é", 1024), By: "closer", Approver: "closer"}},
		{name: "missing reason", body: `{"false_positive":true}`, token: closerToken, wantStatus: 400, wantField: "reason"},
		{name: "blank reason", body: `{"reason":" "}`, token: closerToken, wantStatus: 400, wantField: "reason"},
		{name: "reason too long", body: `{"reason":"` + strings.Repeat("x", 1025) + `"}`, token: closerToken, wantStatus: 400, wantField: "reason"},
		{name: "by is not taken from the body", body: `{"reason":"x","by":"ceo"}`, token: closerToken, wantStatus: 400, wantField: "by"},
		{name: "wrong type", body: `{"reason":"x","false_positive":"no"}`, token: closerToken, wantStatus: 400, wantField: "false_positive"},
		{name: "malformed", body: `{"reason":`, token: closerToken, wantStatus: 400},
		{name: "empty body", body: ``, token: closerToken, wantStatus: 400},
		{name: "wrong content type", body: `{"reason":"x"}`, token: closerToken, contentType: "text/plain", wantStatus: 415},
		{name: "already closed", body: `{"reason":"x"}`, token: closerToken, svcErr: sever.Errorf(sever.ECONFLICT, "", "incident is closed"), wantStatus: 409},
		{name: "unknown incident", body: `{"reason":"x"}`, token: closerToken, svcErr: sever.Errorf(sever.ENOTFOUND, "", "no incident"), wantStatus: 404},
		{name: "missing scope", body: `{"reason":"x"}`, token: readerToken, wantStatus: 403},
		{name: "no token", body: `{"reason":"x"}`, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *service.CloseRequest
			a := newAPI(t, &fakeService{CloseIncidentFunc: func(_ context.Context, gotID string, r service.CloseRequest) error {
				if gotID != id {
					t.Errorf("id = %q, want %q", gotID, id)
				}
				got = &r
				return tt.svcErr
			}})
			ct := "application/json"
			if tt.contentType != "" {
				ct = tt.contentType
			}
			rec := a.do(t, req{method: "POST", path: "/v1/incidents/" + id + "/close", token: tt.token, contentType: ct, body: tt.body})
			if !checkServiceRequest(t, rec, tt.wantStatus, tt.wantField, tt.svcErr, got, tt.wantReq) {
				return
			}
			if res := decodeJSON[map[string]string](t, rec); res["id"] != id || res["status"] != "closed" || len(res) != 2 {
				t.Errorf("response = %v", res)
			}
		})
	}
}

func TestRoutingAndHealth(t *testing.T) {
	t.Parallel()
	a := newAPI(t, &fakeService{})
	tests := []struct {
		name, method, path string
		token              string
		wantStatus         int
		wantCode           string
		wantAllow          string
	}{
		{name: "unknown route", method: "GET", path: "/v1/nothing", token: adminToken, wantStatus: 404, wantCode: sever.ENOTFOUND},
		{name: "unknown route without token", method: "GET", path: "/", wantStatus: 404, wantCode: sever.ENOTFOUND},
		{name: "empty incident id", method: "GET", path: "/v1/incidents/", token: adminToken, wantStatus: 404, wantCode: sever.ENOTFOUND},
		{name: "GET on signals", method: "GET", path: "/v1/signals", token: adminToken, wantStatus: 405, wantCode: httpapi.EMETHODNOTALLOWED, wantAllow: "POST"},
		{name: "DELETE on incidents", method: "DELETE", path: "/v1/incidents", token: adminToken, wantStatus: 405, wantCode: httpapi.EMETHODNOTALLOWED, wantAllow: "GET, HEAD, POST"},
		{name: "GET on close", method: "GET", path: "/v1/incidents/inc-1/close", token: adminToken, wantStatus: 405, wantCode: httpapi.EMETHODNOTALLOWED, wantAllow: "POST"},
		{name: "POST on healthz", method: "POST", path: "/healthz", wantStatus: 405, wantCode: httpapi.EMETHODNOTALLOWED, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.do(t, req{method: tt.method, path: tt.path, token: tt.token})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if e := apiError(t, rec); e.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", e.Code, tt.wantCode)
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}

	t.Run("healthz without auth", func(t *testing.T) {
		rec := a.do(t, req{method: "GET", path: "/healthz"})
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
			t.Errorf("healthz = %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("unclean path redirects", func(t *testing.T) {
		rec := a.do(t, req{method: "GET", path: "/v1//incidents", token: readerToken})
		if rec.Code != http.StatusTemporaryRedirect && rec.Code != http.StatusMovedPermanently {
			t.Errorf("status = %d, want a redirect; body %s", rec.Code, rec.Body)
		}
	})
}

func TestAuthHeaderForms(t *testing.T) {
	t.Parallel()
	a := newAPI(t, &fakeService{ListIncidentsFunc: func(context.Context, service.ListFilter) ([]sever.IncidentSummary, error) {
		return nil, nil
	}})
	tests := []struct {
		header     string
		wantStatus int
		wantError  string // RFC 6750 error in the challenge
	}{
		{"Bearer " + readerToken, 200, ""},
		{"bearer " + readerToken, 200, ""},
		{"Bearer  " + readerToken + " ", 200, ""},
		{"Basic cmVhZGVyOnB3", 401, "invalid_request"},
		{"Bearer", 401, "invalid_request"},
		{"Bearer ", 401, "invalid_request"},
		{readerToken, 401, "invalid_request"},
		{"Bearer " + strings.ToUpper(readerToken), 401, "invalid_token"},
		{"Bearer " + readerToken + "x", 401, "invalid_token"},
	}
	for _, tt := range tests {
		rec := a.do(t, req{method: "GET", path: "/v1/incidents", header: map[string]string{"Authorization": tt.header}})
		if rec.Code != tt.wantStatus {
			t.Errorf("%q: status = %d, want %d", tt.header, rec.Code, tt.wantStatus)
			continue
		}
		if tt.wantStatus == 401 {
			if ch := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, tt.wantError) {
				t.Errorf("%q: WWW-Authenticate = %q, want error %q", tt.header, ch, tt.wantError)
			}
			if e := apiError(t, rec); e.Code != sever.EUNAUTHORIZED {
				t.Errorf("%q: code = %q", tt.header, e.Code)
			}
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	a := newAPI(t, &fakeService{GetIncidentFunc: func(context.Context, string) (*sever.Incident, error) {
		panic("boom in the engine")
	}})
	rec := a.do(t, req{method: "GET", path: "/v1/incidents/inc-1", token: readerToken})
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500; body %s", rec.Code, rec.Body)
	}
	if e := apiError(t, rec); e.Code != sever.EINTERNAL || strings.Contains(e.Message, "boom") {
		t.Errorf("error = %+v, want a generic internal error", e)
	}
	if logs := a.logs.String(); !strings.Contains(logs, "boom in the engine") || !strings.Contains(logs, `"status":500`) {
		t.Errorf("the log lacks the panic or the 500: %s", logs)
	}
}

// TestLogsKeepSecrets checks that neither token values nor request bodies reach the
// log, while the request lines still say who did what.
func TestLogsKeepSecrets(t *testing.T) {
	t.Parallel()
	const marker = "zebra-marker-in-the-body"
	a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll})
	a.postSignal(t, signalJSON(t, func(m map[string]any) { m["summary"] = marker }))
	a.postSignal(t, signalJSON(t, func(m map[string]any) { m["secret"] = marker }))
	a.do(t, req{method: "POST", path: "/v1/signals", token: "wrong-token-0123456789", contentType: "application/json", body: marker})
	a.do(t, req{method: "GET", path: "/v1/incidents?status=" + marker, token: readerToken})

	logs := a.logs.String()
	for _, secret := range []string{writerToken, readerToken, "wrong-token-0123456789", marker} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{`"msg":"http request"`, `"method":"POST"`, `"path":"/v1/signals"`, `"status":202`,
		`"principal":"writer"`, `"status":401`, `"duration"`, `"msg":"signal accepted"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	ok := httpapi.Token{Name: "ok", Value: "0123456789abcdef"}
	tests := []struct {
		name    string
		o       httpapi.Options
		wantErr string // "" means New must succeed
	}{
		{"valid", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{ok}}, ""},
		{"padded token", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{{Name: "a", Value: "abcdefghijklmnop=="}}}, ""},
		{"padding inside a token", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{{Name: "a", Value: "abc=defghijklmnop"}}}, "b64token"},
		{"no service", httpapi.Options{Tokens: []httpapi.Token{ok}}, "Service"},
		{"no tokens", httpapi.Options{Service: &fakeService{}}, "no tokens"},
		{"negative body limit", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{ok}, MaxBodyBytes: -1}, "MaxBodyBytes"},
		{"nameless token", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{{Value: ok.Value}}}, "name is required"},
		{"short token", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{{Name: "a", Value: "tiny1"}}}, "shorter than 16"},
		{"token with a space", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{{Name: "a", Value: "0123456789 abcdef"}}}, "b64token"},
		{"duplicate names", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{ok, {Name: "ok", Value: "fedcba9876543210"}}}, "duplicate name"},
		{"duplicate values", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{ok, {Name: "other", Value: ok.Value}}}, "same value"},
		{"unknown scope", httpapi.Options{Service: &fakeService{}, Tokens: []httpapi.Token{{Name: "a", Value: ok.Value, Scopes: []string{"incidents:delete"}}}}, "unknown scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := httpapi.New(tt.o)
			if tt.wantErr == "" {
				if err != nil || s == nil || s.Handler() == nil {
					t.Fatalf("New = %v, %v; want a server", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.wantErr)
			}
			for _, tok := range tt.o.Tokens {
				if strings.Contains(err.Error(), tok.Value) {
					t.Errorf("error %q repeats a token value", err)
				}
			}
		})
	}
}

func TestPrincipalOutsideRequests(t *testing.T) {
	t.Parallel()
	if p := httpapi.Principal(context.Background()); p != "" {
		t.Errorf("Principal(background) = %q, want empty", p)
	}
}
