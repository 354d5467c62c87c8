package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/ledger"
)

// fixture reads an adapter fixture and points it at the drill cloud's stolen key.
func fixture(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "adapters", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(b)))
}

func postAdapter(t *testing.T, s *stack, path string, body []byte) map[string]any {
	t.Helper()
	resp := s.api.mustSend(t, req{method: http.MethodPost, path: path, body: body})
	if resp.status != http.StatusAccepted {
		t.Fatalf("POST %s: %d %s", path, resp.status, resp.body)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// AWS tells us a key is exposed and quarantines its user; GuardDuty reports the
// same key two seconds later. One incident records both vendor signals
// (vendor_notified), observes the quarantine (vendor_enforced), and still runs and
// verifies the enterprise's own containment.
func TestAWSHealthThenGuardDutyOneIncident(t *testing.T) {
	s := startAWSStack(t)
	key, acct, user := drillcloud.DefaultCompromisedKeyID, drillcloud.DefaultAccountID, drillcloud.DefaultCompromisedUser
	// AWS attaches its quarantine policy when it tells us.
	if err := s.Cloud.VendorAttachPolicy(user, drillcloud.QuarantinePolicyV3ARN); err != nil {
		t.Fatal(err)
	}
	health := fixture(t, "aws-health-credentials-exposed.json", "AKIAIOSFODNN7EXAMPLE", key, "123456789012", acct)
	res := postAdapter(t, s, "/v1/signals/aws-health", health)
	sigs, _ := res["signals"].([]any)
	if len(sigs) != 2 {
		t.Fatalf("aws-health answered %v; want two signals (exposure and the quarantine)", res)
	}
	id := sigs[0].(map[string]any)["incident_id"].(string)

	// GuardDuty reports later: after the incident has taken AWS Health's signals, so
	// its signal must join a running incident rather than arrive with the first.
	s.api.waitIncident(t, id, "AWS Health's two signals recorded", func(i incidentJSON) bool { return len(i.Signals) == 2 })
	gd := fixture(t, "guardduty-anomalous-model-invocation.json", "AKIAI44QH8DHBEXAMPLE", key, "123456789012", acct,
		"bedrock-batch", user)
	res = postAdapter(t, s, "/v1/signals/guardduty", gd)
	gsigs, _ := res["signals"].([]any)
	if len(gsigs) != 1 || gsigs[0].(map[string]any)["incident_id"] != id {
		t.Fatalf("guardduty answered %v; want its signal in incident %s", res, id)
	}

	inc := s.api.waitIncident(t, id, "containment with three signals", func(i incidentJSON) bool {
		return i.Status != "open" && len(i.Signals) == 3
	})
	if inc.Status != "contained" {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
	if st := inc.step("vendor-quarantine"); st.Enforcement != "vendor_enforced" || !st.Verified {
		t.Errorf("vendor-quarantine = %+v", st)
	}
	if st := inc.step("deactivate"); st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Errorf("deactivate = %+v", st)
	}

	l, err := ledger.Open(filepath.Join(s.Config.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var classes []string
	waitFor(t, "the ledger", func() error {
		entries, err := l.Entries(context.Background(), id)
		if err != nil {
			return err
		}
		classes = classes[:0]
		contained, signals := false, 0
		for _, e := range entries {
			if e.Enforcement != "" {
				classes = append(classes, string(e.Kind)+":"+string(e.Enforcement))
			}
			contained = contained || e.Detail["status"] == "contained"
			if e.Kind == "signal" {
				signals++
			}
		}
		if !contained || signals != 3 {
			return errNotYet
		}
		return nil
	})
	got := strings.Join(classes, " ")
	for _, want := range []string{"signal:vendor_notified", "step_outcome:vendor_enforced", "step_outcome:enterprise_enforced"} {
		if !strings.Contains(got, want) {
			t.Errorf("ledger lacks %s: %s", want, got)
		}
	}
	// The vendor's word comes first, the enterprise's own controls after it.
	if strings.Index(got, "signal:vendor_notified") > strings.Index(got, "step_outcome:enterprise_enforced") {
		t.Errorf("ledger order: %s", got)
	}
}
