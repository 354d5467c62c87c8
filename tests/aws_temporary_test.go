package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
)

// GuardDuty reports an EC2 instance's role credentials used from outside AWS (an
// ASIA… key, the commonest real exfiltration finding). The key cannot be
// deactivated: the incident runs the temporary-credentials runbook, which finds the
// role behind the session and revokes the role's sessions issued before now with the
// console's AWSRevokeOlderSessions policy, read back; the attacker's next call with
// the stolen session is refused by the drill cloud.
func TestAWSTemporaryCredentialsContainedWhileAttackerRuns(t *testing.T) {
	s := startAWSStack(t)
	key, acct, role, instance := drillcloud.DefaultInstanceSessionID, drillcloud.DefaultAccountID,
		drillcloud.DefaultInstanceRole, drillcloud.DefaultInstanceID
	attacker := startAttacker(t, s.Cloud, drillcloud.AttackerConfig{KeyID: key,
		Rate: 20, Operations: []string{"s3:ListBuckets"}, KeepTrying: true})

	finding := fixture(t, "guardduty-credential-exfiltration.json",
		"ASIAY34FZKBOKMUTVV7A", key, "123456789012", acct, "app-server-role", role, "i-0abcd1234example", instance)
	resp := s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/signals/guardduty", body: finding})
	if resp.status != http.StatusAccepted {
		t.Fatalf("POST /v1/signals/guardduty: %d %s", resp.status, resp.body)
	}
	res := decode[struct {
		Signals []struct {
			IncidentID string `json:"incident_id"`
		} `json:"signals"`
	}](t, "guardduty answer", resp)
	if len(res.Signals) != 1 {
		t.Fatalf("guardduty answered %s; want one signal", resp.body)
	}
	id := res.Signals[0].IncidentID
	inc := s.api.waitContained(t, id)
	contained := time.Now()
	if inc.Credential.Type != "aws_temporary_credentials" || !strings.HasPrefix(inc.Runbook.Name, "aws-temporary-credentials") {
		t.Errorf("incident for %s under runbook %s; want aws_temporary_credentials and its runbook", inc.Credential.Type, inc.Runbook.Name)
	}
	revoked := false
	for _, st := range inc.Steps {
		if st.Action == "aws.iam.revoke_role_sessions" {
			revoked = st.Status == "succeeded" && st.Enforcement == "enterprise_enforced" && st.Verified
		}
	}
	if !revoked {
		t.Errorf("no verified enterprise-enforced aws.iam.revoke_role_sessions step: %s", stepStates(inc))
	}
	if doc, ok := s.Cloud.RolePolicy(role, "AWSRevokeOlderSessions"); !ok || !strings.Contains(doc, "aws:TokenIssueTime") {
		t.Errorf("role %s: AWSRevokeOlderSessions = %q (present %v)", role, doc, ok)
	}
	// Evidence of the instance runs beside containment: wait for it, then check the
	// snapshot of the instance's volume is tagged with this incident.
	inc = s.api.waitIncident(t, id, "instance evidence", func(i incidentJSON) bool {
		st := i.step("instance-evidence").Status
		return st == "succeeded" || st == "failed" || st == "skipped"
	})
	if st := inc.step("instance-evidence"); st.Status != "succeeded" || !st.Verified || st.Action != "aws.ec2.instance_evidence" {
		t.Errorf("instance-evidence step = %+v; want verified success", st)
	}
	snapped := false
	for _, sn := range s.Cloud.Snapshots() {
		snapped = snapped || (sn.VolumeID == drillcloud.DefaultVolumeID && sn.Tags["sever:incident"] == id)
	}
	if !snapped {
		t.Errorf("no snapshot of %s tagged with incident %s: %+v", drillcloud.DefaultVolumeID, id, s.Cloud.Snapshots())
	}
	requireRefusedAfter(t, attacker, contained, "attacker calls with the stolen session")
}
