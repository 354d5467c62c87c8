package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
)

// TestDefenderRoute: POST /v1/signals/defender is registered like the other
// adapters (bearer token with signals:write), an AI alert becomes an
// azure_openai_key signal for the account, and one that names no account is a 422.
func TestDefenderRoute(t *testing.T) {
	t.Parallel()
	const account = "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/ai-prod/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
	alert := adapterFixture(t, "defender-ai-dow-volume-anomaly.json")
	noAccount := strings.ReplaceAll(strings.ReplaceAll(alert, "Microsoft.CognitiveServices/accounts", "Microsoft.Web/sites"), `"azure-resource"`, `"other"`)
	for _, tc := range []struct {
		name   string
		r      req
		status int
		cred   string
	}{
		{"defender alert", adapterReq("defender", writerToken, alert), http.StatusAccepted, account},
		{"ocsf finding about the account", adapterReq("ocsf", writerToken, adapterFixture(t, "ocsf-detection-finding-azure-openai.json")), http.StatusAccepted, account},
		{"no token", adapterReq("defender", "", alert), http.StatusUnauthorized, ""},
		{"no account", adapterReq("defender", writerToken, noAccount), http.StatusUnprocessableEntity, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			newAdapterAPI(t, rec).doWant(t, tc.r, tc.status)
			got := rec.got()
			if tc.cred == "" {
				if len(got) != 0 {
					t.Errorf("service got %d signals, want none", len(got))
				}
				return
			}
			if len(got) != 1 || got[0].Credential.Type != sever.CredAzureOpenAIKey || got[0].Credential.ID != tc.cred {
				t.Errorf("service got %+v, want one azure_openai_key signal for %s", got, tc.cred)
			}
		})
	}
}

// TestGitHubAzureOpenAIKeyReason: the answer to a GitHub alert about an Azure
// OpenAI key says that sever cannot resolve it to the account.
func TestGitHubAzureOpenAIKeyReason(t *testing.T) {
	t.Parallel()
	body := strings.Replace(adapterFixture(t, "github-secret-scanning-created.json"), `"aws_access_key_id"`, `"azure_openai_key"`, 1)
	rec := &recorder{}
	resp := newAdapterAPI(t, rec).doWant(t, githubReq(body, "secret_scanning_alert", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), http.StatusAccepted)
	res := decodeJSON[httpapi.AdapterResult](t, resp)
	if !strings.Contains(res.Reason, "cannot resolve an Azure OpenAI key to its account") {
		t.Errorf("reason = %q, want it to say the key cannot be resolved", res.Reason)
	}
	if got := rec.got(); len(got) != 1 || got[0].Credential.Type != sever.CredGenericToken {
		t.Errorf("service got %+v, want the alert's place", got)
	}
}
