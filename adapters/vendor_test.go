package adapters_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

// vendorDir holds real, publicly published vendor payloads (its README names each
// file's source). Every file there must have a row in vendorFixtures, and every
// row a file, so a new fixture cannot arrive without saying what it yields.
const vendorDir = "testdata/vendor"

// vendorSignal is what one signal a fixture yields must be.
type vendorSignal struct {
	kind      sever.SignalKind
	origin    sever.Origin
	credType  sever.CredentialType
	credID    string
	principal string
	account   string
	severity  string
	observed  string // RFC 3339
	url       string
}

// vendorWant is what a fixture yields: signals, an ignored reason (substring), or
// a refusal naming a field. The same table is in README.md ("Real vendor payloads").
type vendorWant struct {
	event      string
	signals    []vendorSignal
	ignored    string
	errorField string
}

// githubReceivedAt is the delivery time the table's GitHub deliveries are parsed
// with; it is what a GitHub alert without any time is observed at.
var githubReceivedAt = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// awsKeyExposedSignals are the two signals of a Health event exposing
// AKIAIOSFODNN7EXAMPLE: the exposure, and AWS's quarantine of the key.
var awsKeyExposedSignals = []vendorSignal{
	{kind: sever.KindCredentialExposed, origin: sever.OriginVendor, credType: sever.CredAWSAccessKey, credID: "AKIAIOSFODNN7EXAMPLE",
		account: "123456789012", severity: "critical", observed: "2016-06-05T15:10:09Z"},
	{kind: sever.KindVendorAction, origin: sever.OriginVendor, credType: sever.CredAWSAccessKey, credID: "AKIAIOSFODNN7EXAMPLE",
		account: "123456789012", severity: "info", observed: "2016-06-05T15:10:09Z"},
}

var vendorFixtures = map[string]vendorWant{
	"health-risk-credentials-exposed.aws-health-tools.json": {
		// AWS's own test event still holds its placeholder: refused, naming the field.
		event: "", errorField: "detail.eventMetadata.publicKey",
	},
	"health-risk-credentials-exposed.aws-health-tools.key-filled.DERIVED.json": {
		event: "AWS_RISK_CREDENTIALS_EXPOSED", signals: awsKeyExposedSignals,
	},
	"health-risk-credentials-exposed.single-digit-day.DERIVED.json": {
		event: "AWS_RISK_CREDENTIALS_EXPOSED", signals: awsKeyExposedSignals,
	},
	"health-risk-credentials-exposed.notify-and-remediate.json": {
		// Its placeholders are malformed (a 14-character key ID, a 10-digit account).
		errorField: "detail.eventMetadata.publicKey",
	},
	"health-ec2-instance-store-drive-degraded.aws-health-tools.json": {
		event: "AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED", ignored: "not a credential",
	},
	"guardduty-recon-iamuser-maliciousipcaller-sample-archived.aws-samples.WRAPPED.json": {
		event: "Recon:IAMUser/MaliciousIPCaller.Custom", ignored: "sample finding",
	},
	"guardduty-discovery-iamuser-anomalousbehavior-sample.elastic.WRAPPED.json": {
		event: "Discovery:IAMUser/AnomalousBehavior", ignored: "sample finding",
	},
	"guardduty-discovery-iamuser-anomalousbehavior-real.onug-csnf.WRAPPED.json": {
		event: "Discovery:IAMUser/AnomalousBehavior", signals: []vendorSignal{
			{kind: sever.KindAnomalousUsage, origin: sever.OriginVendor, credType: sever.CredAWSTemporaryCredentials, credID: "ASIARZOOKWPXR24HLMYM",
				principal: "arn:aws:sts::123456789012:assumed-role/READONLYACCESS/815945", account: "123456789012", severity: "low", observed: "2021-04-28T02:41:25Z"},
		},
	},
	"github-secret-scanning-alert-reopened.octokit.json": {
		// No created_at or updated_at: observed at the delivery.
		event: "secret_scanning_alert.reopened", signals: []vendorSignal{
			{kind: sever.KindCredentialExposed, origin: sever.OriginVendor, credType: sever.CredGenericToken,
				credID: "Codertocat/Hello-World/secret-scanning/191", severity: "medium", observed: "2025-06-01T12:00:00Z"},
		},
	},
	"github-secret-scanning-alert-reopened.octokit.with-created-at.DERIVED.json": {
		event: "secret_scanning_alert.reopened", signals: []vendorSignal{
			{kind: sever.KindCredentialExposed, origin: sever.OriginVendor, credType: sever.CredGenericToken,
				credID: "Codertocat/Hello-World/secret-scanning/191", severity: "medium", observed: "2022-04-01T12:04:28Z"},
		},
	},
	"ocsf-2004-sechub-guardduty-iam-accesskey.ocsf-examples.json": {
		event: "detection_finding", signals: []vendorSignal{
			{kind: sever.KindAnomalousUsage, origin: sever.OriginVendor, credType: sever.CredAWSTemporaryCredentials, credID: "ASIATMJPC7EXAMPLE",
				principal: "Admin", account: "111111111111", severity: "low", observed: "2023-09-19T15:05:22.487Z",
				url: "https://us-east-2.console.aws.amazon.com/guardduty/home?region=us-east-2#/findings?macros=current&fId=a6c556fcbc9bea427a19f8b787099a0b"},
		},
	},
	"ocsf-2004-okta-login-failures.ocsf-examples.json": {
		event: "detection_finding", ignored: "names no credential",
	},
	"ocsf-2004-prowler-acm-pass.ocsf-examples.json": {
		event: "detection_finding", ignored: "names no credential",
	},
}

