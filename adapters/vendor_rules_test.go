package adapters_test

import (
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

// AWS Health writes startTime as RFC 1123, and its own mock events unpad the day.
func TestAWSHealthStartTimeLayouts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Sun, 01 Jun 2025 09:40:12 GMT", "2025-06-01T09:40:12Z"},
		{"Sun, 1 Jun 2025 09:40:12 GMT", "2025-06-01T09:40:12Z"},
		{"Tue, 7 Feb 2017 00:55:52 GMT", "2017-02-07T00:55:52Z"},
		{"Sun, 1 Jun 2025 11:40:12 +0200", "2025-06-01T09:40:12Z"},
		{"Sun, 01 Jun 2025 11:40:12 +0200", "2025-06-01T09:40:12Z"},
		{"2025-06-01T09:40:12Z", "2025-06-01T09:40:12Z"},
		{"2025-06-01T11:40:12.5+02:00", "2025-06-01T09:40:12.5Z"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			body := mutate(t, "aws-health-credentials-exposed.json", func(m map[string]any) {
				obj(m, "detail")["startTime"] = tc.in
			})
			res := parseOK(t, adapters.ParseAWSHealth, body)
			if got := res.Signals[0].ObservedAt; !got.Equal(utc(tc.want)) {
				t.Errorf("observed %v, want %s", got, tc.want)
			}
		})
	}
	body := mutate(t, "aws-health-credentials-exposed.json", func(m map[string]any) {
		obj(m, "detail")["startTime"] = "yesterday"
	})
	_, err := adapters.ParseAWSHealth(body)
	wantError(t, err, "detail.startTime", "RFC 1123")
}

// The five AWS risk codes AWS's own automation acts on.
func TestAWSHealthRiskCodes(t *testing.T) {
	for _, tc := range []struct {
		code     string
		kinds    []sever.SignalKind
		severity string
	}{
		{"AWS_RISK_CREDENTIALS_EXPOSED", []sever.SignalKind{sever.KindCredentialExposed, sever.KindVendorAction}, "critical"},
		{"AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED", []sever.SignalKind{sever.KindCredentialExposed}, "high"},
		{"AWS_RISK_CREDENTIALS_COMPROMISED", []sever.SignalKind{sever.KindAbuseReport}, "critical"},
		{"AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED", []sever.SignalKind{sever.KindAbuseReport}, "high"},
		{"AWS_RISK_IAM_QUARANTINE", []sever.SignalKind{sever.KindVendorAction}, "info"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			body := mutate(t, "aws-health-credentials-exposed.json", func(m map[string]any) {
				obj(m, "detail")["eventTypeCode"] = tc.code
			})
			res := parseOK(t, adapters.ParseAWSHealth, body)
			if res.Event != tc.code || len(res.Signals) != len(tc.kinds) {
				t.Fatalf("event %q, %d signals (ignored %q); want %s with %v", res.Event, len(res.Signals), res.Ignored, tc.code, tc.kinds)
			}
			for i, k := range tc.kinds {
				s := res.Signals[i]
				if s.Kind != k || s.Origin != sever.OriginVendor || s.Credential.ID != "AKIAIOSFODNN7EXAMPLE" ||
					s.Credential.Principal != "ci-deployer" || s.Credential.Type != sever.CredAWSAccessKey {
					t.Errorf("signal %d = %+v, want %s for AKIAIOSFODNN7EXAMPLE of ci-deployer", i, s, k)
				}
			}
			if res.Signals[0].Severity != tc.severity {
				t.Errorf("severity %q, want %q", res.Signals[0].Severity, tc.severity)
			}
		})
	}
}

// GuardDuty finding types whose meaning is not read off the purpose alone.
func TestGuardDutyFindingKinds(t *testing.T) {
	for _, tc := range []struct {
		typ      string
		severity float64
		kind     sever.SignalKind
		sev      string
		label    string
	}{
		{"AttackSequence:IAM/CompromisedCredentials", 9, sever.KindAbuseReport, "critical", ""},
		{"Impact:IAMUser/PromptInjection.Direct", 5, sever.KindAnomalousUsage, "medium", "model-invocation"},
		{"Impact:IAMUser/PromptInjection.Indirect", 5, sever.KindAnomalousUsage, "medium", "model-invocation"},
		{"Impact:IAMUser/AnomalousModelInvocation", 5, sever.KindAbuseReport, "medium", ""},
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", 8, sever.KindAnomalousUsage, "high", ""},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			body := mutate(t, "guardduty-credential-exfiltration.json", func(m map[string]any) {
				d := obj(m, "detail")
				d["type"], d["severity"] = tc.typ, tc.severity
			})
			res := parseOK(t, adapters.ParseGuardDuty, body)
			if len(res.Signals) != 1 {
				t.Fatalf("ignored: %s", res.Ignored)
			}
			s := res.Signals[0]
			if s.Kind != tc.kind || s.Severity != tc.sev || s.Credential.ID != "ASIAY34FZKBOKMUTVV7A" {
				t.Errorf("got %s/%s on %s, want %s/%s on ASIAY34FZKBOKMUTVV7A", s.Kind, s.Severity, s.Credential.ID, tc.kind, tc.sev)
			}
			if tc.label != "" && !contains(s.Labels, tc.label) {
				t.Errorf("labels %v lack %q", s.Labels, tc.label)
			}
		})
	}
	// Attack sequences about other resources stay ignored.
	body := mutate(t, "guardduty-credential-exfiltration.json", func(m map[string]any) {
		obj(m, "detail")["type"] = "AttackSequence:S3/CompromisedData"
	})
	res, err := adapters.ParseGuardDuty(body)
	if err != nil || res.Ignored == "" {
		t.Errorf("AttackSequence:S3/CompromisedData: %+v, %v; want ignored", res, err)
	}
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// OCSF time: milliseconds or seconds, told apart by magnitude; time_dt wins.
func TestOCSFTime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		time   any // nil: absent
		timeDT string
		want   string
	}{
		{"milliseconds", 1748770620000, "", "2025-06-01T09:37:00Z"},
		{"seconds", 1748770620, "", "2025-06-01T09:37:00Z"},
		{"time_dt preferred", 1748770620000, "2025-06-01T11:00:00+02:00", "2025-06-01T09:00:00Z"},
		{"time_dt over seconds", 1723564700, "2024-08-13T15:58:20.000Z", "2024-08-13T15:58:20Z"},
		{"time_dt without zone falls back to time", 1728049742, "2024-10-04T09:49:02.698985", "2024-10-04T13:49:02Z"},
		{"time_dt alone", nil, "2025-06-01T09:00:00Z", "2025-06-01T09:00:00Z"},
		{"time_dt alone without zone is UTC", nil, "2024-10-04T09:49:02.698985", "2024-10-04T09:49:02.698985Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mutate(t, "ocsf-detection-finding-aws-key.json", func(m map[string]any) {
				delete(m, "time")
				if tc.time != nil {
					m["time"] = tc.time
				}
				if tc.timeDT != "" {
					m["time_dt"] = tc.timeDT
				}
			})
			res := parseOK(t, adapters.ParseOCSF, body)
			if got := res.Signals[0].ObservedAt; !got.Equal(utc(tc.want)) {
				t.Errorf("observed %v, want %s", got, tc.want)
			}
		})
	}
	for _, bad := range []any{12345, 99999999999999, "1748770620"} {
		body := mutate(t, "ocsf-detection-finding-aws-key.json", func(m map[string]any) { m["time"] = bad })
		_, err := adapters.ParseOCSF(body)
		wantError(t, err, "time")
	}
}

