package adapters_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

const (
	sccKeyID = "0123456789abcdef0123456789abcdef01234567"
	sccEmail = "app-runner@acme-prod.iam.gserviceaccount.com"
	sccKey   = "projects/acme-prod/serviceAccounts/" + sccEmail + "/keys/" + sccKeyID
)

// sccLeaked is a leaked-credentials finding notification in the shape Security
// Command Center publishes it (sourceProperties name the key).
const sccLeaked = `{"notificationConfigName":"organizations/123/notificationConfigs/sever",
"finding":{"name":"organizations/123/sources/456/findings/f-leak-1","parent":"organizations/123/sources/456",
"resourceName":"//cloudresourcemanager.googleapis.com/projects/987","state":"ACTIVE","category":"account_has_leaked_credentials",
"externalUri":"https://github.com/acme/app/blob/main/key.json?token=x","sourceProperties":{"project_identifier":"acme-prod",
"compromised_account":"` + sccEmail + `","private_key_identifier":"` + sccKeyID + `","url":"https://github.com/acme/app/blob/main/key.json"},
"securityMarks":{},"eventTime":"2026-03-01T10:00:00.123Z","createTime":"2026-03-01T10:00:05Z","severity":"CRITICAL","findingClass":"THREAT","mute":"UNMUTED"}}`

// sccETD is an Event Threat Detection finding whose access names the key.
const sccETD = `{"finding":{"name":"organizations/123/sources/789/findings/f-etd-1","category":"Persistence: IAM Anomalous Grant",
"state":"ACTIVE","severity":"HIGH","findingClass":"THREAT","eventTime":"2026-03-02T08:00:00Z",
"access":{"principalEmail":"` + sccEmail + `","serviceAccountKeyName":"//iam.googleapis.com/` + sccKey + `"}}}`

func sccPush(notification string) string {
	return `{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(notification)) +
		`","messageId":"m-1","publishTime":"2026-03-01T10:00:06Z"},"subscription":"projects/acme-sec/subscriptions/sever"}`
}

func TestParseGCPSCC(t *testing.T) {
	for _, tc := range []struct {
		name      string
		body      string
		kind      sever.SignalKind
		severity  string
		ignored   string // substring of the reason
		errField  string
		principal string
	}{
		{name: "leaked key", body: sccLeaked, kind: sever.KindCredentialExposed, severity: "critical", principal: sccEmail},
		{name: "leaked key by push", body: sccPush(sccLeaked), kind: sever.KindCredentialExposed, severity: "critical", principal: sccEmail},
		{name: "threat detection", body: sccETD, kind: sever.KindAnomalousUsage, severity: "high", principal: sccEmail},
		{name: "inactive", body: strings.Replace(sccLeaked, `"ACTIVE"`, `"INACTIVE"`, 1), ignored: "INACTIVE"},
		{name: "muted", body: strings.Replace(sccLeaked, `"UNMUTED"`, `"MUTED"`, 1), ignored: "muted"},
		{name: "no key", body: `{"finding":{"name":"organizations/1/sources/2/findings/3","category":"OPEN_FIREWALL","state":"ACTIVE","eventTime":"2026-03-01T10:00:00Z"}}`, ignored: "names no service-account key"},
		{name: "bad key name", body: strings.Replace(sccETD, "/keys/"+sccKeyID, "/keys/not-hex", 1), errField: "finding.access.serviceAccountKeyName"},
		{name: "key without account", body: strings.Replace(sccLeaked, `"compromised_account":"`+sccEmail+`",`, "", 1), errField: "finding.sourceProperties.compromised_account"},
		{name: "no finding", body: `{"notificationConfigName":"x"}`, errField: "finding"},
		{name: "bad push data", body: `{"message":{"data":"%%%"}}`, errField: "message.data"},
		{name: "no time", body: strings.Replace(strings.Replace(sccLeaked, `"eventTime":"2026-03-01T10:00:00.123Z",`, "", 1), `"createTime":"2026-03-01T10:00:05Z",`, "", 1), errField: "finding.eventTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := adapters.ParseGCPSCC([]byte(tc.body))
			checkResult(t, []byte(tc.body), res, err)
			if refusedOrIgnored(t, res, err, tc.errField, tc.ignored) {
				return
			}
			s := res.Signals[0]
			if s.Credential != (sever.Credential{Provider: "gcp", Type: sever.CredGCPServiceAccountKey, ID: sccKey, Principal: tc.principal, Account: "acme-prod"}) {
				t.Errorf("credential = %+v", s.Credential)
			}
			if s.Kind != tc.kind || s.Severity != tc.severity || s.Origin != sever.OriginVendor || s.Source != adapters.SourceGCPSCC {
				t.Errorf("signal = %+v", s)
			}
			if s.Extra != nil && strings.Contains(s.Extra.URL, "token=") {
				t.Errorf("meta URL keeps its query: %s", s.Extra.URL)
			}
		})
	}
	// A push delivery and the notification it carries are one event.
	a, _ := adapters.ParseGCPSCC([]byte(sccLeaked))
	b, _ := adapters.ParseGCPSCC([]byte(sccPush(sccLeaked)))
	if a.Signals[0].SourceEventID != b.Signals[0].SourceEventID {
		t.Errorf("source event ids differ: %s vs %s", a.Signals[0].SourceEventID, b.Signals[0].SourceEventID)
	}
}

func FuzzGCPSCC(f *testing.F) {
	f.Add([]byte(sccLeaked))
	f.Add([]byte(sccETD))
	f.Add([]byte(sccPush(sccLeaked)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"message":{"data":""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseGCPSCC(body)
		checkResult(t, body, res, err)
	})
}
