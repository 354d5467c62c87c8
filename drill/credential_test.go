package drill

import (
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// Every credential kind parses with its own defaults and names itself in signals
// the way its runbook expects; what a kind cannot do is refused at the field.
func TestCredentialKinds(t *testing.T) {
	const tail = `
signals: [{source: siem, origin: enterprise, kind: credential_exposed}]
objectives: {expect_status: contained}
`
	for _, tc := range []struct {
		name, creds, attackers string
		wantErr                string // a substring of the error; "" parses
		wantOps                []string
		wantSignal             sever.Credential
	}{
		{name: "default access key", creds: "", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackListBuckets, drillcloud.AttackInvokeModel},
			wantSignal: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: drillcloud.DefaultCompromisedKeyID, Account: drillcloud.DefaultAccountID, Principal: "arn:aws:iam::111122223333:user/ci-deployer"}},
		{name: "long-term bedrock key created by the drill", creds: "[{name: k, type: aws_bedrock_api_key, user: BedrockAPIKey-d}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackInvokeModel},
			wantSignal: sever.Credential{Provider: "aws", Type: sever.CredAWSBedrockAPIKey, Account: drillcloud.DefaultAccountID, Principal: "arn:aws:iam::111122223333:user/BedrockAPIKey-d"}},
		{name: "short-term bedrock key", creds: "[{name: k, type: aws_bedrock_api_key, id: 'short-term:arn:aws:iam::444455556666:role/r'}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackInvokeModel},
			wantSignal: sever.Credential{Provider: "aws", Type: sever.CredAWSBedrockAPIKey, ID: "short-term:arn:aws:iam::444455556666:role/r", Account: "444455556666", Principal: "arn:aws:iam::444455556666:role/r"}},
		{name: "anthropic key", creds: "[{name: k, type: anthropic_api_key, id: apikey_01DrillExposedAnthropic1}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackAnthropicMessages},
			wantSignal: sever.Credential{Provider: "anthropic", Type: sever.CredAnthropicAPIKey, ID: "apikey_01DrillExposedAnthropic1", Account: drillcloud.DefaultAnthropicOrgID}},
		{name: "openai key", creds: "[{name: k, type: openai_api_key, id: key_DrillExposedOpenAI01}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackOpenAIChat},
			wantSignal: sever.Credential{Provider: "openai", Type: sever.CredOpenAIAPIKey, ID: "key_DrillExposedOpenAI01", Account: drillcloud.DefaultOpenAIProjectID}},
		{name: "gcp key created by the drill", creds: "[{name: k, type: gcp_service_account_key}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackGCPGetServiceAccount},
			wantSignal: sever.Credential{Provider: "gcp", Type: sever.CredGCPServiceAccountKey, Account: drillcloud.DefaultGCPProject}},
		{name: "gcp key by name", creds: "[{name: k, type: gcp_service_account_key, id: 'projects/drill-project/serviceAccounts/app-runner@drill-project.iam.gserviceaccount.com/keys/0123abcd0123abcd'}]", attackers: "[{name: a}]",
			wantOps: []string{drillcloud.AttackGCPGetServiceAccount},
			wantSignal: sever.Credential{Provider: "gcp", Type: sever.CredGCPServiceAccountKey, Account: drillcloud.DefaultGCPProject,
				ID: "projects/drill-project/serviceAccounts/app-runner@drill-project.iam.gserviceaccount.com/keys/0123abcd0123abcd", Principal: drillcloud.DefaultGCPWorkloadEmail}},
		{name: "google api key", creds: "[{name: k, type: google_api_key}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackGeminiListModels},
			wantSignal: sever.Credential{Provider: "gcp", Type: sever.CredGoogleAPIKey, Account: drillcloud.DefaultGCPProject}},
		{name: "entra secret", creds: "[{name: k, type: azure_app_secret}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackEntraToken},
			wantSignal: sever.Credential{Provider: "azure", Type: sever.CredAzureAppSecret, Account: drillcloud.DefaultAzureTenantID}},
		{name: "azure openai key", creds: "[{name: k, type: azure_openai_key}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackAzureOpenAIChat},
			wantSignal: sever.Credential{Provider: "azure", Type: sever.CredAzureOpenAIKey, Account: drillcloud.DefaultAzureSubscriptionID}},
		{name: "vault token", creds: "[{name: k, type: vault_token, id: drillVaultAccessor0000001}]", attackers: "[{name: a}]",
			wantOps:    []string{drillcloud.AttackVaultReadSecret, drillcloud.AttackVaultCreds},
			wantSignal: sever.Credential{Provider: "vault", Type: sever.CredVaultToken, ID: drillcloud.DefaultVaultAccessor}},
		{name: "google api key string as its id", creds: "[{name: k, type: google_api_key, id: AIzaSyA-drill}]", attackers: "[]", wantErr: "credentials[0].id"},
		{name: "vault token value as its id", creds: "[{name: k, type: vault_token, id: hvs.CAESIdrill}]", attackers: "[]", wantErr: "credentials[0].id"},
		{name: "entra secret with a user", creds: "[{name: k, type: azure_app_secret, user: u}]", attackers: "[]", wantErr: "credentials[0].user"},
		{name: "gcp project not an id", creds: "[{name: k, type: gcp_service_account_key, account: 'My Project'}]", attackers: "[]", wantErr: "credentials[0].account"},
		{name: "vault call with a gcp key", creds: "[{name: k, type: gcp_service_account_key}]", attackers: "[{name: a, operations: ['vault:read-secret']}]", wantErr: "attackers[0].operations[0]"},
		{name: "unknown type", creds: "[{name: k, type: github_token, id: x}]", attackers: "[]", wantErr: "credentials[0].type"},
		{name: "bedrock key leaked as its secret", creds: "[{name: k, type: aws_bedrock_api_key, id: ABSKxyz, user: u}]", attackers: "[]", wantErr: "credentials[0].id"},
		{name: "short-term id without an ARN", creds: "[{name: k, type: aws_bedrock_api_key, id: 'short-term:ci-runner'}]", attackers: "[]", wantErr: "credentials[0].id"},
		{name: "short-term account contradicted", creds: "[{name: k, type: aws_bedrock_api_key, id: 'short-term:arn:aws:iam::444455556666:role/r', account: '111122223333'}]", attackers: "[]", wantErr: "credentials[0].account"},
		{name: "anthropic key with a user", creds: "[{name: k, type: anthropic_api_key, id: apikey_abcd, user: u}]", attackers: "[]", wantErr: "credentials[0].user"},
		{name: "openai id for anthropic", creds: "[{name: k, type: anthropic_api_key, id: key_abcd}]", attackers: "[]", wantErr: "credentials[0].id"},
		{name: "s3 with a bedrock key", creds: "[{name: k, type: aws_bedrock_api_key, user: u}]", attackers: "[{name: a, operations: [s3:ListBuckets]}]", wantErr: "attackers[0].operations[0]"},
		{name: "anthropic call with an AWS key", creds: "", attackers: "[{name: a, operations: ['anthropic:CreateMessage']}]", wantErr: "attackers[0].operations[0]"},
		{name: "pivot with a provider key", creds: "[{name: k, type: openai_api_key, id: key_abcd}]", attackers: "[{name: a, pivot_to_session: true}]", wantErr: "attackers[0].pivot_to_session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "name: kinds\nattackers: " + tc.attackers + "\n"
			if tc.creds != "" {
				src += "credentials: " + tc.creds + "\n"
			}
			s, err := Parse("kinds.yaml", []byte(src+tail))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse = %v; want an error at %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Attackers) > 0 && !slices.Equal(s.Attackers[0].Operations, tc.wantOps) {
				t.Errorf("operations = %v; want %v", s.Attackers[0].Operations, tc.wantOps)
			}
			if got := signalCredential(s.Credentials[0]); got != tc.wantSignal {
				t.Errorf("signal credential = %+v; want %+v", got, tc.wantSignal)
			}
		})
	}
}

