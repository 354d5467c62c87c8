package adapters_test

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

// resource0 sets the first resource of an OCSF fixture.
func resource0(kv ...string) func(m map[string]any) {
	return func(m map[string]any) {
		r := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			r[kv[i]] = kv[i+1]
		}
		m["resources"] = []any{r}
	}
}

const (
	gcpSAKey     = "projects/payments-prod/serviceAccounts/batch@payments-prod.iam.gserviceaccount.com/keys/1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	gcpAPIKey    = "projects/payments-prod/locations/global/keys/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	aoaiAccount  = "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/ai-prod/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
	entraSecret  = "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9/6f5e4d3c-2b1a-4098-8765-4321fedcba09"
	vaultAcc     = "6Lc0Ja1kQwVp1ybJ2lHdP4Xw"
	fakeGoogleAK = "AIzaSyD-EXAMPLEEXAMPLEEXAMPLEEXAMPLE12"
	fakeVaultTok = "hvs.CAESIEXAMPLEEXAMPLEEXAMPLEEXAMPLE"
)

// TestOCSFCredentialFamilies: an OCSF Detection Finding naming a credential of
// each family beside AWS, by its resources or its evidence, becomes a signal of
// that wire type with the credential ID the family's runbooks act on.
func TestOCSFCredentialFamilies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		body      []byte
		typ       sever.CredentialType
		provider  string
		id        string
		principal string
		account   string
		origin    sever.Origin
		from      string
	}{
		{"gcp service-account key, Google's own finding", fixture(t, "ocsf-detection-finding-gcp-sa-key.json"),
			sever.CredGCPServiceAccountKey, "gcp", gcpSAKey, "batch@payments-prod.iam.gserviceaccount.com", "payments-prod", sever.OriginVendor, "resources[0].uid"},
		{"gcp service-account key by its full resource name only",
			mutate(t, "ocsf-detection-finding-gcp-sa-key.json", resource0("type", "Other", "uid", "//iam.googleapis.com/"+gcpSAKey)),
			sever.CredGCPServiceAccountKey, "gcp", gcpSAKey, "batch@payments-prod.iam.gserviceaccount.com", "payments-prod", sever.OriginVendor, "resources[0].uid"},
		{"google api key, generic type on GCP", fixture(t, "ocsf-detection-finding-google-api-key.json"),
			sever.CredGoogleAPIKey, "gcp", gcpAPIKey, "", "payments-prod", sever.OriginEnterprise, "resources[0].uid"},
		{"google api key by its full resource name",
			mutate(t, "ocsf-detection-finding-google-api-key.json", resource0("uid", "//apikeys.googleapis.com/"+gcpAPIKey)),
			sever.CredGoogleAPIKey, "gcp", gcpAPIKey, "", "payments-prod", sever.OriginEnterprise, "resources[0].uid"},
		{"entra application secret", fixture(t, "ocsf-detection-finding-azure-app-secret.json"),
			sever.CredAzureAppSecret, "azure", entraSecret, "", "72f988bf-86f1-41af-91ab-2d7cd011db47", sever.OriginEnterprise, "resources[0].uid"},
		{"entra application secret, key id in data, Graph's type, upper-case",
			mutate(t, "ocsf-detection-finding-azure-app-secret.json", func(m map[string]any) {
				m["resources"] = []any{map[string]any{"type": "microsoft.graph.passwordCredential", "uid": "1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9",
					"data": map[string]any{"keyId": "6F5E4D3C-2B1A-4098-8765-4321FEDCBA09"}}}
			}),
			sever.CredAzureAppSecret, "azure", entraSecret, "", "72f988bf-86f1-41af-91ab-2d7cd011db47", sever.OriginEnterprise, "resources[0].uid"},
		{"azure openai account from the evidence", fixture(t, "ocsf-detection-finding-azure-openai.json"),
			sever.CredAzureOpenAIKey, "azure", aoaiAccount, "", "20ff7fc3-e762-44dd-bd96-b71116dcdc23", sever.OriginEnterprise, "evidences[0].resources[0].uid"},
		{"azure openai deployment names its account, Microsoft's own finding",
			mutate(t, "ocsf-detection-finding-azure-openai.json", func(m map[string]any) {
				resource0("uid", strings.Replace(aoaiAccount, "/subscriptions/20ff7fc3", "/SUBSCRIPTIONS/20FF7FC3", 1)+"/deployments/gpt-4o")(m)
				obj(m, "metadata", "product")["vendor_name"] = "Microsoft"
			}),
			sever.CredAzureOpenAIKey, "azure", aoaiAccount, "", "20ff7fc3-e762-44dd-bd96-b71116dcdc23", sever.OriginVendor, "resources[0].uid"},
		{"vault token accessor", fixture(t, "ocsf-detection-finding-vault-token.json"),
			sever.CredVaultToken, "vault", vaultAcc, "", "admin/", sever.OriginVendor, "resources[0].uid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := oneSignal(t, adapters.ParseOCSF, tc.body)
			want := sever.Credential{Provider: tc.provider, Type: tc.typ, ID: tc.id, Principal: tc.principal, Account: tc.account}
			if s.Credential != want {
				t.Errorf("credential = %+v, want %+v", s.Credential, want)
			}
			if s.Origin != tc.origin || s.Kind != sever.KindAnomalousUsage {
				t.Errorf("origin/kind = %s/%s, want %s/anomalous_usage", s.Origin, s.Kind, tc.origin)
			}
			if !strings.Contains(s.Summary, "(credential from "+tc.from+")") {
				t.Errorf("summary %q does not name %s", s.Summary, tc.from)
			}
		})
	}
}

