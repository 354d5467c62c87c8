package adapters_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

const deliveryID = "5f0e9a1c-3e8b-11f0-8d1a-2b4c6e8f0a12"

func alertDelivery() adapters.GitHubDelivery {
	return adapters.GitHubDelivery{Event: "secret_scanning_alert", ID: deliveryID}
}

// alert returns the created-alert fixture after mut changed its alert object.
func alert(t testing.TB, mut func(p, a map[string]any)) []byte {
	t.Helper()
	return mutate(t, "github-secret-scanning-created.json", func(m map[string]any) { mut(m, obj(m, "alert")) })
}

func TestParseGitHubCreated(t *testing.T) {
	t.Parallel()
	body := fixture(t, "github-secret-scanning-created.json")
	res, err := adapters.ParseGitHub(alertDelivery(), body)
	checkResult(t, body, res, err)
	if err != nil {
		t.Fatal(err)
	}
	if res.Event != "secret_scanning_alert.created" || len(res.Signals) != 1 {
		t.Fatalf("result = %+v, want one signal for secret_scanning_alert.created", res)
	}
	s := res.Signals[0]
	want := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "example-org/payments-api/secret-scanning/42"}
	switch {
	case s.Source != "github" || eventIDOf(s.SourceEventID) != "example-org/payments-api/secret-scanning/42/created":
		t.Errorf("source/event = %q/%q, want github/the alert and action", s.Source, s.SourceEventID)
	case s.Origin != sever.OriginVendor || s.Kind != sever.KindCredentialExposed:
		t.Errorf("origin/kind = %q/%q", s.Origin, s.Kind)
	case s.Credential != want:
		t.Errorf("credential = %+v, want %+v", s.Credential, want)
	case s.Severity != "critical": // active, in a public repository
		t.Errorf("severity = %q, want critical", s.Severity)
	case !s.ObservedAt.Equal(utc("2025-06-01T09:38:55Z")):
		t.Errorf("ObservedAt = %v", s.ObservedAt)
	case s.Extra == nil || s.Extra.URL != "https://github.com/example-org/payments-api/security/secret-scanning/42":
		t.Errorf("meta = %+v, want the alert's html_url", s.Extra)
	case !strings.Contains(s.Summary, "Amazon AWS Access Key ID (aws_access_key_id)") || !strings.Contains(s.Summary, "names no key ID"):
		t.Errorf("summary %q lacks the secret type or the limitation", s.Summary)
	}
}

func TestGitHubSecretTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secretType string
		provider   string
		typ        sever.CredentialType
	}{
		{"aws_access_key_id", "aws", sever.CredAWSAccessKey},
		{"aws_temporary_access_key_id", "aws", sever.CredAWSTemporaryCredentials},
		{"anthropic_api_key", "anthropic", sever.CredAnthropicAPIKey},
		{"anthropic_admin_api_key", "anthropic", sever.CredAnthropicAPIKey},
		{"openai_api_key", "openai", sever.CredOpenAIAPIKey},
		{"github_personal_access_token", "github", sever.CredGitHubToken},
		{"github_app_installation_access_token", "github", sever.CredGitHubToken},
		{"stripe_api_key", "unknown", sever.CredGenericToken},
		{"custom_pattern_1234", "unknown", sever.CredGenericToken},
	}
	for _, tt := range tests {
		t.Run(tt.secretType, func(t *testing.T) {
			body := alert(t, func(_, a map[string]any) { a["secret_type"] = tt.secretType; delete(a, "secret_type_display_name") })
			res, err := adapters.ParseGitHub(alertDelivery(), body)
			checkResult(t, body, res, err)
			if err != nil {
				t.Fatal(err)
			}
			c := res.Signals[0].Credential
			if c.Provider != tt.provider || c.Type != tt.typ || c.ID != "example-org/payments-api/secret-scanning/42" {
				t.Errorf("credential = %+v, want %s/%s with the alert's place as id", c, tt.provider, tt.typ)
			}
		})
	}
}

