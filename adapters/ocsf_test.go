package adapters_test

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

func TestParseOCSF(t *testing.T) {
	t.Parallel()
	const awsKey = "ocsf-detection-finding-aws-key.json"
	aws := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE", Principal: "ci-deployer", Account: "123456789012"}
	tests := []struct {
		name     string
		body     []byte
		eventID  string
		origin   sever.Origin
		kind     sever.SignalKind
		severity string
		cred     sever.Credential
		from     string
		observed string
	}{
		{name: "SIEM rule, key as a resource", body: fixture(t, awsKey), eventID: "det-2025-06-01-000173",
			origin: sever.OriginEnterprise, kind: sever.KindAnomalousUsage, severity: "high", cred: aws, from: "resources[0].uid",
			observed: "2025-06-01T09:37:00Z"},
		{name: "explicit credential in unmapped.sever", body: fixture(t, "ocsf-detection-finding-anthropic-key.json"), eventID: "aigw-7731",
			origin: sever.OriginEnterprise, kind: sever.KindAbuseReport, severity: "critical",
			cred: sever.Credential{Provider: "anthropic", Type: sever.CredAnthropicAPIKey, ID: "apikey_01Rj2N8SVvo6BePZj99NhEXA",
				Principal: "svc-support-bot", Account: "org-example"},
			from: "unmapped.sever.credential", observed: "2025-06-01T10:00:00Z"},
		{name: "Security Hub: resource type AwsIamAccessKey with a prefixed uid, vendor AWS", body: mutate(t, awsKey, func(m map[string]any) {
			r := m["resources"].([]any)[0].(map[string]any)
			r["type"], r["uid"] = "AwsIamAccessKey", "AWS::IAM::AccessKey:AKIAIOSFODNN7EXAMPLE"
			obj(m, "metadata", "product")["vendor_name"] = "AWS"
			obj(m, "metadata", "product")["name"] = "GuardDuty"
			m["severity_id"] = 3
		}), eventID: "det-2025-06-01-000173", origin: sever.OriginVendor, kind: sever.KindAnomalousUsage, severity: "medium",
			cred: aws, from: "resources[0].uid", observed: "2025-06-01T09:37:00Z"},
		{name: "only actor.user.credential_uid", body: mutate(t, awsKey, func(m map[string]any) {
			delete(m, "resources")
		}), eventID: "det-2025-06-01-000173", origin: sever.OriginEnterprise, kind: sever.KindAnomalousUsage, severity: "high",
			cred: aws, from: "actor.user.credential_uid", observed: "2025-06-01T09:37:00Z"},
		{name: "time_dt, origin and kind from unmapped.sever", body: mutate(t, awsKey, func(m map[string]any) {
			delete(m, "time")
			m["time_dt"] = "2025-06-01T09:37:00.5Z"
			m["severity_id"] = 99
			m["unmapped"] = map[string]any{"sever": map[string]any{"origin": "vendor", "kind": "credential_exposed"}}
		}), eventID: "det-2025-06-01-000173", origin: sever.OriginVendor, kind: sever.KindCredentialExposed, severity: "",
			cred: aws, from: "resources[0].uid", observed: "2025-06-01T09:37:00.5Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := parseOne(t, adapters.ParseOCSF, tt.body)
			want := wantSignal{"ocsf", tt.eventID, tt.origin, tt.kind, tt.severity, tt.cred, tt.observed}
			if want.check(t, s) && !strings.Contains(s.Summary, "credential from "+tt.from) {
				t.Errorf("summary %q does not say the credential came from %s", s.Summary, tt.from)
			}
		})
	}
}