// parseVendor posts body to the parser its file name says it is for.
func parseVendor(t *testing.T, name string, body []byte) (adapters.Result, error) {
	t.Helper()
	switch {
	case strings.HasPrefix(name, "health-"):
		return adapters.ParseAWSHealth(body)
	case strings.HasPrefix(name, "guardduty-"):
		return adapters.ParseGuardDuty(body)
	case strings.HasPrefix(name, "github-"):
		return adapters.ParseGitHub(adapters.GitHubDelivery{Event: adapters.GitHubEventSecretScanning,
			ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", ReceivedAt: githubReceivedAt}, body)
	case strings.HasPrefix(name, "ocsf-"):
		return adapters.ParseOCSF(body)
	}
	t.Fatalf("no adapter for %s: name vendor fixtures health-, guardduty-, github- or ocsf-…", name)
	return adapters.Result{}, nil
}

func TestVendorFixtures(t *testing.T) {
	entries, err := os.ReadDir(vendorDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			files = append(files, e.Name())
		}
	}
	for name := range vendorFixtures {
		if !slices.Contains(files, name) {
			t.Errorf("vendorFixtures has a row for %s, which is not in %s", name, vendorDir)
		}
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			want, ok := vendorFixtures[name]
			if !ok {
				t.Fatalf("%s/%s has no row in vendorFixtures (and README.md): say what it yields", vendorDir, name)
			}
			body, err := os.ReadFile(filepath.Join(vendorDir, name))
			if err != nil {
				t.Fatal(err)
			}
			res, err := parseVendor(t, name, body)
			checkResult(t, body, res, err)
			if want.errorField != "" {
				var e *sever.Error
				if !errors.As(err, &e) || e.Field != want.errorField {
					t.Fatalf("got %+v, %v; want a refusal naming %s", res, err, want.errorField)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if res.Event != want.event {
				t.Errorf("event = %q, want %q", res.Event, want.event)
			}
			if want.ignored != "" {
				if len(res.Signals) != 0 || !strings.Contains(res.Ignored, want.ignored) {
					t.Errorf("got %d signals, ignored %q; want ignored with %q", len(res.Signals), res.Ignored, want.ignored)
				}
				return
			}
			if len(res.Signals) != len(want.signals) {
				t.Fatalf("got %d signals (ignored %q), want %d", len(res.Signals), res.Ignored, len(want.signals))
			}
			for i, w := range want.signals {
				s := res.Signals[i]
				var url string
				if s.Extra != nil {
					url = s.Extra.URL
				}
				got := vendorSignal{kind: s.Kind, origin: s.Origin, credType: s.Credential.Type, credID: s.Credential.ID,
					principal: s.Credential.Principal, account: s.Credential.Account, severity: s.Severity,
					observed: s.ObservedAt.Format(time.RFC3339Nano), url: url}
				if got != w {
					t.Errorf("signal %d:\n got %+v\nwant %+v", i, got, w)
				}
			}
		})
	}
}
