package adapters_test

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

func TestParseAWSHealthExposure(t *testing.T) {
	t.Parallel()
	body := fixture(t, "aws-health-credentials-exposed.json")
	res, err := adapters.ParseAWSHealth(body)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, body, res, err)
	if res.Event != "AWS_RISK_CREDENTIALS_EXPOSED" || len(res.Signals) != 2 {
		t.Fatalf("event %q with %d signals, want AWS_RISK_CREDENTIALS_EXPOSED with 2", res.Event, len(res.Signals))
	}
	wantCred := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE",
		Principal: "ci-deployer", Account: "123456789012"}
	exposed, action := res.Signals[0], res.Signals[1]
	tests := []struct {
		name            string
		s               sever.Signal
		eventID         string
		kind            sever.SignalKind
		severity        string
		summary, noURLs string
	}{
		{"exposure first", exposed, "7bf73129-1428-4cd3-a780-95db273d1602", sever.KindCredentialExposed, "critical",
			"https://github.com/example-org/example-repo/blob/0a1b2c3d/deploy/.env", ""},
		{"then the quarantine", action, "7bf73129-1428-4cd3-a780-95db273d1602#quarantine", sever.KindVendorAction, "info",
			"AWSCompromisedKeyQuarantine", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			switch {
			case s.Source != "aws-health" || eventIDOf(s.SourceEventID) != tt.eventID:
				t.Errorf("source/event = %q/%q, want aws-health/%q", s.Source, s.SourceEventID, tt.eventID)
			case s.Origin != sever.OriginVendor || s.Kind != tt.kind:
				t.Errorf("origin/kind = %q/%q, want vendor/%q", s.Origin, s.Kind, tt.kind)
			case s.Credential != wantCred:
				t.Errorf("credential = %+v, want %+v", s.Credential, wantCred)
			case !s.ObservedAt.Equal(utc("2025-06-01T09:40:12Z")):
				t.Errorf("ObservedAt = %v, want detail.startTime", s.ObservedAt)
			case s.Severity != tt.severity:
				t.Errorf("severity = %q, want %q", s.Severity, tt.severity)
			case !strings.Contains(s.Summary, tt.summary):
				t.Errorf("summary %q lacks %q", s.Summary, tt.summary)
			}
		})
	}
	if exposed.Extra == nil || exposed.Extra.URL != "https://github.com/example-org/example-repo/blob/0a1b2c3d/deploy/.env" {
		t.Errorf("exposure meta = %+v, want the exposed URL", exposed.Extra)
	}
}

func TestParseAWSHealthVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      []byte
		wantKeys  []string
		principal string
		account   string
		observed  string
		eventIDs  []string
	}{
		{name: "AWS's own sample: key only in affectedEntities", body: fixture(t, "aws-health-aws-sample.json"),
			wantKeys: []string{"AKIAI44QH8DHBEXAMPLE"}, account: "123456789012", observed: "2016-06-05T15:10:09Z",
			eventIDs: []string{"121345678-1234-1234-1234-123456789012", "121345678-1234-1234-1234-123456789012#quarantine"}},
		{name: "no startTime: the event's time", body: mutate(t, "aws-health-credentials-exposed.json", func(m map[string]any) {
			delete(obj(m, "detail"), "startTime")
		}), wantKeys: []string{"AKIAIOSFODNN7EXAMPLE"}, principal: "ci-deployer", account: "123456789012", observed: "2025-06-01T09:41:07Z"},
		{name: "startTime in RFC 3339", body: mutate(t, "aws-health-credentials-exposed.json", func(m map[string]any) {
			obj(m, "detail")["startTime"] = "2025-06-01T09:40:00Z"
		}), wantKeys: []string{"AKIAIOSFODNN7EXAMPLE"}, principal: "ci-deployer", account: "123456789012", observed: "2025-06-01T09:40:00Z"},
		{name: "affected account over the delivering account", body: mutate(t, "aws-health-aws-sample.json", func(m map[string]any) {
			m["account"] = "999999999999" // an organization's management account
			obj(m, "detail")["affectedAccount"] = "210987654321"
		}), wantKeys: []string{"AKIAI44QH8DHBEXAMPLE"}, account: "210987654321", observed: "2016-06-05T15:10:09Z"},
		{name: "two keys in affectedEntities, each its own events", body: mutate(t, "aws-health-aws-sample.json", func(m map[string]any) {
			obj(m, "detail")["affectedEntities"] = []any{
				map[string]any{"entityValue": "AKIAI44QH8DHBEXAMPLE"},
				map[string]any{"entityValue": "not-a-key"},
				map[string]any{"entityValue": "AKIAIOSFODNN7EXAMPLE"},
				map[string]any{"entityValue": "AKIAI44QH8DHBEXAMPLE"},
			}
		}), wantKeys: []string{"AKIAI44QH8DHBEXAMPLE", "AKIAIOSFODNN7EXAMPLE"}, account: "123456789012", observed: "2016-06-05T15:10:09Z",
			eventIDs: []string{
				"121345678-1234-1234-1234-123456789012#AKIAI44QH8DHBEXAMPLE", "121345678-1234-1234-1234-123456789012#AKIAI44QH8DHBEXAMPLE#quarantine",
				"121345678-1234-1234-1234-123456789012#AKIAIOSFODNN7EXAMPLE", "121345678-1234-1234-1234-123456789012#AKIAIOSFODNN7EXAMPLE#quarantine",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseOK(t, adapters.ParseAWSHealth, tt.body)
			if len(res.Signals) != 2*len(tt.wantKeys) {
				t.Fatalf("%d signals, want 2 per key %v", len(res.Signals), tt.wantKeys)
			}
			for i, s := range res.Signals {
				c := s.Credential
				if c.ID != tt.wantKeys[i/2] || c.Principal != tt.principal || c.Account != tt.account {
					t.Errorf("signal %d credential = %+v, want key %s principal %q account %q", i, c, tt.wantKeys[i/2], tt.principal, tt.account)
				}
				if !s.ObservedAt.Equal(utc(tt.observed)) {
					t.Errorf("signal %d ObservedAt = %v, want %s", i, s.ObservedAt, tt.observed)
				}
				if tt.eventIDs != nil && eventIDOf(s.SourceEventID) != tt.eventIDs[i] {
					t.Errorf("signal %d source event id = %q, want %q", i, s.SourceEventID, tt.eventIDs[i])
				}
			}
		})
	}
}

func TestParseAWSHealthIgnored(t *testing.T) {
	t.Parallel()
	body := fixture(t, "aws-health-ec2-maintenance.json")
	res := parseOK(t, adapters.ParseAWSHealth, body)
	if len(res.Signals) != 0 || res.Event != "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED" ||
		!strings.Contains(res.Ignored, "not a credential exposure") {
		t.Errorf("result = %+v, want the maintenance event ignored with a reason", res)
	}
}

