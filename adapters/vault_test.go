package adapters_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

// vaultEntry is a response entry of a Vault file audit device enabled with
// hmac_accessor=false, as a SIEM forwards it; the client token stays HMAC'd.
const vaultEntry = `{
  "time": "2026-01-05T09:38:55.123456789Z",
  "type": "response",
  "auth": {
    "client_token": "hmac-sha256:5bd7e0a3bbd3d6c1e4b7f4a2c5e0d9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2",
    "accessor": "Xk2pQ8rT5vW1yZ3aB6cD9eF0",
    "display_name": "approle-ci-deployer",
    "policies": ["default", "deploy"],
    "token_policies": ["default", "deploy"],
    "entity_id": "7d2e4f1a-9c3b-4e5d-8f6a-1b2c3d4e5f60",
    "token_type": "service",
    "token_ttl": 2764800
  },
  "request": {
    "id": "c1a0b7a2-4f3e-11ef-9a1b-0242ac120002",
    "operation": "read",
    "mount_type": "aws",
    "client_token": "hmac-sha256:5bd7e0a3bbd3d6c1e4b7f4a2c5e0d9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2",
    "client_token_accessor": "Xk2pQ8rT5vW1yZ3aB6cD9eF0",
    "namespace": {"id": "root"},
    "path": "aws/creds/deploy",
    "remote_address": "203.0.113.66"
  },
  "response": {"mount_type": "aws", "data": {"access_key": "hmac-sha256:00", "secret_key": "hmac-sha256:01"}}
}`

func vaultWith(from, to string) []byte { return []byte(strings.Replace(vaultEntry, from, to, 1)) }

func TestParseVaultAudit(t *testing.T) {
	const token = "hvs.CAESIJlU0000000000000000000000000000000000000"
	for _, tc := range []struct {
		name      string
		body      []byte
		ignored   string // substring of the ignored reason
		errField  string // field of the *sever.Error
		summaryIn string
	}{
		{name: "clear accessor", body: []byte(vaultEntry), summaryIn: "read aws/creds/deploy with token Xk2pQ8rT5vW1yZ3aB6cD9eF0 (approle-ci-deployer) from 203.0.113.66"},
		{name: "hmac accessor", body: vaultWith(`"accessor": "Xk2pQ8rT5vW1yZ3aB6cD9eF0"`, `"accessor": "hmac-sha256:aa"`), ignored: "hmac_accessor=false"},
		{name: "batch token", body: vaultWith(`"token_type": "service"`, `"token_type": "batch"`), ignored: "batch token"},
		{name: "unauthenticated", body: vaultWith(`"accessor": "Xk2pQ8rT5vW1yZ3aB6cD9eF0"`, `"accessor": ""`), ignored: "names no token accessor"},
		{name: "token as accessor", body: vaultWith(`"accessor": "Xk2pQ8rT5vW1yZ3aB6cD9eF0"`, `"accessor": "`+token+`"`), errField: "auth.accessor"},
		{name: "not an accessor", body: vaultWith(`"accessor": "Xk2pQ8rT5vW1yZ3aB6cD9eF0"`, `"accessor": "a b"`), errField: "auth.accessor"},
		{name: "token in path is redacted", body: vaultWith(`"path": "aws/creds/deploy"`, `"path": "auth/token/lookup/`+token+`"`), summaryIn: "auth/token/lookup/(redacted)"},
		{name: "not an audit entry", body: vaultWith(`"type": "response"`, `"type": "alert"`), errField: "type"},
		{name: "no request id", body: vaultWith(`"id": "c1a0b7a2-4f3e-11ef-9a1b-0242ac120002"`, `"id": ""`), errField: "request.id"},
		{name: "bad time", body: vaultWith(`"time": "2026-01-05T09:38:55.123456789Z"`, `"time": "yesterday"`), errField: "time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := adapters.ParseVaultAudit(tc.body)
			checkResult(t, tc.body, res, err)
			if strings.Contains(errString(err), token) || (len(res.Signals) > 0 && strings.Contains(res.Signals[0].Summary, token)) {
				t.Fatal("a token reached the result")
			}
			switch {
			case tc.errField != "":
				var e *sever.Error
				if !errors.As(err, &e) || e.Field != tc.errField {
					t.Fatalf("error %v, want one on field %s", err, tc.errField)
				}
			case tc.ignored != "":
				if err != nil || !strings.Contains(res.Ignored, tc.ignored) {
					t.Fatalf("result %+v, %v; want ignored with %q", res, err, tc.ignored)
				}
			default:
				if err != nil || len(res.Signals) != 1 {
					t.Fatalf("result %+v, %v; want one signal", res, err)
				}
				s := res.Signals[0]
				if s.Credential != (sever.Credential{Provider: "vault", Type: sever.CredVaultToken, ID: "Xk2pQ8rT5vW1yZ3aB6cD9eF0",
					Principal: "7d2e4f1a-9c3b-4e5d-8f6a-1b2c3d4e5f60"}) || s.Kind != sever.KindAnomalousUsage || s.Origin != sever.OriginEnterprise {
					t.Errorf("signal = %+v", s)
				}
				if !strings.Contains(s.Summary, tc.summaryIn) || strings.Contains(s.Summary, "hmac-sha256") {
					t.Errorf("summary = %q, want it to hold %q and no HMAC", s.Summary, tc.summaryIn)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func FuzzVaultAudit(f *testing.F) {
	f.Add([]byte(vaultEntry))
	f.Add(vaultWith(`"path": "aws/creds/deploy"`, `"path": "auth/token/revoke/s.abc"`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseVaultAudit(body)
		checkResult(t, body, res, err)
		for _, s := range res.Signals {
			for _, seg := range strings.FieldsFunc(s.Summary, func(r rune) bool { return r == '/' || r == ' ' }) {
				if strings.HasPrefix(seg, "hvs.") && len(seg) > 4 || strings.HasPrefix(seg, "s.") && len(seg) > 2 {
					t.Fatalf("summary %q holds a token-shaped segment", s.Summary)
				}
			}
		}
	})
}
