package awsact

import (
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// matrixCase is one action with the AWS call that matters most to it: its write for
// actions that change state, its main read otherwise.
type matrixCase struct {
	action  string
	args    sever.Values
	service string
	op      string
	write   bool
	deny    string // IAM action that, denied to sever, makes the action fail
	opts    []drillOption
}

// inactiveKey seeds the exposed key as already deactivated.
func inactiveKey(s *drillcloud.Seed) {
	u := user(s, exposedUser)
	for i := range u.Keys {
		u.Keys[i].Status = "Inactive"
	}
}

func matrix() []matrixCase {
	inactive := []drillOption{withSeed(inactiveKey)}
	return []matrixCase{
		{action: sever.ActionAWSKeyOwner, service: "sts", op: "GetAccessKeyInfo", deny: "sts:GetAccessKeyInfo"},
		{action: sever.ActionAWSVendorQuarantine, service: "iam", op: "ListAttachedUserPolicies", deny: "iam:ListAttachedUserPolicies"},
		{action: sever.ActionAWSDeactivateKey, service: "iam", op: "UpdateAccessKey", write: true, deny: "iam:UpdateAccessKey"},
		{action: sever.ActionAWSActivateKey, service: "iam", op: "UpdateAccessKey", write: true, deny: "iam:UpdateAccessKey", opts: inactive},
		{action: sever.ActionAWSDeleteKey, args: sever.Values{"secrets": []any{}}, service: "iam", op: "DeleteAccessKey", write: true,
			deny: "iam:DeleteAccessKey", opts: inactive},
		{action: sever.ActionAWSRevokeSessions, service: "iam", op: "PutUserPolicy", write: true, deny: "iam:PutUserPolicy"},
		{action: sever.ActionAWSKeyStatus, service: "iam", op: "ListAccessKeys", deny: "iam:ListAccessKeys"},
		{action: sever.ActionAWSRotateSecret, args: sever.Values{"secret_id": secretName}, service: "secretsmanager", op: "RotateSecret",
			write: true, deny: "secretsmanager:RotateSecret"},
		{action: sever.ActionAWSRotateSecret, args: sever.Values{"secret_id": secretName}, service: "secretsmanager", op: "PutSecretValue",
			write: true, deny: "secretsmanager:PutSecretValue", opts: []drillOption{withSeed(withoutLambda)}},
		{action: sever.ActionAWSLookupEvents, service: "cloudtrail", op: "LookupEvents", deny: "cloudtrail:LookupEvents"},
		{action: sever.ActionAWSSnapshotVolume, args: sever.Values{"volume_id": drillcloud.DefaultVolumeID}, service: "ec2", op: "CreateSnapshot",
			write: true, deny: "ec2:CreateSnapshot"},
		{action: sever.ActionAWSStoreEvidence, args: sever.Values{"bucket": drillcloud.DefaultEvidenceBucket, "include": []any{"signals"}},
			service: "s3", op: "PutObject", write: true, deny: "s3:PutObject"},
		{action: sever.ActionAWSBedrockLogging, service: "bedrock", op: "GetModelInvocationLoggingConfiguration",
			deny: "bedrock:GetModelInvocationLoggingConfiguration"},
	}
}

func (c matrixCase) name() string { return c.action + "/" + c.op }

// Every action covers AWS's own vocabulary for "slow down" and "try again": reads are
// retried by the SDK within the call, writes are left to Temporal and land once.
func TestEveryActionSurvivesThrottlingAndServerErrors(t *testing.T) {
	for _, c := range matrix() {
		for _, kind := range []drillcloud.FaultKind{drillcloud.FaultThrottle, drillcloud.FaultServerError} {
			t.Run(c.name()+"/"+string(kind), func(t *testing.T) {
				d := newDrill(t, c.opts...)
				before := d.cloud.Applied(c.service + ":" + c.op)
				d.fault(drillcloud.Fault{Service: c.service, Operation: c.op, Kind: kind, Count: 1})
				in := input(c.action, c.args)
				if c.write {
					_, err := d.exec(in)
					wantRetryable(t, err, c.service+":"+c.op)
				}
				res, err := d.exec(in)
				if err != nil {
					t.Fatalf("after the fault: %v", err)
				}
				if c.write && !res.Changed {
					t.Errorf("the retry did not make the change: %+v", res)
				}
				if n := d.cloud.Applied(c.service+":"+c.op) - before; c.write && n != 1 {
					t.Errorf("%s applied %d times; want 1", c.op, n)
				}
			})
		}
	}
}

// A write whose response is lost is applied once: the retry reads and finds it done.
func TestEveryWriteSurvivesADroppedResponse(t *testing.T) {
	for _, c := range matrix() {
		if !c.write {
			continue
		}
		t.Run(c.name(), func(t *testing.T) {
			d := newDrill(t, c.opts...)
			applied, sent := d.cloud.Applied(c.service+":"+c.op), d.calls(c.service, c.op)
			d.fault(drillcloud.Fault{Service: c.service, Operation: c.op, Kind: drillcloud.FaultDropResponse, Count: 1})
			in := input(c.action, c.args)
			_, err := d.exec(in)
			wantRetryable(t, err, c.service+":"+c.op)
			res, err := d.exec(in)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			// After a lost PutSecretValue the retry still has to promote the new version.
			if res.Changed && c.op != "PutSecretValue" {
				t.Errorf("retry changed something again: %+v", res)
			}
			if n := d.cloud.Applied(c.service+":"+c.op) - applied; n != 1 {
				t.Errorf("%s applied %d times; want 1", c.op, n)
			}
			if n := d.calls(c.service, c.op) - sent; n != 1 {
				t.Errorf("%s sent %d times; want 1 (the retry must read, not resend)", c.op, n)
			}
		})
	}
}

func TestEveryActionReportsAccessDenied(t *testing.T) {
	for _, c := range matrix() {
		t.Run(c.name(), func(t *testing.T) {
			d := newDrill(t, append(append([]drillOption(nil), c.opts...), denyResponder(c.deny))...)
			_, err := d.exec(input(c.action, c.args))
			wantPermanent(t, err, "AccessDenied", c.service+":"+c.op)
		})
	}
}

// Actions about one key fail NotFound for a key AWS does not know, naming it.
func TestKeyActionsUnknownKey(t *testing.T) {
	unknown := func(action string, args sever.Values) sever.ActionInput {
		return withCred(input(action, args), func(c *sever.Credential) { c.ID, c.Account = unknownKey, account })
	}
	for _, action := range []string{sever.ActionAWSVendorQuarantine, sever.ActionAWSDeactivateKey, sever.ActionAWSActivateKey,
		sever.ActionAWSRevokeSessions, sever.ActionAWSKeyStatus} {
		t.Run(action, func(t *testing.T) {
			d := newDrill(t)
			_, err := d.exec(unknown(action, nil))
			wantPermanent(t, err, "NotFound", unknownKey)
		})
	}
	t.Run(sever.ActionAWSKeyOwner, func(t *testing.T) {
		d := newDrill(t)
		_, err := d.exec(withCred(input(sever.ActionAWSKeyOwner, nil), func(c *sever.Credential) { c.ID = ownKeyID(t) }))
		wantPermanent(t, err, "NotFound", ownKeyID(t))
	})
	// Deleting is done when the key is absent: a retry after the delete landed must
	// succeed, and AWS cannot tell "deleted" from "never existed".
	t.Run(sever.ActionAWSDeleteKey, func(t *testing.T) {
		d := newDrill(t)
		res, err := d.exec(unknown(sever.ActionAWSDeleteKey, sever.Values{"secrets": []any{}}))
		if err != nil || !res.Verified || res.Changed || res.Output["status"] != "absent" {
			t.Fatalf("delete of an absent key = %+v, %v; want verified no-op", res, err)
		}
		if d.cloud.Applied("iam:DeleteAccessKey") != 0 {
			t.Error("DeleteAccessKey sent for an absent key")
		}
	})
}
