package httpapi_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

func TestSubmitSignalRejects(t *testing.T) {
	t.Parallel()
	const anthropicKey = "sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
	tests := []struct {
		name        string
		body        string
		contentType string // default application/json
		token       string // default writer; "-" for none
		wantStatus  int
		wantCode    string
		wantField   string
		wantMsg     []string
	}{
		{name: "empty body", body: "", wantStatus: 400, wantCode: sever.EINVALID, wantMsg: []string{"empty"}},
		{name: "malformed JSON", body: `{"source": "x",`, wantStatus: 400, wantCode: sever.EINVALID, wantMsg: []string{"malformed JSON"}},
		{name: "malformed JSON literal", body: `{"source": tru}`, wantStatus: 400, wantCode: sever.EINVALID, wantMsg: []string{"malformed JSON at byte"}},
		{name: "not an object", body: `["source"]`, wantStatus: 400, wantCode: sever.EINVALID, wantMsg: []string{"JSON object"}},
		{name: "trailing garbage", body: signalJSON(t, nil) + ` garbage`, wantStatus: 400, wantCode: sever.EINVALID, wantMsg: []string{"after the JSON object"}},
		{name: "trailing second object", body: signalJSON(t, nil) + `{}`, wantStatus: 400, wantCode: sever.EINVALID, wantMsg: []string{"after the JSON object"}},
		{name: "unknown field", body: signalJSON(t, func(m map[string]any) { m["colour"] = "red" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "colour", wantMsg: []string{`unknown field "colour"`, "source_event_id"}},
		{name: "unknown nested field", body: signalJSON(t, func(m map[string]any) { cred(m)["region"] = "eu-west-1" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.region", wantMsg: []string{`unknown field "credential.region"`}},
		{name: "field name in wrong case", body: signalJSON(t, func(m map[string]any) { m["Kind"] = m["kind"]; delete(m, "kind") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "Kind", wantMsg: []string{`did you mean "kind"`}},
		{name: "server-assigned field", body: signalJSON(t, func(m map[string]any) { m["id"] = "sig-1" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "id", wantMsg: []string{"assigned by sever"}},
		{name: "duplicate field", body: `{"source":"a","source":"b"}`,
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "source", wantMsg: []string{"duplicate"}},
		{name: "wrong type observed_at", body: signalJSON(t, func(m map[string]any) { m["observed_at"] = 1717236000 }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "observed_at", wantMsg: []string{"observed_at: want an RFC 3339 time, got a number"}},
		{name: "wrong type credential.id", body: signalJSON(t, func(m map[string]any) { cred(m)["id"] = 42 }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.id", wantMsg: []string{"credential.id: want a string"}},
		{name: "wrong type credential", body: signalJSON(t, func(m map[string]any) { m["credential"] = "AKIA" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential", wantMsg: []string{"want an object"}},
		{name: "wrong type drill", body: signalJSON(t, func(m map[string]any) { m["drill"] = "yes" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "drill", wantMsg: []string{"want true or false"}},
		{name: "wrong type labels", body: signalJSON(t, func(m map[string]any) { m["labels"] = []any{"a", 1} }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "labels[1]", wantMsg: []string{"want a string"}},
		{name: "missing source", body: signalJSON(t, func(m map[string]any) { delete(m, "source") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "source"},
		{name: "blank source", body: signalJSON(t, func(m map[string]any) { m["source"] = "  " }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "source"},
		{name: "missing origin", body: signalJSON(t, func(m map[string]any) { delete(m, "origin") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "origin"},
		{name: "missing kind", body: signalJSON(t, func(m map[string]any) { delete(m, "kind") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "kind"},
		{name: "null kind", body: signalJSON(t, func(m map[string]any) { m["kind"] = nil }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "kind"},
		{name: "missing credential.provider", body: signalJSON(t, func(m map[string]any) { delete(cred(m), "provider") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.provider"},
		{name: "missing credential.id", body: signalJSON(t, func(m map[string]any) { delete(cred(m), "id") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.id"},
		{name: "missing credential.type", body: signalJSON(t, func(m map[string]any) { delete(cred(m), "type") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.type"},
		{name: "missing credential", body: signalJSON(t, func(m map[string]any) { delete(m, "credential") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.provider"},
		{name: "missing observed_at", body: signalJSON(t, func(m map[string]any) { delete(m, "observed_at") }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "observed_at"},
		{name: "bad observed_at", body: signalJSON(t, func(m map[string]any) { m["observed_at"] = "yesterday" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "observed_at", wantMsg: []string{"observed_at: want an RFC 3339 time"}},
		{name: "observed_at without zone", body: signalJSON(t, func(m map[string]any) { m["observed_at"] = "2025-06-01T12:00:00" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "observed_at"},
		{name: "unknown origin", body: signalJSON(t, func(m map[string]any) { m["origin"] = "partner" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "origin", wantMsg: []string{"enterprise, vendor"}},
		{name: "unknown kind", body: signalJSON(t, func(m map[string]any) { m["kind"] = "rumour" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "kind", wantMsg: []string{"credential_exposed"}},
		{name: "unknown severity", body: signalJSON(t, func(m map[string]any) { m["severity"] = "apocalyptic" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "severity"},
		{name: "unknown credential type", body: signalJSON(t, func(m map[string]any) { cred(m)["type"] = "ssh_key" }),
			wantStatus: 422, wantCode: sever.EUNPROCESSABLE, wantField: "credential.type", wantMsg: credentialTypeNames()},
		{name: "too many labels", body: signalJSON(t, func(m map[string]any) { m["labels"] = make([]string, 33) }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "labels"},
		{name: "empty label", body: signalJSON(t, func(m map[string]any) { m["labels"] = []string{""} }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "labels[0]"},
		{name: "label too long", body: signalJSON(t, func(m map[string]any) { m["labels"] = []string{"ok", strings.Repeat("l", 65)} }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "labels[1]"},
		{name: "secret field", body: signalJSON(t, func(m map[string]any) { m["secret"] = "hunter2" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "secret", wantMsg: []string{"never accepts or stores", "secret value"}},
		{name: "secret_access_key in credential", body: signalJSON(t, func(m map[string]any) { cred(m)["secret_access_key"] = "x" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.secret_access_key", wantMsg: []string{"never accepts"}},
		{name: "token field", body: signalJSON(t, func(m map[string]any) { m["api_token"] = "x" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "api_token", wantMsg: []string{"never accepts"}},
		{name: "key_material field", body: signalJSON(t, func(m map[string]any) { cred(m)["keyMaterial"] = "x" }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.keyMaterial", wantMsg: []string{"never accepts"}},
		{name: "value deep inside an unknown field", body: signalJSON(t, func(m map[string]any) {
			m["extra"] = map[string]any{"items": []any{map[string]any{"Value": "x"}}}
		}), wantStatus: 400, wantCode: sever.EINVALID, wantField: "extra.items[0].Value", wantMsg: []string{"never accepts"}},
		{name: "secret outranks an earlier unknown field", body: `{"aaa":1,"credential":{"secret":"x"}}`,
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.secret", wantMsg: []string{"never accepts"}},
		{name: "secret value in summary", body: signalJSON(t, func(m map[string]any) { m["summary"] = "leaked " + anthropicKey }),
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "summary", wantMsg: []string{"Anthropic API key", "never accepts"}},
		{name: "AWS secret access key as credential.id", body: signalJSON(t, func(m map[string]any) {
			cred(m)["id"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		}), wantStatus: 400, wantCode: sever.EINVALID, wantField: "credential.id", wantMsg: []string{"AWS secret access key"}},
		{name: "too deeply nested", body: `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
			wantStatus: 400, wantCode: sever.EINVALID, wantField: "x" + strings.Repeat("[0]", 15), wantMsg: []string{"nested deeper"}},
		{name: "oversized body", body: signalJSON(t, nil) + strings.Repeat(" ", int(httpapi.DefaultMaxBodyBytes)),
			wantStatus: 413, wantCode: sever.ETOOLARGE, wantMsg: []string{"larger than 1048576 bytes"}},
		{name: "wrong content type", body: signalJSON(t, nil), contentType: "text/plain",
			wantStatus: 415, wantCode: httpapi.EUNSUPPORTEDMEDIA},
		{name: "form content type", body: signalJSON(t, nil), contentType: "application/x-www-form-urlencoded",
			wantStatus: 415, wantCode: httpapi.EUNSUPPORTEDMEDIA},
		{name: "no content type", body: signalJSON(t, nil), contentType: "-",
			wantStatus: 415, wantCode: httpapi.EUNSUPPORTEDMEDIA},
		{name: "wrong charset", body: signalJSON(t, nil), contentType: "application/json; charset=latin1",
			wantStatus: 415, wantCode: httpapi.EUNSUPPORTEDMEDIA},
		{name: "no token", body: signalJSON(t, nil), token: "-",
			wantStatus: 401, wantCode: sever.EUNAUTHORIZED, wantMsg: []string{"missing bearer token"}},
		{name: "bad token", body: signalJSON(t, nil), token: "not-a-configured-token-000",
			wantStatus: 401, wantCode: sever.EUNAUTHORIZED, wantMsg: []string{"invalid bearer token"}},
		{name: "token prefix", body: signalJSON(t, nil), token: writerToken[:len(writerToken)-1],
			wantStatus: 401, wantCode: sever.EUNAUTHORIZED},
		{name: "missing scope", body: signalJSON(t, nil), token: readerToken,
			wantStatus: 403, wantCode: httpapi.EFORBIDDEN, wantMsg: []string{`"reader"`, "signals:write"}},
	}
	var calls int
	a := newAPI(t, &fakeService{SubmitSignalFunc: func(context.Context, sever.Signal) (service.SubmitResult, error) {
		calls++ // subtests run sequentially, so no lock
		return service.SubmitResult{}, nil
	}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req{method: "POST", path: "/v1/signals", token: orDefault(tt.token, writerToken),
				contentType: orDefault(tt.contentType, "application/json"), body: tt.body}
			rec := a.do(t, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			e := apiError(t, rec)
			if e.Code != tt.wantCode || e.Field != tt.wantField {
				t.Errorf("error code/field = %q/%q, want %q/%q; message %q", e.Code, e.Field, tt.wantCode, tt.wantField, e.Message)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q lacks %q", e.Message, m)
				}
			}
			if strings.Contains(e.Message, anthropicKey) || strings.Contains(e.Message, "wJalrXUtnFEMI") {
				t.Errorf("message repeats the secret: %q", e.Message)
			}
			if tt.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
	if calls != 0 {
		t.Errorf("the service saw %d rejected signals", calls)
	}
}

func credentialTypeNames() []string {
	s := make([]string, len(sever.CredentialTypes))
	for i, ct := range sever.CredentialTypes {
		s[i] = string(ct)
	}
	return s
}

func TestSubmitSignalAccepted(t *testing.T) {
	t.Parallel()
	var got sever.Signal
	a := newAPI(t, &fakeService{SubmitSignalFunc: func(ctx context.Context, s sever.Signal) (service.SubmitResult, error) {
		if p := httpapi.Principal(ctx); p != "writer" {
			t.Errorf("Principal = %q, want writer", p)
		}
		got = s
		return service.SubmitResult{IncidentID: "inc-1", SignalID: s.ID, Duplicate: false, Status: service.SubmitRecorded}, nil
	}}, func(o *httpapi.Options) {
		// A drill signal needs drills:write and a server that runs drills.
		o.Drills = true
		o.Tokens = append([]httpapi.Token{{Name: "writer", Value: writerToken,
			Scopes: []string{httpapi.ScopeSignalsWrite, httpapi.ScopeDrillsWrite}}}, o.Tokens[1:]...)
	})
	body := signalJSON(t, func(m map[string]any) {
		m["labels"] = []string{"ci", "public-repo"}
		m["drill"] = true
		cred(m)["account"] = nil // null reads as absent
	})

	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		t.Run(ct, func(t *testing.T) {
			rec := a.do(t, req{method: "POST", path: "/v1/signals", token: writerToken, contentType: ct, body: body})
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body %s", rec.Code, rec.Body)
			}
			res := decodeJSON[map[string]any](t, rec)
			want := map[string]any{"incident_id": "inc-1", "signal_id": got.ID, "duplicate": false, "status": "recorded"}
			if fmt.Sprint(res) != fmt.Sprint(want) {
				t.Errorf("response = %v, want %v", res, want)
			}

			wantObserved := time.Date(2025, 6, 1, 9, 58, 0, 0, time.UTC)
			switch {
			case got.Source != "gitleaks-ci" || got.SourceEventID != "evt-42":
				t.Errorf("source = %q/%q", got.Source, got.SourceEventID)
			case got.Origin != sever.OriginEnterprise || got.Kind != sever.KindCredentialExposed:
				t.Errorf("origin/kind = %q/%q", got.Origin, got.Kind)
			case !got.ObservedAt.Equal(wantObserved) || got.ObservedAt.Location() != time.UTC:
				t.Errorf("ObservedAt = %v, want %v in UTC", got.ObservedAt, wantObserved)
			case !got.ReceivedAt.Equal(fixedNow) || got.ReceivedAt.Location() != time.UTC:
				t.Errorf("ReceivedAt = %v, want %v in UTC", got.ReceivedAt, fixedNow)
			case got.Credential != (sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE",
				Principal: "arn:aws:iam::123456789012:user/ci-deployer"}):
				t.Errorf("Credential = %+v", got.Credential)
			case got.Severity != "high" || got.Summary != "key committed to a public repository":
				t.Errorf("severity/summary = %q/%q", got.Severity, got.Summary)
			case !got.Drill || strings.Join(got.Labels, ",") != "ci,public-repo":
				t.Errorf("drill/labels = %v/%v", got.Drill, got.Labels)
			case got.PayloadSHA256 != sever.SHA256Hex([]byte(body)):
				t.Errorf("PayloadSHA256 = %q, want the SHA-256 of the body", got.PayloadSHA256)
			case got.ID != sever.SignalID("gitleaks-ci", "evt-42", got.Receipt):
				t.Errorf("ID = %q, want SignalID(source, source_event_id, receipt)", got.ID)
			}
			if b, err := hex.DecodeString(got.Receipt); err != nil || len(b) != 16 {
				t.Errorf("Receipt = %q, want 16 random bytes in hex", got.Receipt)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("the service got a signal that fails Validate: %v", err)
			}
		})
	}
}

func TestSignalIDs(t *testing.T) {
	t.Parallel()
	var signals []sever.Signal
	a := newAPI(t, &fakeService{SubmitSignalFunc: func(ctx context.Context, s sever.Signal) (service.SubmitResult, error) {
		signals = append(signals, s)
		return acceptAll(ctx, s)
	}})
	submit := func(t *testing.T, body string) string {
		t.Helper()
		rec := a.postSignal(t, body)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
		}
		return decodeJSON[service.SubmitResult](t, rec).SignalID
	}

	t.Run("same source_event_id, same signal_id", func(t *testing.T) {
		first := submit(t, signalJSON(t, nil))
		// A resend may differ in anything but source and event ID and still be the same event.
		second := submit(t, signalJSON(t, func(m map[string]any) { m["summary"] = "resent" }))
		if first != second {
			t.Errorf("signal IDs %q and %q differ for one source event", first, second)
		}
		if n := len(signals); signals[n-1].Receipt == signals[n-2].Receipt {
			t.Error("two submissions share a receipt")
		}
	})
	t.Run("other source, other signal_id", func(t *testing.T) {
		first := submit(t, signalJSON(t, nil))
		second := submit(t, signalJSON(t, func(m map[string]any) { m["source"] = "trufflehog" }))
		if first == second {
			t.Errorf("signal ID %q for events of two sources", first)
		}
	})
	t.Run("no source_event_id, signal_id per submission", func(t *testing.T) {
		body := signalJSON(t, func(m map[string]any) { delete(m, "source_event_id") })
		first, second := submit(t, body), submit(t, body)
		if first == second {
			t.Errorf("signal ID %q repeated without a source event ID", first)
		}
	})
}

func TestSubmitSignalServiceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		hidden     string // must not reach the client
	}{
		{"unavailable", sever.Errorf(sever.EUNAVAILABLE, "", "temporal is down"), 503, sever.EUNAVAILABLE, ""},
		{"wrapped conflict", fmt.Errorf("submit: %w", sever.Errorf(sever.ECONFLICT, "", "incident is closing")), 409, sever.ECONFLICT, ""},
		{"deadline", context.DeadlineExceeded, 503, sever.EUNAVAILABLE, ""},
		{"internal sever error", sever.Errorf(sever.EINTERNAL, "", "ledger at /var/lib/x is corrupt"), 500, sever.EINTERNAL, "/var/lib/x"},
		{"plain error", fmt.Errorf("dial tcp 10.1.2.3:7233: connection refused"), 500, sever.EINTERNAL, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, &fakeService{SubmitSignalFunc: func(context.Context, sever.Signal) (service.SubmitResult, error) {
				return service.SubmitResult{}, tt.err
			}})
			rec := a.postSignal(t, signalJSON(t, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			e := apiError(t, rec)
			if e.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", e.Code, tt.wantCode)
			}
			if tt.hidden != "" {
				if strings.Contains(rec.Body.String(), tt.hidden) {
					t.Errorf("internal detail %q reached the client: %s", tt.hidden, rec.Body)
				}
				logs := a.logs.String()
				if !strings.Contains(logs, tt.hidden) || !strings.Contains(logs, `"op":"httpapi.submitSignal"`) || !strings.Contains(logs, `"level":"ERROR"`) {
					t.Errorf("the error log lacks the detail or the operation: %s", logs)
				}
			}
			if tt.wantStatus == 503 && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func TestSmallerBodyLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll}, func(o *httpapi.Options) { o.MaxBodyBytes = 64 })
	rec := a.postSignal(t, signalJSON(t, nil))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413; body %s", rec.Code, rec.Body)
	}
	if e := apiError(t, rec); e.Code != sever.ETOOLARGE {
		t.Errorf("code = %q", e.Code)
	}
	// Without a Content-Length the limit must hold while reading, too.
	rec = a.do(t, req{method: "POST", path: "/v1/signals", token: writerToken, contentType: "application/json",
		body: signalJSON(t, nil), chunked: true})
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status = %d, want 413; body %s", rec.Code, rec.Body)
	}
}

// TestOverTheWire runs a real server, so the body limit and headers are checked the
// way net/http applies them rather than as a recorder sees them.
func TestOverTheWire(t *testing.T) {
	t.Parallel()
	a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll}, func(o *httpapi.Options) { o.MaxBodyBytes = 4096 })
	srv := httptest.NewServer(a.h)
	t.Cleanup(srv.Close)

	post := func(body io.Reader) *http.Response {
		t.Helper()
		r, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/v1/signals", body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+writerToken)
		r.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := post(strings.NewReader(signalJSON(t, nil))); resp.StatusCode != http.StatusAccepted {
		t.Errorf("signal: status %d, want 202", resp.StatusCode)
	}
	// Chunked, so only the reader's limit can stop it.
	huge := io.MultiReader(strings.NewReader(`{"summary":"`), strings.NewReader(strings.Repeat("a", 1<<20)), strings.NewReader(`"}`))
	if resp := post(huge); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("huge chunked signal: status %d, want 413", resp.StatusCode)
	}
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: status %d", resp.StatusCode)
	}
}

// TestPreferReachesTheEngineAsAField checks that "Prefer: respond-async" reaches
// the engine in the request it is handed (service.SubmitRequest.RespondAsync),
// with the caller's incident quota beside it, and not as a value of the HTTP
// request's context that the engine would have to know about.
func TestPreferReachesTheEngineAsAField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefer string
		want   bool
	}{
		{name: "no preference", want: false},
		{name: "respond-async", prefer: "respond-async", want: true},
		{name: "among others", prefer: "handling=lenient, Respond-Async", want: true},
		{name: "another preference", prefer: "return=minimal", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []service.SubmitRequest
			a := newAPI(t, &fakeService{SubmitFunc: func(ctx context.Context, r service.SubmitRequest) (service.SubmitResult, error) {
				got = append(got, r)
				return acceptAll(ctx, r.Signal)
			}})
			h := map[string]string{}
			if tt.prefer != "" {
				h["Prefer"] = tt.prefer
			}
			rec := a.do(t, req{method: "POST", path: "/v1/signals", token: writerToken, contentType: "application/json",
				body: signalJSON(t, nil), header: h})
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body %s", rec.Code, rec.Body)
			}
			if len(got) != 1 {
				t.Fatalf("%d submissions, want 1", len(got))
			}
			if got[0].RespondAsync != tt.want {
				t.Errorf("RespondAsync = %v, want %v", got[0].RespondAsync, tt.want)
			}
			if got[0].ReserveOpen == nil {
				t.Error("the request carries no incident quota (ReserveOpen)")
			}
		})
	}
}

// TestValidateClipsEchoedValue: a value Signal.Validate refuses is quoted in the
// error clipped to a short bound. Invalid UTF-8 bytes decode to U+FFFD (3 bytes
// each), so a value echoed whole would turn a 0.9 MB body into a 2.7 MB answer.
func TestValidateClipsEchoedValue(t *testing.T) {
	t.Parallel()
	const placeholder = "JUNK-PLACEHOLDER"
	junk := strings.Repeat("\xff", 900_000)
	tests := []struct {
		field      string
		mut        func(map[string]any)
		wantStatus int
	}{
		{field: "origin", mut: func(m map[string]any) { m["origin"] = placeholder }, wantStatus: 400},
		{field: "kind", mut: func(m map[string]any) { m["kind"] = placeholder }, wantStatus: 400},
		{field: "severity", mut: func(m map[string]any) { m["severity"] = placeholder }, wantStatus: 400},
		{field: "credential.type", mut: func(m map[string]any) { cred(m)["type"] = placeholder }, wantStatus: 422},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll})
			body := strings.Replace(signalJSON(t, tt.mut), placeholder, junk, 1)
			if len(body) > 1<<20 {
				t.Fatalf("body %d bytes is over the limit", len(body))
			}
			resp := a.postSignal(t, body)
			if resp.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %.200s", resp.Code, tt.wantStatus, resp.Body)
			}
			if e := apiError(t, resp); e.Field != tt.field {
				t.Errorf("error names field %q, want %q", e.Field, tt.field)
			}
			if n := resp.Body.Len(); n > 4096 {
				t.Errorf("a %d-byte request got a %d-byte error answer (%.1fx): the value is echoed unbounded: %.120s…",
					len(body), n, float64(n)/float64(len(body)), resp.Body.String())
			}
		})
	}
}
