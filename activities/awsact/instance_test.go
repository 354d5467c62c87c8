package awsact

import (
	"fmt"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// TestInstanceEvidence snapshots the volumes of the instance behind stolen instance
// credentials and records its instance profile; a retry takes no second snapshot.
func TestInstanceEvidence(t *testing.T) {
	wantProfile := "arn:aws:iam::" + account + ":instance-profile/" + drillcloud.DefaultInstanceProfile
	tests := []struct {
		name      string
		principal string
		args      sever.Values
		wantErr   string
	}{
		{name: "instance named by the signal's session ARN", principal: instanceSessionARN},
		{name: "instance_id agrees with the session", principal: instanceSessionARN, args: sever.Values{"instance_id": instanceID}},
		{name: "instance_id contradicts the session", principal: instanceSessionARN, args: sever.Values{"instance_id": "i-0000000000000dead"}, wantErr: ErrIdentityMismatch},
		{name: "session not named after an instance", principal: "arn:aws:sts::" + account + ":assumed-role/" + instanceRole + "/laptop", wantErr: "NotFound"},
		{name: "unknown instance", principal: "arn:aws:sts::" + account + ":assumed-role/" + instanceRole + "/i-0000000000000dead", wantErr: "NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDrill(t)
			in := sessionInput(sever.ActionAWSInstanceEvidence, tc.principal, tc.args)
			res, err := d.exec(in)
			if tc.wantErr != "" {
				wantPermanent(t, err, tc.wantErr, "")
				if n := len(d.cloud.Snapshots()); n != 0 {
					t.Fatalf("%d snapshots taken by a refused step", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			snaps := d.cloud.Snapshots()
			if !res.Verified || !res.Changed || len(snaps) != 1 || len(res.Evidence) != 1 {
				t.Fatalf("result = %+v; drill snapshots %+v", res, snaps)
			}
			s := snaps[0]
			if s.VolumeID != drillcloud.DefaultVolumeID || s.Tags[tagIdempotencyKey] != in.IdempotencyKey || s.Tags[tagIncident] != in.IncidentID {
				t.Errorf("snapshot = %+v", s)
			}
			out := res.Output
			if out["instance_id"] != instanceID || out["instance_profile_arn"] != wantProfile || out["role"] != instanceRole {
				t.Errorf("output = %v", out)
			}
			// The output has been through JSON, as it is in history.
			if got := fmt.Sprint(out["snapshots"]); got != "["+s.ID+"]" {
				t.Errorf("output snapshots = %v, want [%s]", out["snapshots"], s.ID)
			}
			again := d.mustExec(in)
			if again.Changed || len(d.cloud.Snapshots()) != 1 {
				t.Fatalf("retry = %+v; want the first snapshot found, not a second", again)
			}
		})
	}
}
