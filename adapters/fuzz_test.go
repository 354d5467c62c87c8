package adapters_test

import (
	"testing"

	"github.com/sever-ir/sever/adapters"
)

// The fuzz targets feed each parser arbitrary bytes, seeded with the fixtures:
// whatever comes in, the parser must not panic, and must answer with a
// *sever.Error or a result that checkResult accepts.

func seed(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(fixture(f, n))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"detail":{"eventTypeCode":null}}`))
	f.Add([]byte(`[]`))
}

func FuzzAWSHealth(f *testing.F) {
	seed(f, "aws-health-credentials-exposed.json", "aws-health-aws-sample.json", "aws-health-ec2-maintenance.json",
		"vendor/health-risk-credentials-exposed.single-digit-day.DERIVED.json", "vendor/health-risk-credentials-exposed.notify-and-remediate.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseAWSHealth(body)
		checkResult(t, body, res, err)
	})
}

func FuzzGuardDuty(f *testing.F) {
	seed(f, "guardduty-anomalous-model-invocation.json", "guardduty-credential-exfiltration.json",
		"guardduty-sample.json", "guardduty-ec2-port-probe.json",
		"vendor/guardduty-discovery-iamuser-anomalousbehavior-real.onug-csnf.WRAPPED.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseGuardDuty(body)
		checkResult(t, body, res, err)
	})
}

func FuzzGitHub(f *testing.F) {
	for _, n := range []string{"github-secret-scanning-created.json", "github-ping.json"} {
		f.Add("secret_scanning_alert", deliveryID, false, fixture(f, n))
	}
	f.Add("ping", deliveryID, false, fixture(f, "github-ping.json"))
	f.Add("secret_scanning_alert", deliveryID, true, []byte("payload=%7B%22action%22%3A%22created%22%7D"))
	f.Fuzz(func(t *testing.T, event, id string, form bool, body []byte) {
		res, err := adapters.ParseGitHub(adapters.GitHubDelivery{Event: event, ID: id, Form: form}, body)
		checkResult(t, body, res, err)
	})
}

func FuzzGitHubSignature(f *testing.F) {
	body := fixture(f, "github-secret-scanning-created.json")
	f.Add([]byte("webhook-secret-0123456789"), body, adapters.SignGitHub([]byte("webhook-secret-0123456789"), body))
	f.Add([]byte("s"), []byte{}, "sha256=")
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		err := adapters.VerifyGitHubSignature(secret, body, header)
		if len(secret) > 0 && header == adapters.SignGitHub(secret, body) && err != nil {
			t.Errorf("a correct signature was refused: %v", err)
		}
	})
}

func FuzzOCSF(f *testing.F) {
	seed(f, "ocsf-detection-finding-aws-key.json", "ocsf-detection-finding-anthropic-key.json",
		"vendor/ocsf-2004-sechub-guardduty-iam-accesskey.ocsf-examples.json", "vendor/ocsf-2004-okta-login-failures.ocsf-examples.json",
		"ocsf-detection-finding-gcp-sa-key.json", "ocsf-detection-finding-google-api-key.json", "ocsf-detection-finding-azure-app-secret.json",
		"ocsf-detection-finding-azure-openai.json", "ocsf-detection-finding-vault-token.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseOCSF(body)
		checkResult(t, body, res, err)
	})
}

func FuzzProvider(f *testing.F) {
	seed(f, "provider-anthropic-key-exposed.json", "provider-openai-key-revoked.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseProvider(body)
		checkResult(t, body, res, err)
	})
}