// TestOCSFCredentialFamiliesRefused: a resource of a known family whose uid does
// not name the credential in the runbooks' form is a 422 naming the field, never
// dropped, and a key string or token put there is never quoted back.
func TestOCSFCredentialFamiliesRefused(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		mut           func(m map[string]any)
		field, secret string
		msg           string
	}{
		{"service-account key without a uid", "ocsf-detection-finding-gcp-sa-key.json",
			resource0("type", "iam.googleapis.com/ServiceAccountKey"), "resources[0].uid", "", "has no uid"},
		{"service-account key by its id alone", "ocsf-detection-finding-gcp-sa-key.json",
			resource0("type", "google_service_account_key", "uid", "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"), "resources[0].uid", "", "serviceAccounts/<email>/keys/<key id>"},
		{"google api key string instead of its name", "ocsf-detection-finding-google-api-key.json",
			resource0("type", "apikeys.googleapis.com/Key", "uid", fakeGoogleAK), "resources[0].uid", fakeGoogleAK, "resource name"},
		{"entra secret without its key id", "ocsf-detection-finding-azure-app-secret.json",
			resource0("type", "Client Secret", "uid", "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9"), "resources[0].uid", "", "not which of its secrets"},
		{"entra secret by display name", "ocsf-detection-finding-azure-app-secret.json",
			resource0("type", "microsoft.graph.passwordCredential", "uid", "payments-batch/ci"), "resources[0].uid", "", "two GUIDs"},
		{"azure openai account by name only", "ocsf-detection-finding-azure-openai.json",
			resource0("type", "Microsoft.CognitiveServices/accounts", "uid", "contoso-openai"), "resources[0].uid", "", "ARM resource id"},
		{"vault token instead of its accessor", "ocsf-detection-finding-vault-token.json",
			resource0("type", "vault_token", "uid", fakeVaultTok), "resources[0].uid", fakeVaultTok, "not of its accessor"},
		{"in the evidence too", "ocsf-detection-finding-azure-openai.json",
			func(m map[string]any) {
				m["evidences"] = []any{map[string]any{"resources": []any{map[string]any{"type": "Microsoft.CognitiveServices/accounts", "uid": "x"}}}}
			}, "evidences[0].resources[0].uid", "", "ARM resource id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mutate(t, tc.fixture, tc.mut)
			res, err := adapters.ParseOCSF(body)
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			wantUnprocessable(t, err, tc.field, tc.secret, tc.msg)
		})
	}
}

// TestOCSFCredentialFamiliesIgnored: findings that name no credential of these
// families, or only say how one is configured, open no incident.
func TestOCSFCredentialFamiliesIgnored(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		mut           func(m map[string]any)
		reason        string
	}{
		{"generic type without a provider", "ocsf-detection-finding-google-api-key.json",
			func(m map[string]any) { delete(m, "cloud") }, "names no credential"},
		{"generic type of another provider", "ocsf-detection-finding-azure-app-secret.json",
			func(m map[string]any) { obj(m, "cloud")["provider"] = "GCP" }, "names no credential"},
		{"a posture check that failed (Prowler)", "ocsf-detection-finding-gcp-sa-key.json",
			func(m map[string]any) { m["status_code"] = "FAIL" }, "posture check"},
		{"a posture check that passed", "ocsf-detection-finding-azure-openai.json",
			func(m map[string]any) { m["status_code"] = "PASS" }, "posture check"},
		{"resolved", "ocsf-detection-finding-vault-token.json",
			func(m map[string]any) { m["status_id"] = 4 }, "status_id 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mutate(t, tc.fixture, tc.mut)
			res, err := adapters.ParseOCSF(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Signals) != 0 || !strings.Contains(res.Ignored, tc.reason) {
				t.Errorf("signals %d, ignored %q; want ignored saying %q", len(res.Signals), res.Ignored, tc.reason)
			}
		})
	}
}

// TestOCSFAzureAccountOnlyAsTheResource: an ARM id below an account names the
// account only when the resource is the account or one of its parts.
func TestOCSFAzureAccountOnlyAsTheResource(t *testing.T) {
	body := mutate(t, "ocsf-detection-finding-azure-openai.json", func(m map[string]any) {
		delete(m, "evidences")
		resource0("type", "Microsoft.Insights/diagnosticSettings", "uid", aoaiAccount+"/providers/Microsoft.Insights/diagnosticSettings/audit")(m)
	})
	res, err := adapters.ParseOCSF(body)
	if err != nil || len(res.Signals) != 0 {
		t.Errorf("signals %d, err %v; want ignored", len(res.Signals), err)
	}
}
