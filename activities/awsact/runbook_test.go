package awsact

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/internal/acttest"
	"github.com/sever-ir/sever/drillcloud"
)

// The built-in AWS runbook's steps, run in order with their exact arguments against the
// drill cloud the way the interpreter calls them (action, then its verify), contain the
// key: every argument the YAML passes is one the action accepts.
func TestBuiltinRunbookAgainstDrillCloud(t *testing.T) {
	lib, _ := acttest.Builtin(t)
	rb, err := lib.Select(sever.CredAWSAccessKey, sever.KindCredentialExposed)
	if err != nil {
		t.Fatal(err)
	}
	d := newDrill(t, withInventory(invCI), withSeed(func(s *drillcloud.Seed) {
		u := user(s, exposedUser)
		u.AttachedPolicies = append(u.AttachedPolicies, drillcloud.QuarantinePolicyV2ARN)
	}))
	d.acts.EvidenceBucket = drillcloud.DefaultEvidenceBucket
	useExposedKey(t, d, 2)
	results := map[string]sever.ActionResult{}
	for _, st := range rb.Steps {
		if !strings.HasPrefix(st.Action, "aws.") {
			continue
		}
		in := input(st.Action, st.Args)
		in.StepID, in.IdempotencyKey = st.ID, "inc-aws-test/1/"+st.ID
		res, err := d.exec(in)
		if err != nil {
			t.Fatalf("step %s: %v", st.ID, err)
		}
		if st.Verify != nil {
			vin := in
			vin.Action, vin.Args = st.Verify.Action, st.Verify.Args
			vres, err := d.exec(vin)
			if err != nil {
				t.Fatalf("step %s verify: %v", st.ID, err)
			}
			res.Verified = vres.Verified
		}
		if st.Containment && !res.Verified {
			t.Errorf("containment step %s not verified: %+v", st.ID, res)
		}
		results[st.ID] = res
	}
	if k, _ := d.cloud.Key(exposedKey); k.Status != "Inactive" {
		t.Errorf("key is %s after the runbook", k.Status)
	}
	if r := results["vendor-quarantine"]; r.Enforcement != sever.VendorEnforced {
		t.Errorf("vendor-quarantine = %+v", r)
	}
	if r := results["deactivate"]; r.Enforcement != sever.EnterpriseEnforced || !r.Changed {
		t.Errorf("deactivate = %+v", r)
	}
	// The quarantine policy was observed, not removed.
	if got := d.cloud.AttachedPolicies(exposedUser); len(got) != 1 {
		t.Errorf("attached policies = %v", got)
	}
}
