package httpapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
)

func TestDecodeSignal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantField string // "-" means accepted
		wantCode  string
	}{
		{name: "valid", body: signalJSON(t, nil), wantField: "-"},
		{name: "minimal", body: `{"source":"s","origin":"vendor","kind":"abuse_report","observed_at":"2025-06-01T10:00:00.123Z",
			"credential":{"provider":"anthropic","type":"anthropic_api_key","id":"apikey_01AbCd"}}`, wantField: "-"},
		{name: "whitespace around the object", body: "\n\t " + signalJSON(t, nil) + " \r\n", wantField: "-"},
		{name: "redacted key in summary", body: signalJSON(t, func(m map[string]any) { m["summary"] = "sk-ant-api03-...wxyz exposed" }), wantField: "-"},
		{name: "sk- inside a word is no key", body: signalJSON(t, func(m map[string]any) { m["source_event_id"] = "task-0123456789abcdefghijklmnop" }), wantField: "-"},
		{name: "access key ID is no secret", body: signalJSON(t, func(m map[string]any) { cred(m)["id"] = "ASIAY34FZKBOKMUTVV7A" }), wantField: "-"},
		{name: "OpenAI key as credential.id", body: signalJSON(t, func(m map[string]any) {
			cred(m)["type"] = "openai_api_key"
			cred(m)["id"] = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
		}), wantField: "credential.id", wantCode: sever.EINVALID},
		{name: "GitHub token in source_event_id", body: signalJSON(t, func(m map[string]any) {
			m["source_event_id"] = "ghp_" + strings.Repeat("a1B2", 9)
		}), wantField: "source_event_id", wantCode: sever.EINVALID},
		{name: "private key in a label", body: signalJSON(t, func(m map[string]any) {
			m["labels"] = []string{"ok", "-----BEGIN RSA PRIVATE KEY-----"}
		}), wantField: "labels[1]", wantCode: sever.EINVALID},
		{name: "secret as a field name", body: `{"sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdl": 1}`, wantField: "", wantCode: sever.EINVALID},
		{name: "password field", body: signalJSON(t, func(m map[string]any) { cred(m)["Password"] = "x" }), wantField: "credential.Password", wantCode: sever.EINVALID},
		{name: "bare key field", body: signalJSON(t, func(m map[string]any) { m["key"] = "x" }), wantField: "key", wantCode: sever.EINVALID},
		{name: "received_at is assigned", body: signalJSON(t, func(m map[string]any) { m["received_at"] = "2025-06-01T10:00:00Z" }), wantField: "received_at", wantCode: sever.EINVALID},
		{name: "unknown type", body: signalJSON(t, func(m map[string]any) { cred(m)["type"] = "gcp_service_account" }), wantField: "credential.type", wantCode: sever.EUNPROCESSABLE},
		{name: "long field name is shortened", body: `{"` + strings.Repeat("x", 5000) + `":1}`, wantField: strings.Repeat("x", 128) + "…", wantCode: sever.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := httpapi.DecodeSignal([]byte(tt.body))
			if tt.wantField == "-" {
				if err != nil {
					t.Fatalf("DecodeSignal: %v", err)
				}
				if err := sig.Validate(); err != nil {
					t.Errorf("accepted signal fails Validate: %v", err)
				}
				if sig.ID != "" || sig.Receipt != "" || !sig.ReceivedAt.IsZero() {
					t.Errorf("DecodeSignal set per-submission fields: %+v", sig)
				}
				if sig.PayloadSHA256 != sever.SHA256Hex([]byte(tt.body)) {
					t.Errorf("PayloadSHA256 = %q", sig.PayloadSHA256)
				}
				return
			}
			var e *sever.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *sever.Error", err, err)
			}
			if e.Field != tt.wantField || e.Code != tt.wantCode {
				t.Errorf("field/code = %q/%q, want %q/%q (%s)", e.Field, e.Code, tt.wantField, tt.wantCode, e.Message)
			}
			if len(e.Message) > 600 {
				t.Errorf("message is %d bytes long", len(e.Message))
			}
		})
	}
}

func FuzzDecodeSignal(f *testing.F) {
	f.Add(signalJSON(f, nil))
	f.Add(signalJSON(f, func(m map[string]any) { delete(m, "source_event_id"); m["labels"] = []string{"a"}; m["drill"] = true }))
	f.Add(signalJSON(f, func(m map[string]any) { cred(m)["type"] = "ssh_key" }))
	f.Add(signalJSON(f, func(m map[string]any) { m["extra"] = map[string]any{"value": []any{1, "x", nil, true}} }))
	f.Add(`{"source":"a","source":"b"}`)
	f.Add(`{"credential":{"id":null,"type":"github_token"}} {}`)
	f.Add(`[{"a":1}]`)
	f.Add(`"sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdl"`)
	f.Add(`{"observed_at":"2025-13-01T00:00:00Z"}`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		sig, err := httpapi.DecodeSignal([]byte(body))
		if err != nil {
			var e *sever.Error
			if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
				t.Fatalf("error %#v is not a complete *sever.Error", err)
			}
			if e.Code != sever.EINVALID && e.Code != sever.EUNPROCESSABLE {
				t.Fatalf("unexpected code %q: %v", e.Code, err)
			}
			return
		}
		if err := sig.Validate(); err != nil {
			t.Fatalf("accepted a signal that fails Validate: %v\nbody: %q", err, body)
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if sig.PayloadSHA256 != sever.SHA256Hex([]byte(body)) {
			t.Fatalf("PayloadSHA256 does not match the body")
		}
	})
}
