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
)

func reportIncident() (*sever.Incident, *sever.Runbook) {
	t0 := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	ts := func(s float64) *time.Time {
		t := t0.Add(time.Duration(s * float64(time.Second)))
		return &t
	}
	rb := &sever.Runbook{Name: "aws-access-key", Version: "1", SHA256: sever.SHA256Hex([]byte("rb v1")),
		Frameworks: sever.Frameworks{OWASPNHI: []string{"NHI2"}},
		Steps: []sever.RunbookStep{{ID: "deactivate", Action: "aws.iam.deactivate_access_key", Containment: true,
			Frameworks: sever.Frameworks{NISTAIRMF: []string{"Manage"}}}}}
	cred := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"}
	inc := &sever.Incident{
		ID: "inc-aws-0123456789abcdef0123", Status: sever.IncidentContained, Credential: cred,
		Runbook: rb.Ref(), OpenedAt: t0, ContainedAt: ts(1.2),
		Signals: []sever.RecordedSignal{{Signal: sever.Signal{ID: "sig-1", Source: "aws-health", Origin: sever.OriginVendor,
			Kind: sever.KindCredentialExposed, ObservedAt: t0, ReceivedAt: t0, Credential: cred, Labels: []string{"label-text"}}}},
		Steps: []sever.Step{{ID: "deactivate", Action: "aws.iam.deactivate_access_key", Status: sever.StepSucceeded,
			Enforcement: sever.EnterpriseEnforced, Verified: true, Actor: "sever", PolicyRule: "auto-deactivate",
			StartedAt: ts(0.4), EndedAt: ts(1.1), Containment: true}},
	}
	return inc, rb
}

func TestIncidentReport(t *testing.T) {
	t.Parallel()
	inc, rb := reportIncident()
	edited := *rb
	edited.SHA256 = sever.SHA256Hex([]byte("rb v2"))
	svc := &fakeService{GetIncidentFunc: func(_ context.Context, id string) (*sever.Incident, error) {
		switch id {
		case inc.ID:
			return inc, nil
		case "inc-nil":
			return nil, nil
		}
		return nil, sever.Errorf(sever.ENOTFOUND, "", "no incident %q", id)
	}}
	withRunbook := func(r *sever.Runbook) func(*httpapi.Options) {
		return func(o *httpapi.Options) {
			o.Runbook = func(name string) (*sever.Runbook, bool) {
				if name == r.Name {
					return r, true
				}
				return nil, false
			}
		}
	}
	base := "/v1/incidents/" + inc.ID + "/report"

	t.Run("formats", func(t *testing.T) {
		a := newAPI(t, svc, withRunbook(rb))
		for _, tt := range []struct {
			query, contentType, filename string
			contains                     []string
		}{
			{"", "application/json", inc.ID + "-report.json", []string{`"accountability"`, `"enterprise_contained": true`}},
			{"?format=json", "application/json", inc.ID + "-report.json", []string{`"gap"`, `"NHI2"`}},
			{"?format=md", "text/markdown; charset=utf-8", inc.ID + "-report.md", []string{"# Incident report", "## Enforcement gap", "NHI2 Secret Leakage"}},
			{"?format=html", "text/html; charset=utf-8", inc.ID + "-report.html", []string{"<!doctype html>", "<svg", "enterprise_enforced"}},
			{"?format=ocsf", "application/json", inc.ID + "-report.ocsf.json", []string{`"class_uid": 2005`, `"class_uid": 7001`, `"enforcement": "enterprise_enforced"`}},
		} {
			rec := a.do(t, req{method: "GET", path: base + tt.query, token: readerToken})
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status = %d; body %s", tt.query, rec.Code, rec.Body)
			}
			h := rec.Header()
			if h.Get("Content-Type") != tt.contentType || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: headers %v", tt.query, h)
			}
			if cd := h.Get("Content-Disposition"); cd != `inline; filename="`+tt.filename+`"` {
				t.Errorf("%s: Content-Disposition = %q", tt.query, cd)
			}
			if (tt.query == "?format=html") != (h.Get("Content-Security-Policy") != "") {
				t.Errorf("%s: Content-Security-Policy = %q", tt.query, h.Get("Content-Security-Policy"))
			}
			body := rec.Body.String()
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("%s: body lacks %q", tt.query, want)
				}
			}
			if strings.Contains(body, "label-text") {
				t.Errorf("%s: report shows a signal label", tt.query)
			}
		}
	})

	t.Run("runbook lookup", func(t *testing.T) {
		for _, tt := range []struct {
			name      string
			tweak     []func(*httpapi.Options)
			available bool
		}{
			{"pinned version", []func(*httpapi.Options){withRunbook(rb)}, true},
			{"edited since", []func(*httpapi.Options){withRunbook(&edited)}, false},
			{"no lookup", nil, false},
		} {
			a := newAPI(t, svc, tt.tweak...)
			rec := a.do(t, req{method: "GET", path: base + "?format=json", token: readerToken})
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status = %d; body %s", tt.name, rec.Code, rec.Body)
			}
			var rep struct {
				Frameworks struct {
					Available bool `json:"available"`
				} `json:"frameworks"`
				GeneratedAt time.Time `json:"generated_at"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Frameworks.Available != tt.available {
				t.Errorf("%s: frameworks available = %t, want %t", tt.name, rep.Frameworks.Available, tt.available)
			}
			if !rep.GeneratedAt.Equal(fixedNow) {
				t.Errorf("%s: generated_at = %v, want the server clock %v", tt.name, rep.GeneratedAt, fixedNow)
			}
		}
	})

	for _, tt := range []struct {
		name, path string
		token      string
		wantStatus int
		wantCode   string
		wantField  string
		wantMsg    string
	}{
		{"unknown format", base + "?format=pdf", readerToken, 400, sever.EINVALID, "format", `unknown report format "pdf" (one of md, html, json, ocsf)`},
		{"empty format", base + "?format=", readerToken, 400, sever.EINVALID, "format", "one of md, html, json, ocsf"},
		{"format twice", base + "?format=md&format=html", readerToken, 400, sever.EINVALID, "format", "given 2 times"},
		{"not found", "/v1/incidents/inc-unknown/report", readerToken, 404, sever.ENOTFOUND, "", ""},
		{"bad id", "/v1/incidents/inc%20x/report", readerToken, 400, sever.EINVALID, "id", ""},
		{"service returns nothing", "/v1/incidents/inc-nil/report", readerToken, 500, sever.EINTERNAL, "", ""},
		{"missing scope", base, writerToken, 403, httpapi.EFORBIDDEN, "", ""},
		{"no token", base, "", 401, sever.EUNAUTHORIZED, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var asked bool
			a := newAPI(t, &fakeService{GetIncidentFunc: func(ctx context.Context, id string) (*sever.Incident, error) {
				asked = true
				return svc.GetIncident(ctx, id)
			}})
			rec := a.do(t, req{method: "GET", path: tt.path, token: tt.token})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			e := apiError(t, rec)
			if e.Code != tt.wantCode || e.Field != tt.wantField || !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("error = %+v, want code %s field %q message containing %q", e, tt.wantCode, tt.wantField, tt.wantMsg)
			}
			if tt.wantField == "format" && asked {
				t.Error("the engine was asked despite a bad format")
			}
		})
	}
}

func TestIncidentReportMethodNotAllowed(t *testing.T) {
	t.Parallel()
	a := newAPI(t, &fakeService{})
	rec := a.do(t, req{method: "POST", path: "/v1/incidents/inc-1/report", token: readerToken})
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
}