func TestGitHubSeverity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		validity       any
		publiclyLeaked bool
		private        bool
		want           string
	}{
		{"active", false, false, "critical"},
		{"active", true, true, "critical"},
		{"active", false, true, "high"},
		{"unknown", false, false, "high"},
		{nil, true, true, "high"},
		{"unknown", false, true, "medium"},
		{"inactive", true, false, "low"},
	}
	for _, tt := range tests {
		body := alert(t, func(p, a map[string]any) {
			a["validity"], a["publicly_leaked"] = tt.validity, tt.publiclyLeaked
			obj(p, "repository")["private"] = tt.private
		})
		res, err := adapters.ParseGitHub(alertDelivery(), body)
		checkResult(t, body, res, err)
		if err != nil || res.Signals[0].Severity != tt.want {
			t.Errorf("validity %v, publicly_leaked %v, private %v: got %+v, %v; want %s", tt.validity, tt.publiclyLeaked, tt.private, res.Signals, err, tt.want)
		}
	}
}

func TestParseGitHubActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		d        adapters.GitHubDelivery
		body     []byte
		signal   bool
		observed string // for signals
		ignored  string // for ignored
	}{
		{name: "reopened: updated_at", d: alertDelivery(), body: alert(t, func(p, a map[string]any) {
			p["action"], a["updated_at"] = "reopened", "2025-06-02T08:00:00Z"
		}), signal: true, observed: "2025-06-02T08:00:00Z"},
		{name: "publicly_leaked", d: alertDelivery(), body: alert(t, func(p, _ map[string]any) { p["action"] = "publicly_leaked" }),
			signal: true, observed: "2025-06-01T09:38:55Z"},
		{name: "validated active", d: alertDelivery(), body: alert(t, func(p, a map[string]any) {
			p["action"], a["updated_at"] = "validated", "2025-06-01T10:00:00Z"
		}), signal: true, observed: "2025-06-01T10:00:00Z"},
		{name: "validated inactive", d: alertDelivery(), body: alert(t, func(p, a map[string]any) {
			p["action"], a["validity"] = "validated", "inactive"
		}), ignored: "does not check active"},
		{name: "resolved", d: alertDelivery(), body: alert(t, func(p, _ map[string]any) { p["action"] = "resolved" }), ignored: "opens no incident"},
		{name: "assigned", d: alertDelivery(), body: alert(t, func(p, _ map[string]any) { p["action"] = "assigned" }), ignored: "opens no incident"},
		{name: "ping", d: adapters.GitHubDelivery{Event: "ping", ID: deliveryID}, body: fixture(t, "github-ping.json"), ignored: "ping"},
		{name: "push event", d: adapters.GitHubDelivery{Event: "push", ID: deliveryID}, body: []byte(`{"ref":"refs/heads/main"}`),
			ignored: "not secret_scanning_alert"},
		{name: "form-encoded", d: adapters.GitHubDelivery{Event: "secret_scanning_alert", ID: deliveryID, Form: true},
			body:   []byte("payload=" + url.QueryEscape(string(fixture(t, "github-secret-scanning-created.json")))),
			signal: true, observed: "2025-06-01T09:38:55Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := adapters.ParseGitHub(tt.d, tt.body)
			checkResult(t, tt.body, res, err)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.signal {
				if len(res.Signals) != 0 || !strings.Contains(res.Ignored, tt.ignored) {
					t.Errorf("result = %+v, want ignored with %q", res, tt.ignored)
				}
				return
			}
			if len(res.Signals) != 1 || !res.Signals[0].ObservedAt.Equal(utc(tt.observed)) {
				t.Errorf("result = %+v, want one signal observed at %s", res, tt.observed)
			}
		})
	}
}

