package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
)

// fakeKeyAlerts answers the Google API key lookup of an alert; the AWS side is
// not used here.
type fakeKeyAlerts struct {
	name string
	err  error
}

func (f fakeKeyAlerts) AlertAWSKeyID(context.Context, string, int) (string, error) {
	return "", errors.New("not an AWS key alert")
}

func (f fakeKeyAlerts) AlertGoogleAPIKeyName(context.Context, string, int) (string, error) {
	return f.name, f.err
}

// TestGitHubGoogleAPIKeyAlert: an alert whose secret type is google_api_key
// becomes a vendor signal about the key's resource name; a key Google does not
// know is ignored with the reason; any other failure keeps the alert's place and
// says why. No answer, signal or log quotes the key string.
func TestGitHubGoogleAPIKeyAlert(t *testing.T) {
	t.Parallel()
	const (
		keyString = "AIzaSyDRILLdrillDRILLdrillDRILLdrill0001"
		name      = "projects/acme-prod/locations/global/keys/0f1e2d3c-0000-4000-8000-000000000001"
		place     = "example-org/payments-api/secret-scanning/42"
	)
	body := strings.NewReplacer(`"secret_type": "aws_access_key_id"`, `"secret_type": "google_api_key"`,
		`"Amazon AWS Access Key ID"`, `"Google API Key"`).Replace(adapterFixture(t, "github-secret-scanning-created.json"))
	if !strings.Contains(body, `"google_api_key"`) || !strings.Contains(body, `"Google API Key"`) {
		t.Fatal("fixture has no AWS key ID secret type to replace")
	}
	tests := []struct {
		name       string
		alerts     httpapi.GitHubAlerts // nil = no GitHub App
		wantStatus string
		wantCred   sever.Credential // of the one signal submitted; zero = none submitted
		wantReason string           // substring of the answer's reason; "" = none
	}{
		{"resolved to the key's name", fakeKeyAlerts{name: name}, httpapi.AdapterAccepted,
			sever.Credential{Provider: "gcp", Type: sever.CredGoogleAPIKey, ID: name}, ""},
		{"key Google does not know is ignored", fakeKeyAlerts{err: fmt.Errorf("alert: %w", httpapi.ErrGoogleAPIKeyUnknown)},
			httpapi.AdapterIgnored, sever.Credential{}, "no API key Google knows"},
		{"lookup failure keeps the place", fakeKeyAlerts{err: errors.New("GitHub answered 502")}, httpapi.AdapterAccepted,
			sever.Credential{Provider: "unknown", Type: sever.CredGenericToken, ID: place}, "lookupKey failed"},
		{"an answer that is not a key name keeps the place", fakeKeyAlerts{name: keyString}, httpapi.AdapterAccepted,
			sever.Credential{Provider: "unknown", Type: sever.CredGenericToken, ID: place}, "did not answer with an API key's resource name"},
		{"no GitHub App keeps the place", nil, httpapi.AdapterAccepted,
			sever.Credential{Provider: "unknown", Type: sever.CredGenericToken, ID: place}, "sever has no GitHub App"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			a := newAPI(t, rec.service(), func(o *httpapi.Options) {
				o.GitHubWebhookSecret = githubSecret
				o.GitHubAlerts = tc.alerts
			})
			resp := a.do(t, githubReq(body, "secret_scanning_alert", fmt.Sprintf("72d3162e-cc78-11e3-81ab-4c9367dc%04d", i)))
			var got httpapi.AdapterResult
			if resp.Code != http.StatusAccepted || json.Unmarshal(resp.Body.Bytes(), &got) != nil {
				t.Fatalf("status %d: %s; want 202", resp.Code, resp.Body)
			}
			if got.Status != tc.wantStatus || (tc.wantReason == "") != (got.Reason == "") || !strings.Contains(got.Reason, tc.wantReason) {
				t.Errorf("answer %s; want status %s, reason containing %q", resp.Body, tc.wantStatus, tc.wantReason)
			}
			sigs := rec.got()
			switch {
			case tc.wantCred == (sever.Credential{}) && len(sigs) != 0:
				t.Errorf("submitted %+v; want nothing", sigs)
			case tc.wantCred != (sever.Credential{}) && (len(sigs) != 1 || sigs[0].Credential != tc.wantCred || sigs[0].Origin != sever.OriginVendor):
				t.Errorf("submitted %+v; want one vendor signal about %+v", sigs, tc.wantCred)
			case tc.wantCred.ID == name && !slices.Contains(sigs[0].Labels, "github_alert:"+place):
				t.Errorf("labels %v; want the alert's place", sigs[0].Labels)
			}
			b, _ := json.Marshal(sigs)
			for what, s := range map[string]string{"answer": resp.Body.String(), "signals": string(b), "logs": a.logs.String()} {
				if strings.Contains(s, keyString) {
					t.Errorf("the %s quote the key string", what)
				}
			}
		})
	}
}
