package adapters_test

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

const defenderAI = "defender-ai-dow-volume-anomaly.json"

func defenderProps(mut func(p map[string]any)) func(m map[string]any) {
	return func(m map[string]any) { mut(obj(m, "properties")) }
}

// TestParseDefender: Defender for AI services alerts about the use of an Azure
// OpenAI account become an azure_openai_key signal for the account's ARM id.
func TestParseDefender(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     []byte
		kind     sever.SignalKind
		severity string
		from     string
	}{
		{"wallet attack, volume anomaly", fixture(t, defenderAI), sever.KindAbuseReport, "medium", "resourceIdentifiers[0]"},
		{"wallet attack, recurring requests",
			mutate(t, defenderAI, defenderProps(func(p map[string]any) { p["alertType"] = "AI.Azure_DOWDuplicateRequests" })),
			sever.KindAbuseReport, "medium", "resourceIdentifiers[0]"},
		{"access from a suspicious IP",
			mutate(t, defenderAI, defenderProps(func(p map[string]any) {
				p["alertType"], p["severity"] = "AI.Azure_AccessFromSuspiciousIP", "High"
			})),
			sever.KindAbuseReport, "high", "resourceIdentifiers[0]"},
		{"access from Tor",
			mutate(t, defenderAI, defenderProps(func(p map[string]any) { p["alertType"] = "AI.Azure_AccessFromAnonymizedIP" })),
			sever.KindAnomalousUsage, "medium", "resourceIdentifiers[0]"},
		{"access anomaly, account only in the entities, upper-case id",
			mutate(t, defenderAI, defenderProps(func(p map[string]any) {
				p["alertType"] = "AI.Azure_AccessAnomaly"
				p["resourceIdentifiers"] = []any{}
				p["entities"] = []any{map[string]any{"type": "azure-resource", "resourceId": strings.ToUpper(aoaiAccount[:52]) + aoaiAccount[52:]}}
			})),
			sever.KindAnomalousUsage, "medium", "entities[0]"},
		{"alert on a deployment names its account",
			mutate(t, defenderAI, defenderProps(func(p map[string]any) {
				p["alertType"] = "AI.Azure_AccessFromSuspiciousUserAgent"
				p["resourceIdentifiers"] = []any{map[string]any{"type": "AzureResource", "azureResourceId": aoaiAccount + "/deployments/gpt-4o"}}
			})),
			sever.KindAnomalousUsage, "medium", "resourceIdentifiers[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := oneSignal(t, adapters.ParseDefender, tc.body)
			want := sever.Credential{Provider: "azure", Type: sever.CredAzureOpenAIKey, ID: aoaiAccount, Account: "20ff7fc3-e762-44dd-bd96-b71116dcdc23"}
			if s.Credential != want {
				t.Errorf("credential = %+v, want %+v", s.Credential, want)
			}
			if s.Source != adapters.SourceDefender || s.Origin != sever.OriginVendor || s.Kind != tc.kind || s.Severity != tc.severity {
				t.Errorf("source/origin/kind/severity = %s/%s/%s/%s, want defender/vendor/%s/%s", s.Source, s.Origin, s.Kind, s.Severity, tc.kind, tc.severity)
			}
			if got := eventIDOf(s.SourceEventID); got != "2517538088322968242_a1c2e3f4-5b6d-4e7f-8091-a2b3c4d5e6f7" {
				t.Errorf("event id = %q, want the systemAlertId", got)
			}
			if !s.ObservedAt.Equal(utc("2026-03-02T01:14:00Z")) {
				t.Errorf("observed at %v, want startTimeUtc", s.ObservedAt)
			}
			if !strings.Contains(s.Summary, "(from properties."+tc.from) || !strings.Contains(s.Summary, "203.0.113.7") && tc.from != "entities[0]" {
				t.Errorf("summary %q lacks the field or the caller", s.Summary)
			}
			if strings.Contains(s.Summary, "184233") || strings.Contains(s.Summary, "Wallet attacks are") {
				t.Errorf("summary copies free text: %q", s.Summary)
			}
			if s.Extra == nil || !strings.HasPrefix(s.Extra.URL, "https://portal.azure.com/#blade/") {
				t.Errorf("meta = %+v, want the portal link with its alert", s.Extra)
			}
		})
	}
}

// TestParseDefenderDedup: an alert Defender extends (later endTimeUtc) is a new
// signal; the same alert resent is the same one.
func TestParseDefenderDedup(t *testing.T) {
	a, _ := adapters.ParseDefender(fixture(t, defenderAI))
	b, _ := adapters.ParseDefender(fixture(t, defenderAI))
	c, err := adapters.ParseDefender(mutate(t, defenderAI, defenderProps(func(p map[string]any) { p["endTimeUtc"] = "2026-03-02T03:10:00Z" })))
	if err != nil || len(a.Signals) != 1 || len(c.Signals) != 1 {
		t.Fatalf("parse: %v", err)
	}
	if a.Signals[0].SourceEventID != b.Signals[0].SourceEventID {
		t.Error("a resend is not a duplicate")
	}
	if a.Signals[0].SourceEventID == c.Signals[0].SourceEventID {
		t.Error("an extended alert is a duplicate")
	}
}