// A finding that names no credential is ignored before its other fields are read.
func TestOCSFNoCredentialFirst(t *testing.T) {
	body := mutate(t, "ocsf-detection-finding-aws-key.json", func(m map[string]any) {
		delete(m, "resources")
		delete(m, "actor")
		m["time"] = 12345
		m["severity_id"] = 42
	})
	res, err := adapters.ParseOCSF(body)
	if err != nil || res.Ignored == "" {
		t.Fatalf("got %+v, %v; want ignored (names no credential)", res, err)
	}
}

// Security Hub writes metadata.product.vendor_name "Amazon"; all AWS spellings are
// the vendor.
func TestOCSFAWSVendorNames(t *testing.T) {
	for _, vendor := range []string{"Amazon", "AWS", "Amazon Web Services", "amazon", "Example Corp"} {
		t.Run(vendor, func(t *testing.T) {
			body := mutate(t, "ocsf-detection-finding-aws-key.json", func(m map[string]any) {
				obj(m, "metadata", "product")["vendor_name"] = vendor
			})
			res, err := adapters.ParseOCSF(body)
			if err != nil {
				t.Fatal(err)
			}
			want := sever.OriginVendor
			if vendor == "Example Corp" {
				want = sever.OriginEnterprise
			}
			if got := res.Signals[0].Origin; got != want {
				t.Errorf("origin %s, want %s", got, want)
			}
		})
	}
}

// A GitHub alert that carries no time is observed at its delivery; created_at,
// then updated_at, are used when present.
func TestGitHubAlertTimes(t *testing.T) {
	received := utc("2025-06-01T12:00:00Z")
	for _, tc := range []struct {
		name, action, created, updated, want string
	}{
		{"reopened without times", "reopened", "", "", "2025-06-01T12:00:00Z"},
		{"reopened with updated_at", "reopened", "", "2025-05-01T10:00:00Z", "2025-05-01T10:00:00Z"},
		{"created without created_at", "created", "", "2025-05-01T10:00:00Z", "2025-05-01T10:00:00Z"},
		{"created", "created", "2025-05-01T09:00:00Z", "2025-05-01T10:00:00Z", "2025-05-01T09:00:00Z"},
		{"publicly_leaked without times", "publicly_leaked", "", "", "2025-06-01T12:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mutate(t, "github-secret-scanning-created.json", func(m map[string]any) {
				m["action"] = tc.action
				a := obj(m, "alert")
				delete(a, "created_at")
				delete(a, "updated_at")
				if tc.created != "" {
					a["created_at"] = tc.created
				}
				if tc.updated != "" {
					a["updated_at"] = tc.updated
				}
			})
			d := adapters.GitHubDelivery{Event: adapters.GitHubEventSecretScanning, ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", ReceivedAt: received}
			res, err := adapters.ParseGitHub(d, body)
			checkResult(t, body, res, err)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Signals[0].ObservedAt; !got.Equal(utc(tc.want)) {
				t.Errorf("observed %v, want %s", got, tc.want)
			}
			// The delivery time is never in the dedup key: a redelivery later is a duplicate.
			d.ReceivedAt = received.Add(time.Hour)
			again, err := adapters.ParseGitHub(d, body)
			if err != nil || again.Signals[0].SourceEventID != res.Signals[0].SourceEventID {
				t.Errorf("redelivery changed the source event id: %v, %v", again, err)
			}
		})
	}
	// Without a time in the alert or a delivery time, there is nothing to observe at.
	body := mutate(t, "github-secret-scanning-created.json", func(m map[string]any) {
		a := obj(m, "alert")
		delete(a, "created_at")
		delete(a, "updated_at")
	})
	_, err := adapters.ParseGitHub(adapters.GitHubDelivery{Event: adapters.GitHubEventSecretScanning, ID: "x-1"}, body)
	wantError(t, err, "alert.created_at")
}
