package adapters_test

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

// entraLeaked is a servicePrincipalRiskDetection as Graph returns it (the
// documented example, with a key id).
const entraLeaked = `{
  "id": "1d3a2b4c5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b",
  "requestId": "",
  "correlationId": "",
  "riskEventType": "leakedCredentials",
  "riskState": "atRisk",
  "riskLevel": "high",
  "riskDetail": "none",
  "source": "IdentityProtection",
  "detectionTimingType": "offline",
  "activity": "servicePrincipal",
  "tokenIssuerType": "AzureAD",
  "ipAddress": "",
  "activityDateTime": "2026-01-05T09:38:55.0000000Z",
  "detectedDateTime": "2026-01-05T10:12:00.0000000Z",
  "lastUpdatedDateTime": "2026-01-05T10:12:03.5513066Z",
  "servicePrincipalId": "9f0e8d7c-6b5a-4938-8271-605f4e3d2c1b",
  "servicePrincipalDisplayName": "payments-batch",
  "appId": "1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9",
  "keyIds": ["6f5e4d3c-2b1a-4098-8765-4321fedcba09"],
  "location": null,
  "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"\"}]"
}`

func entraWith(from, to string) []byte { return []byte(strings.Replace(entraLeaked, from, to, 1)) }

func TestParseEntraRisk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		kind    sever.SignalKind
		signals int
		ignored string
		field   string
	}{
		{"leaked", []byte(entraLeaked), sever.KindCredentialExposed, 1, "", ""},
		{"suspicious sign-ins", entraWith(`"leakedCredentials"`, `"suspiciousSignins"`), sever.KindAnomalousUsage, 1, "", ""},
		{"confirmed compromised", entraWith(`"leakedCredentials"`, `"adminConfirmedServicePrincipalCompromised"`), sever.KindAbuseReport, 1, "", ""},
		{"two keys", entraWith(`["6f5e4d3c-2b1a-4098-8765-4321fedcba09"]`, `["6f5e4d3c-2b1a-4098-8765-4321fedcba09","0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"]`), sever.KindCredentialExposed, 2, "", ""},
		{"dismissed", entraWith(`"atRisk"`, `"dismissed"`), "", 0, "dismissed", ""},
		{"remediated", entraWith(`"atRisk"`, `"remediated"`), "", 0, "remediated", ""},
		{"about the application", entraWith(`"leakedCredentials"`, `"maliciousApplication"`), "", 0, "not about a credential", ""},
		{"no key id", entraWith(`["6f5e4d3c-2b1a-4098-8765-4321fedcba09"]`, `[]`), "", 0, "names no key id", ""},
		{"bad key id", entraWith(`"6f5e4d3c-2b1a-4098-8765-4321fedcba09"`, `"c3VwZXItc2VjcmV0"`), "", 0, "", "keyIds[0]"},
		{"bad app id", entraWith(`"1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9"`, `"payments"`), "", 0, "", "appId"},
		{"bad level", entraWith(`"high"`, `"extreme"`), "", 0, "", "riskLevel"},
		{"bad time", entraWith(`"2026-01-05T09:38:55.0000000Z"`, `"yesterday"`), "", 0, "", "activityDateTime"},
		{"no id", entraWith(`"id": "1d3a2b4c5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"`, `"id": ""`), "", 0, "", "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := adapters.ParseEntraRisk(tc.body)
			checkResult(t, tc.body, res, err)
			if refusedOrIgnored(t, res, err, tc.field, tc.ignored) {
				return
			}
			if len(res.Signals) != tc.signals {
				t.Fatalf("%d signals, want %d", len(res.Signals), tc.signals)
			}
			s := res.Signals[0]
			if s.Kind != tc.kind || s.Origin != sever.OriginVendor || s.Source != adapters.SourceEntra ||
				s.Credential.Type != sever.CredAzureAppSecret || s.Credential.Provider != "azure" ||
				s.Credential.ID != "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9/6f5e4d3c-2b1a-4098-8765-4321fedcba09" || s.Severity != "high" {
				t.Errorf("signal = %+v", s)
			}
		})
	}
}

// A resend of the same detection is a duplicate; an update (new
// lastUpdatedDateTime) is a new signal.
func TestParseEntraRiskDedup(t *testing.T) {
	a, err := adapters.ParseEntraRisk([]byte(entraLeaked))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := adapters.ParseEntraRisk([]byte(strings.ReplaceAll(entraLeaked, "\n  ", "")))
	c, _ := adapters.ParseEntraRisk(entraWith(`"2026-01-05T10:12:03.5513066Z"`, `"2026-01-06T08:00:00Z"`))
	if a.Signals[0].SourceEventID != b.Signals[0].SourceEventID || a.Signals[0].SourceEventID == c.Signals[0].SourceEventID {
		t.Errorf("source event ids %q %q %q", a.Signals[0].SourceEventID, b.Signals[0].SourceEventID, c.Signals[0].SourceEventID)
	}
}

func FuzzEntraRisk(f *testing.F) {
	f.Add([]byte(entraLeaked))
	f.Add(entraWith(`"atRisk"`, `"dismissed"`))
	f.Add(entraWith(`["6f5e4d3c-2b1a-4098-8765-4321fedcba09"]`, `null`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseEntraRisk(body)
		checkResult(t, body, res, err)
	})
}
