package awsact

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// InstanceArgs are the arguments of aws.ec2.instance_evidence.
type InstanceArgs struct {
	// InstanceID, when set, must be the instance the session is named after; the
	// session (CloudTrail, else the signal's assumed-role ARN) names it otherwise.
	InstanceID string   `json:"instance_id"`
	Region     string   `json:"region"`
	Account    string   `json:"account"`
	Regions    []string `json:"regions"`  // where to read CloudTrail for the session
	Lookback   string   `json:"lookback"` // Go duration; default 48h
}

// instanceVolume is one attached volume and its snapshot, as recorded in evidence.
type instanceVolume struct {
	VolumeID   string `json:"volume_id"`
	Device     string `json:"device,omitempty"`
	SnapshotID string `json:"snapshot_id"`
	State      string `json:"state"`
}

// instanceRecord is what instance_evidence hashes.
type instanceRecord struct {
	InstanceID         string           `json:"instance_id"`
	Account            string           `json:"account"`
	Region             string           `json:"region"`
	Role               string           `json:"role"`
	InstanceProfileARN string           `json:"instance_profile_arn,omitempty"`
	InstanceProfileID  string           `json:"instance_profile_id,omitempty"`
	Volumes            []instanceVolume `json:"volumes"`
	IdempotencyKey     string           `json:"idempotency_key"`
}

// InstanceEvidence records the EC2 instance whose metadata-service credentials a
// temporary key is (EC2 names the role session after the instance): its instance
// profile and attached volumes, and snapshots each volume. It contains nothing; every
// snapshot carries the step's idempotency key, so a retry takes none twice. Verified
// means the instance was read and EBS reports every snapshot completed.
func (a *Activities) InstanceEvidence(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args InstanceArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if in.IdempotencyKey == "" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action+": no idempotency key to tag the snapshots with", nil)
	}
	t, err := a.findSession(ctx, in, SessionArgs{Account: args.Account, Regions: args.Regions, Lookback: args.Lookback})
	if err != nil {
		return sever.ActionResult{}, err
	}
	instanceID, _ := t.values()["instance_id"].(string)
	switch {
	case instanceID == "" && args.InstanceID == "":
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
			"%s: key %s is a session of %s named %q, not EC2 instance credentials (a role session named i-…)",
			in.Action, t.keyID, t.issuer, t.issuer.Session), nil)
	case instanceID == "":
		instanceID = args.InstanceID
	case args.InstanceID != "" && args.InstanceID != instanceID:
		return sever.ActionResult{}, activities.Permanent(ErrIdentityMismatch, fmt.Sprintf(
			"%s: key %s is the instance credentials of %s, but the step's instance_id names %s; refusing to act on a contradicted identity",
			in.Action, t.keyID, instanceID, args.InstanceID), nil)
	}
	c, id, err := a.clients(ctx, in.Action, t.account, args.Region)
	if err != nil {
		return sever.ActionResult{}, err
	}
	subject := fmt.Sprintf("instance %s in %s %s", instanceID, t.account, c.Region)
	out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		return sever.ActionResult{}, classify(in.Action, "ec2:DescribeInstances", subject, err)
	}
	var inst *ec2types.Instance
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == instanceID {
				inst = &r.Instances[i]
			}
		}
	}
	if inst == nil {
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf("%s: ec2:DescribeInstances does not list %s", in.Action, subject), nil)
	}
	rec := instanceRecord{InstanceID: instanceID, Account: t.account, Region: c.Region, Role: t.issuer.Name,
		Volumes: []instanceVolume{}, IdempotencyKey: in.IdempotencyKey}
	if p := inst.IamInstanceProfile; p != nil {
		rec.InstanceProfileARN, rec.InstanceProfileID = aws.ToString(p.Arn), aws.ToString(p.Id)
	}
	changed, verified := false, true
	for _, bd := range inst.BlockDeviceMappings {
		if bd.Ebs == nil || aws.ToString(bd.Ebs.VolumeId) == "" {
			continue // instance-store volumes cannot be snapshotted
		}
		vol := aws.ToString(bd.Ebs.VolumeId)
		desc := fmt.Sprintf("sever incident %s step %s: %s of %s, credential %s", in.IncidentID, in.StepID, aws.ToString(bd.DeviceName), instanceID, in.Credential.ID)
		snap, took, err := snapshotOnce(ctx, c, in, vol, truncateDesc(desc), fmt.Sprintf("volume %s of %s", vol, subject))
		if err != nil {
			return sever.ActionResult{}, err
		}
		changed = changed || took
		verified = verified && snapshotComplete(snap)
		rec.Volumes = append(rec.Volumes, instanceVolume{VolumeID: vol, Device: aws.ToString(bd.DeviceName),
			SnapshotID: aws.ToString(snap.SnapshotId), State: string(snap.State)})
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return sever.ActionResult{}, fmt.Errorf("%s: encode the record of %s: %w", in.Action, subject, err)
	}
	volumes, snapshots := make([]string, 0, len(rec.Volumes)), make([]string, 0, len(rec.Volumes))
	for _, v := range rec.Volumes {
		volumes, snapshots = append(volumes, v.VolumeID), append(snapshots, v.SnapshotID)
	}
	output := sever.Values{"instance_id": instanceID, "account": t.account, "region": c.Region, "role": t.issuer.Name,
		"instance_profile_arn": rec.InstanceProfileARN, "instance_profile_id": rec.InstanceProfileID,
		"volumes": volumes, "snapshots": snapshots}
	profile := rec.InstanceProfileARN
	if profile == "" {
		profile = "no instance profile"
	}
	summary := fmt.Sprintf("%s (%s): %d volume snapshots %s", subject, profile, len(snapshots), strings.Join(snapshots, ", "))
	if !changed && len(snapshots) > 0 {
		summary += " (found from an earlier attempt)"
	}
	if !verified {
		summary += "; not verified until EBS reports every snapshot completed"
	}
	uri := fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", c.Region, t.account, instanceID)
	return sever.ActionResult{Verified: verified, Actor: id.ARN, Changed: changed, Summary: summary, Output: output,
		Evidence: []sever.Artifact{{Name: "ec2-instance-" + instanceID + ".json", URI: uri, SHA256: sever.SHA256Hex(b), Size: int64(len(b))}}}, nil
}

// truncateDesc keeps a snapshot description within EC2's 255 characters.
func truncateDesc(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}