func TestParseAWSHealthRejects(t *testing.T) {
	t.Parallel()
	const f = "aws-health-credentials-exposed.json"
	detail := func(mut func(d map[string]any)) []byte {
		return mutate(t, f, func(m map[string]any) { mut(obj(m, "detail")) })
	}
	md := func(mut func(md map[string]any)) []byte {
		return detail(func(d map[string]any) { mut(d["eventMetadata"].(map[string]any)) })
	}
	tests := []rejectCase{
		{"empty body", nil, "", []string{"empty"}},
		{"malformed", []byte(`{"source": "aws.health",`), "", []string{"malformed JSON"}},
		{"an array", []byte(`[{"source":"aws.health"}]`), "", []string{"JSON object"}},
		{"trailing data", append(fixture(t, f), []byte(`{}`)...), "", []string{"after the JSON object"}},
		{"GuardDuty finding at the Health endpoint", fixture(t, "guardduty-anomalous-model-invocation.json"), "source",
			[]string{"aws.health", "/v1/signals/guardduty"}},
		{"no source", mutate(t, f, func(m map[string]any) { delete(m, "source") }), "source", nil},
		{"no id", mutate(t, f, func(m map[string]any) { delete(m, "id") }), "id", []string{"required"}},
		{"id a number", mutate(t, f, func(m map[string]any) { m["id"] = 7 }), "id", []string{"want a string"}},
		{"no time", mutate(t, f, func(m map[string]any) { delete(m, "time") }), "time", nil},
		{"bad time", mutate(t, f, func(m map[string]any) { m["time"] = "yesterday" }), "time", []string{"RFC 3339"}},
		{"no detail", mutate(t, f, func(m map[string]any) { delete(m, "detail") }), "detail", nil},
		{"detail a string", mutate(t, f, func(m map[string]any) { m["detail"] = "x" }), "detail", []string{"object"}},
		{"no eventTypeCode", detail(func(d map[string]any) { delete(d, "eventTypeCode") }), "detail.eventTypeCode", nil},
		{"eventTypeCode a number", detail(func(d map[string]any) { d["eventTypeCode"] = 1 }), "detail.eventTypeCode", []string{"want a string"}},
		{"bad startTime", detail(func(d map[string]any) { d["startTime"] = "June 1st" }), "detail.startTime", nil},
		{"affectedEntities an object", detail(func(d map[string]any) { d["affectedEntities"] = map[string]any{} }),
			"detail.affectedEntities", []string{"want an array"}},
		{"secret access key as publicKey", md(func(md map[string]any) { md["publicKey"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }),
			"detail.eventMetadata.publicKey", []string{"not an AWS access key ID"}},
		{"no key anywhere", detail(func(d map[string]any) {
			delete(d, "eventMetadata")
			d["affectedEntities"] = []any{map[string]any{"entityValue": "ci-deployer"}}
		}), "detail.eventMetadata.publicKey", []string{"names no access key"}},
		{"bad accountId", md(func(md map[string]any) { md["accountId"] = "12345" }), "detail.eventMetadata.accountId", []string{"12-digit"}},
		{"bad envelope account", mutate(t, f, func(m map[string]any) { m["account"] = "acct" }), "account", nil},
	}
	runRejects(t, adapters.ParseAWSHealth, tests)
}

func TestParseGuardDuty(t *testing.T) {
	t.Parallel()
	tests := []signalCase{
		{name: "AI protection: anomalous model invocation", body: fixture(t, "guardduty-anomalous-model-invocation.json"),
			eventID: "6ac8ba2c5e9d4f3b1d0e7f2a9c8b7e61", kind: sever.KindAbuseReport, severity: "high",
			cred:     sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAI44QH8DHBEXAMPLE", Principal: "bedrock-batch", Account: "123456789012"},
			observed: "2025-06-01T09:12:44Z"},
		{name: "instance credentials used outside AWS", body: fixture(t, "guardduty-credential-exfiltration.json"),
			eventID: "b2c4e6a8d0f1e3c5a7b9d1f3e5c7a9b1", kind: sever.KindAnomalousUsage, severity: "high",
			cred:     sever.Credential{Provider: "aws", Type: sever.CredAWSTemporaryCredentials, ID: "ASIAY34FZKBOKMUTVV7A", Principal: "arn:aws:sts::123456789012:assumed-role/app-server-role/i-0abcd1234example", Account: "123456789012"},
			observed: "2025-06-01T09:58:30Z"},
		{name: "cost harvesting, no eventFirstSeen: createdAt", body: mutate(t, "guardduty-anomalous-model-invocation.json", func(m map[string]any) {
			d := obj(m, "detail")
			d["type"] = "Impact:IAMUser/CostHarvesting"
			d["severity"] = 9.2
			delete(obj(d, "service"), "eventFirstSeen")
		}), eventID: "6ac8ba2c5e9d4f3b1d0e7f2a9c8b7e61", kind: sever.KindAbuseReport, severity: "critical",
			cred:     sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAI44QH8DHBEXAMPLE", Principal: "bedrock-batch", Account: "123456789012"},
			observed: "2025-06-01T09:35:10.118Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, s := parseOne(t, adapters.ParseGuardDuty, tt.body)
			want := wantSignal{"guardduty", tt.eventID, sever.OriginVendor, tt.kind, tt.severity, tt.cred, tt.observed}
			if want.check(t, s) && !strings.Contains(s.Summary, res.Event) {
				t.Errorf("summary %q lacks the finding type %q", s.Summary, res.Event)
			}
		})
	}
}