func TestParseOCSFIgnored(t *testing.T) {
	t.Parallel()
	const f = "ocsf-detection-finding-aws-key.json"
	tests := []ignoreCase{
		{"incident finding", mutate(t, f, func(m map[string]any) { m["class_uid"] = 2005 }), "not a Detection Finding"},
		{"closed", mutate(t, f, func(m map[string]any) { m["activity_id"] = 3 }), "closed"},
		{"resolved", mutate(t, f, func(m map[string]any) { m["status_id"] = 4 }), "status_id 4"},
		{"suppressed", mutate(t, f, func(m map[string]any) { m["status_id"] = 3 }), "status_id 3"},
		{"no credential", mutate(t, f, func(m map[string]any) {
			delete(m, "resources")
			obj(m, "actor", "user")["credential_uid"] = "not-a-key"
		}), "names no credential"},
	}
	runIgnored(t, adapters.ParseOCSF, tests)
}

func TestParseOCSFRejects(t *testing.T) {
	t.Parallel()
	const f = "ocsf-detection-finding-aws-key.json"
	sv := func(mut func(c map[string]any)) []byte {
		return mutate(t, "ocsf-detection-finding-anthropic-key.json", func(m map[string]any) { mut(obj(m, "unmapped", "sever")) })
	}
	tests := []rejectCase{
		{"no class_uid", mutate(t, f, func(m map[string]any) { delete(m, "class_uid") }), "class_uid", []string{"required"}},
		{"class_uid a string", mutate(t, f, func(m map[string]any) { m["class_uid"] = "2004" }), "class_uid", []string{"want a number"}},
		{"class_uid fractional", mutate(t, f, func(m map[string]any) { m["class_uid"] = 2004.5 }), "class_uid", nil},
		{"no finding_info", mutate(t, f, func(m map[string]any) { delete(m, "finding_info") }), "finding_info", []string{"required"}},
		{"finding_info a list", mutate(t, f, func(m map[string]any) { m["finding_info"] = []any{} }), "finding_info", []string{"want an object"}},
		{"no finding_info.uid", mutate(t, f, func(m map[string]any) { delete(obj(m, "finding_info"), "uid") }), "finding_info.uid", nil},
		{"no time", mutate(t, f, func(m map[string]any) { delete(m, "time") }), "time", []string{"required"}},
		{"time neither seconds nor milliseconds", mutate(t, f, func(m map[string]any) { m["time"] = 17487706200 }), "time", []string{"milliseconds"}},
		{"bad severity_id", mutate(t, f, func(m map[string]any) { m["severity_id"] = 7 }), "severity_id", nil},
		{"bad resource uid", mutate(t, f, func(m map[string]any) {
			m["resources"].([]any)[0].(map[string]any)["uid"] = "ci-deployer"
		}), "resources[0].uid", []string{"not an AWS access key ID"}},
		{"unmapped.sever a string", mutate(t, f, func(m map[string]any) { m["unmapped"] = map[string]any{"sever": "x"} }),
			"unmapped.sever", []string{"want an object"}},
		{"unknown kind", sv(func(s map[string]any) { s["kind"] = "rumour" }), "unmapped.sever.kind", nil},
		{"unknown origin", sv(func(s map[string]any) { s["origin"] = "partner" }), "unmapped.sever.origin", nil},
		{"unknown credential type", sv(func(s map[string]any) { obj(s, "credential")["type"] = "ssh_key" }),
			"unmapped.sever.credential.type", []string{"anthropic_api_key"}},
		{"no credential provider", sv(func(s map[string]any) { delete(obj(s, "credential"), "provider") }), "unmapped.sever.credential.provider", nil},
		{"no credential id", sv(func(s map[string]any) { delete(obj(s, "credential"), "id") }), "unmapped.sever.credential.id", nil},
		{"credential id a number", sv(func(s map[string]any) { obj(s, "credential")["id"] = 7 }), "unmapped.sever.credential.id", []string{"want a string"}},
		{"aws credential that is no key id", sv(func(s map[string]any) {
			c := obj(s, "credential")
			c["provider"], c["type"], c["id"] = "aws", "aws_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		}), "unmapped.sever.credential.id", nil},
	}
	runRejects(t, adapters.ParseOCSF, tests)
}