// A vendor can only quarantine an AWS user, and only a model provider disables its
// own key in the drill cloud.
func TestVendorActionsMatchTheCredential(t *testing.T) {
	for _, tc := range []struct{ creds, signal, wantErr string }{
		{"[{name: k, type: anthropic_api_key, id: apikey_abcd}]", "{source: anthropic, origin: vendor, kind: abuse_report, quarantine: AWSCompromisedKeyQuarantineV3}", "signals[0].quarantine"},
		{"[{name: k, type: anthropic_api_key, id: apikey_abcd}]", "{source: anthropic, origin: enterprise, kind: abuse_report, vendor_disables: true}", "signals[0].vendor_disables"},
		{"[{name: k, id: AKIADRILLEXPOSED0001, user: ci-deployer}]", "{source: aws-health, origin: vendor, kind: abuse_report, vendor_disables: true}", "signals[0].vendor_disables"},
		{"[{name: k, type: openai_api_key, id: key_abcd}]", "{source: openai, origin: vendor, kind: abuse_report, vendor_disables: true}", ""},
		{"[{name: k, type: gcp_service_account_key}]", "{source: gcp-scc, origin: vendor, kind: credential_exposed, vendor_disables: true}", ""},
		{"[{name: k, type: azure_app_secret}]", "{source: entra, origin: vendor, kind: abuse_report, vendor_disables: true}", "signals[0].vendor_disables"},
		{"[{name: k, type: vault_token}]", "{source: vault, origin: vendor, kind: abuse_report, quarantine: AWSCompromisedKeyQuarantineV3}", "signals[0].quarantine"},
	} {
		_, err := Parse("v.yaml", []byte("name: v\ncredentials: "+tc.creds+"\nsignals: ["+tc.signal+"]\nobjectives: {expect_incidents: 1}\n"))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.signal, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v; want an error at %s", tc.signal, err, tc.wantErr)
		}
	}
}