func TestParseGitHubRejects(t *testing.T) {
	t.Parallel()
	ok := fixture(t, "github-secret-scanning-created.json")
	tests := []struct {
		name  string
		d     adapters.GitHubDelivery
		body  []byte
		field string
		msg   []string
	}{
		{"no event header", adapters.GitHubDelivery{ID: deliveryID}, ok, "X-GitHub-Event", nil},
		{"no delivery header", adapters.GitHubDelivery{Event: "secret_scanning_alert"}, ok, "X-GitHub-Delivery", nil},
		{"delivery header with spaces", adapters.GitHubDelivery{Event: "secret_scanning_alert", ID: "a b"}, ok, "X-GitHub-Delivery", nil},
		{"form without payload", adapters.GitHubDelivery{Event: "secret_scanning_alert", ID: deliveryID, Form: true}, []byte("x=1"), "payload", nil},
		{"malformed", alertDelivery(), []byte(`{"action":`), "", []string{"malformed"}},
		{"no action", alertDelivery(), alert(t, func(p, _ map[string]any) { delete(p, "action") }), "action", nil},
		{"no alert", alertDelivery(), alert(t, func(p, _ map[string]any) { delete(p, "alert") }), "alert", nil},
		{"the secret itself", alertDelivery(), alert(t, func(_, a map[string]any) { a["secret"] = "AKIAIOSFODNN7EXAMPLE" }),
			"alert.secret", []string{"never accepts"}},
		{"no repository", alertDelivery(), alert(t, func(p, _ map[string]any) { delete(p, "repository") }), "repository.full_name", nil},
		{"repository name without owner", alertDelivery(), alert(t, func(p, _ map[string]any) { obj(p, "repository")["full_name"] = "payments-api" }),
			"repository.full_name", nil},
		{"no number", alertDelivery(), alert(t, func(_, a map[string]any) { delete(a, "number") }), "alert.number", nil},
		{"number zero", alertDelivery(), alert(t, func(_, a map[string]any) { a["number"] = 0 }), "alert.number", nil},
		{"number a string", alertDelivery(), alert(t, func(_, a map[string]any) { a["number"] = "42" }), "alert.number", []string{"want a number"}},
		{"no secret_type", alertDelivery(), alert(t, func(_, a map[string]any) { delete(a, "secret_type") }), "alert.secret_type", nil},
		{"odd validity", alertDelivery(), alert(t, func(_, a map[string]any) { a["validity"] = "valid" }), "alert.validity", nil},
		{"publicly_leaked a string", alertDelivery(), alert(t, func(_, a map[string]any) { a["publicly_leaked"] = "yes" }),
			"alert.publicly_leaked", []string{"true or false"}},
		{"no alert time and no delivery time", alertDelivery(), alert(t, func(_, a map[string]any) { delete(a, "created_at"); delete(a, "updated_at") }), "alert.created_at", nil},
		{"bad updated_at", alertDelivery(), alert(t, func(p, a map[string]any) { p["action"], a["updated_at"] = "reopened", "later" }),
			"alert.updated_at", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := adapters.ParseGitHub(tt.d, tt.body)
			checkResult(t, tt.body, res, err)
			wantError(t, err, tt.field, tt.msg...)
		})
	}
}

func TestVerifyGitHubSignature(t *testing.T) {
	t.Parallel()
	secret := []byte("webhook-secret-0123456789")
	body := fixture(t, "github-secret-scanning-created.json")
	good := adapters.SignGitHub(secret, body)
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		ok     bool
	}{
		{"good", secret, body, good, true},
		{"other secret", []byte("another-secret-0123456789"), body, good, false},
		{"tampered body", secret, append([]byte(" "), body...), good, false},
		{"no header", secret, body, "", false},
		{"sha1 header", secret, body, "sha1=" + strings.Repeat("a", 40), false},
		{"not hex", secret, body, "sha256=" + strings.Repeat("z", 64), false},
		{"short", secret, body, good[:len(good)-2], false},
		{"upper-case hex", secret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), true},
		{"no secret configured", nil, body, good, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := adapters.VerifyGitHubSignature(tt.secret, tt.body, tt.header)
			if tt.ok {
				if err != nil {
					t.Fatalf("VerifyGitHubSignature: %v", err)
				}
				return
			}
			e, isSever := err.(*sever.Error)
			if !isSever || e.Code != sever.EUNAUTHORIZED || e.Field != "X-Hub-Signature-256" {
				t.Errorf("error = %v, want unauthorized naming X-Hub-Signature-256", err)
			}
		})
	}
}