func TestGuardDutySeverityBands(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		severity any
		want     string // "" means an error naming detail.severity
	}{
		{0.1, "low"}, {3.9, "low"}, {4, "medium"}, {6.9, "medium"}, {7, "high"}, {8.9, "high"}, {9, "critical"}, {10, "critical"},
		{0, ""}, {-1, ""}, {10.5, ""}, {"eight", ""}, {nil, ""}, {true, ""},
		{"8", ""},
	} {
		body := mutate(t, "guardduty-anomalous-model-invocation.json", func(m map[string]any) { obj(m, "detail")["severity"] = tt.severity })
		res, err := adapters.ParseGuardDuty(body)
		checkResult(t, body, res, err)
		if tt.want == "" {
			wantError(t, err, "detail.severity")
			continue
		}
		if err != nil || res.Signals[0].Severity != tt.want {
			t.Errorf("severity %v: got %+v, %v; want %s", tt.severity, res.Signals, err, tt.want)
		}
	}
}

func TestParseGuardDutyIgnored(t *testing.T) {
	t.Parallel()
	const f = "guardduty-anomalous-model-invocation.json"
	tests := []ignoreCase{
		{"sample finding", fixture(t, "guardduty-sample.json"), "sample finding"},
		{"sample flag set directly", mutate(t, f, func(m map[string]any) {
			obj(m, "detail", "service")["additionalInfo"] = map[string]any{"sample": true}
		}), "sample finding"},
		{"EC2 finding", fixture(t, "guardduty-ec2-port-probe.json"), "about EC2"},
		{"archived", mutate(t, f, func(m map[string]any) { obj(m, "detail", "service")["archived"] = true }), "archived"},
		{"policy finding", mutate(t, f, func(m map[string]any) { obj(m, "detail")["type"] = "Policy:IAMUser/RootCredentialUsage" }), "policy hygiene"},
		{"no accessKeyDetails", mutate(t, f, func(m map[string]any) { delete(obj(m, "detail", "resource"), "accessKeyDetails") }), "names no access key"},
		{"type without a resource part", mutate(t, f, func(m map[string]any) { obj(m, "detail")["type"] = "Weird" }), "unknown resource"},
	}
	runIgnored(t, adapters.ParseGuardDuty, tests)
}

func TestParseGuardDutyRejects(t *testing.T) {
	t.Parallel()
	const f = "guardduty-anomalous-model-invocation.json"
	detail := func(mut func(d map[string]any)) []byte {
		return mutate(t, f, func(m map[string]any) { mut(obj(m, "detail")) })
	}
	tests := []rejectCase{
		{"Health event at the GuardDuty endpoint", fixture(t, "aws-health-credentials-exposed.json"), "source", []string{"/v1/signals/aws-health"}},
		{"no finding id", detail(func(d map[string]any) { delete(d, "id") }), "detail.id", nil},
		{"no type", detail(func(d map[string]any) { delete(d, "type") }), "detail.type", nil},
		{"resource a list", detail(func(d map[string]any) { d["resource"] = []any{} }), "detail.resource", []string{"want an object"}},
		{"bad access key id", detail(func(d map[string]any) { obj(d, "resource", "accessKeyDetails")["accessKeyId"] = "akia-lowercase" }),
			"detail.resource.accessKeyDetails.accessKeyId", nil},
		{"bad eventFirstSeen", detail(func(d map[string]any) { obj(d, "service")["eventFirstSeen"] = "soon" }), "detail.service.eventFirstSeen", nil},
		{"bad accountId", detail(func(d map[string]any) { d["accountId"] = "x" }), "detail.accountId", nil},
	}
	runRejects(t, adapters.ParseGuardDuty, tests)
}