func TestParseDefenderIgnored(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   []byte
		reason string
	}{
		{"published test alert (VM_EICAR)", fixture(t, "defender-alert-vm-eicar.azure-rest-api-specs.json"), "not a Defender for AI services alert"},
		{"jailbreak attempt", mutate(t, defenderAI, defenderProps(func(p map[string]any) {
			p["alertType"] = "AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt"
		})), "content an application relays"},
		{"credential theft in a model response", mutate(t, defenderAI, defenderProps(func(p map[string]any) {
			p["alertType"] = "AI.Azure_CredentialTheftAttempt"
		})), "content an application relays"},
		{"resolved", mutate(t, defenderAI, defenderProps(func(p map[string]any) { p["status"] = "Resolved" })), "is Resolved"},
		{"dismissed", mutate(t, defenderAI, defenderProps(func(p map[string]any) { p["status"] = "Dismissed" })), "is Dismissed"},
		{"sample", mutate(t, defenderAI, defenderProps(func(p map[string]any) {
			p["alertDisplayName"] = "[SAMPLE ALERT] Suspected wallet attack - volume anomaly"
		})), "sample alert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := adapters.ParseDefender(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Signals) != 0 || !strings.Contains(res.Ignored, tc.reason) {
				t.Errorf("signals %d, ignored %q; want ignored saying %q", len(res.Signals), res.Ignored, tc.reason)
			}
		})
	}
}

func TestParseDefenderRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  []byte
		field string
		code  string
	}{
		{"no account anywhere", mutate(t, defenderAI, defenderProps(func(p map[string]any) {
			p["resourceIdentifiers"] = []any{map[string]any{"type": "AzureResource", "azureResourceId": "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/ai-prod/providers/Microsoft.Web/sites/chat"}}
			p["entities"] = []any{}
		})), "properties.resourceIdentifiers", sever.EUNPROCESSABLE},
		{"no properties", []byte(`{"id":"x","name":"y"}`), "properties", sever.EINVALID},
		{"no alert type", mutate(t, defenderAI, defenderProps(func(p map[string]any) { delete(p, "alertType") })), "properties.alertType", sever.EINVALID},
		{"no alert id", mutate(t, defenderAI, func(m map[string]any) {
			delete(m, "name")
			delete(obj(m, "properties"), "systemAlertId")
		}), "properties.systemAlertId", sever.EINVALID},
		{"bad severity", mutate(t, defenderAI, defenderProps(func(p map[string]any) { p["severity"] = "Severe" })), "properties.severity", sever.EINVALID},
		{"bad time", mutate(t, defenderAI, defenderProps(func(p map[string]any) { p["startTimeUtc"] = "today" })), "properties.startTimeUtc", sever.EINVALID},
		{"no time", mutate(t, defenderAI, defenderProps(func(p map[string]any) {
			delete(p, "startTimeUtc")
			delete(p, "endTimeUtc")
			delete(p, "timeGeneratedUtc")
		})), "properties.startTimeUtc", sever.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adapters.ParseDefender(tc.body)
			if tc.code == sever.EUNPROCESSABLE {
				wantUnprocessable(t, err, tc.field, "")
				return
			}
			wantError(t, err, tc.field)
		})
	}
}

// TestGitHubAzureOpenAIKeyAlert: GitHub's azure_openai_key alert cannot be
// resolved to the account (Azure has no lookup from a key to its account), so it
// keeps the alert's place and says so.
func TestGitHubAzureOpenAIKeyAlert(t *testing.T) {
	body := mutate(t, "github-secret-scanning-created.json", func(m map[string]any) {
		obj(m, "alert")["secret_type"] = adapters.GitHubAzureOpenAIKeyType
		obj(m, "alert")["secret_type_display_name"] = "Azure OpenAI Key"
	})
	res, err := adapters.ParseGitHub(adapters.GitHubDelivery{Event: "secret_scanning_alert", ID: deliveryID}, body)
	if err != nil || len(res.Signals) != 1 {
		t.Fatalf("parse: %v %+v", err, res)
	}
	s := res.Signals[0]
	if s.Credential.Type != sever.CredGenericToken || !strings.Contains(s.Credential.ID, "/secret-scanning/") {
		t.Errorf("credential = %+v, want the alert's place", s.Credential)
	}
	if !strings.Contains(s.Summary, "cannot resolve an Azure OpenAI key to its account") {
		t.Errorf("summary %q does not say the key cannot be resolved", s.Summary)
	}
}

func FuzzDefender(f *testing.F) {
	seed(f, defenderAI, "defender-alert-vm-eicar.azure-rest-api-specs.json")
	f.Add([]byte(`{"properties":{"alertType":"AI.Azure_AccessAnomaly","systemAlertId":"a","startTimeUtc":"2026-01-01T00:00:00Z",` +
		`"entities":[{"type":"azure-resource","resourceId":"/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/ab/x"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := adapters.ParseDefender(body)
		checkResult(t, body, res, err)
	})
}
