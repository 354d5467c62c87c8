package drillcloud

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestPolicyEvaluation(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	revoke := fmt.Sprintf(revokeDocFmt, t0.Format(time.RFC3339))
	session := func(issued time.Time) map[string]string {
		return map[string]string{"aws:tokenissuetime": issued.Format(time.RFC3339Nano), "aws:username": "ci"}
	}
	longTerm := map[string]string{"aws:username": "ci"}
	cases := []struct {
		name   string
		doc    string
		action string
		res    string
		ctx    map[string]string
		deny   bool
	}{
		{"revoke: older session denied", revoke, "s3:ListAllMyBuckets", "*", session(t0.Add(-time.Second)), true},
		{"revoke: newer session allowed", revoke, "s3:ListAllMyBuckets", "*", session(t0.Add(time.Second)), false},
		{"revoke: same instant allowed", revoke, "s3:ListAllMyBuckets", "*", session(t0), false},
		{"revoke: long-term key unaffected", revoke, "s3:ListAllMyBuckets", "*", longTerm, false},
		{"action wildcard", `{"Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}`, "iam:CreateAccessKey", "*", longTerm, true},
		{"action case-insensitive", `{"Statement":{"Effect":"Deny","Action":"IAM:createaccesskey","Resource":"*"}}`, "iam:CreateAccessKey", "*", longTerm, true},
		{"other action", `{"Statement":{"Effect":"Deny","Action":"iam:Create*","Resource":"*"}}`, "iam:DeleteAccessKey", "*", longTerm, false},
		{"question mark", `{"Statement":{"Effect":"Deny","Action":"s3:?etObject","Resource":"*"}}`, "s3:GetObject", "*", longTerm, true},
		{"NotAction", `{"Statement":{"Effect":"Deny","NotAction":["sts:*"],"Resource":"*"}}`, "s3:GetObject", "*", longTerm, true},
		{"NotAction spares", `{"Statement":{"Effect":"Deny","NotAction":["sts:*"],"Resource":"*"}}`, "sts:GetAccessKeyInfo", "*", longTerm, false},
		{"resource match", `{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::evidence/*"}}`, "s3:DeleteObject", "arn:aws:s3:::evidence/a/b", longTerm, true},
		{"resource miss", `{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::evidence/*"}}`, "s3:DeleteObject", "arn:aws:s3:::other/a", longTerm, false},
		{"allow never denies", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "iam:CreateAccessKey", "*", longTerm, false},
		{"StringEquals", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":["x","ci"]}}}}`, "s3:GetObject", "*", longTerm, true},
		{"StringNotEquals", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:username":"ci"}}}}`, "s3:GetObject", "*", longTerm, false},
		{"IfExists on missing key", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThanIfExists":{"aws:TokenIssueTime":"2030-01-01T00:00:00Z"}}}}`, "s3:GetObject", "*", longTerm, true},
		{"Null true", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}}}`, "s3:GetObject", "*", longTerm, true},
		{"unsupported operator ignored", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, "s3:GetObject", "*", longTerm, false},
		{"all conditions must hold", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"ci"},"Bool":{"aws:MultiFactorAuthPresent":"false"}}}}`, "s3:GetObject", "*", longTerm, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePolicy(tc.doc)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, denied := p.denies(evalRequest{action: tc.action, resource: tc.res, ctx: tc.ctx})
			if denied != tc.deny {
				t.Fatalf("denied = %v, want %v", denied, tc.deny)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, doc := range []string{
		``, `{`, `{"Version":"2012-10-17"}`,
		`{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}`,
		`{"Statement":{"Effect":"Deny","Resource":"*"}}`,
		`{"Statement":{"Effect":"Deny","Action":"*"}}`,
		`{"Statement":{"Effect":"Deny","Action":5,"Resource":"*"}}`,
		`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":{"a":1}}}}}`,
	} {
		if _, err := parsePolicy(doc); err == nil {
			t.Errorf("parsePolicy(%q) succeeded, want error", doc)
		}
	}
}

// TestRevokeOlderSessions applies AWSRevokeOlderSessions to a role through
// IAM and checks that a session issued before the cut-off is refused while a
// newer one still works.
func TestRevokeOlderSessions(t *testing.T) {
	now := time.Now().UTC()
	seed := DefaultSeed()
	seed.Accounts[0].Roles = []SeedRole{{Name: "deploy-role", Sessions: []SeedSession{
		{ID: "ASIADRILLOLDSESSION1", Name: "old", Issued: now.Add(-time.Hour), Expires: now.Add(time.Hour)},
		{ID: "ASIADRILLNEWSESSION1", Name: "new", Issued: now.Add(-time.Minute), Expires: now.Add(time.Hour)},
	}}}
	c := startCloud(t, seed)
	ctx := ctx(t)
	cutoff := now.Add(-30 * time.Minute).Format(time.RFC3339)
	_, err := iamFor(t, c, DefaultResponderKeyID).PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String("deploy-role"), PolicyName: aws.String("AWSRevokeOlderSessions"),
		PolicyDocument: aws.String(fmt.Sprintf(revokeDocFmt, cutoff)),
	})
	if err != nil {
		t.Fatal(err)
	}
	list := func(key string) error {
		_, err := iam.NewFromConfig(noRetry(cfgFor(t, c, key))).ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("deploy-role")})
		return err
	}
	if err := list("ASIADRILLOLDSESSION1"); errCode(err) != "AccessDenied" {
		t.Fatalf("old session: %v, want AccessDenied", err)
	}
	if err := list("ASIADRILLNEWSESSION1"); err != nil {
		t.Fatalf("new session: %v", err)
	}
	// GetCallerIdentity is answered even under an explicit deny, as in AWS.
	who, err := stsFor(t, c, "ASIADRILLOLDSESSION1").GetCallerIdentity(ctx, nil)
	if err != nil || aws.ToString(who.Arn) != "arn:aws:sts::111122223333:assumed-role/deploy-role/old" {
		t.Fatalf("GetCallerIdentity = %+v, %v", who, err)
	}
	ev := lastCall(t, c, "ListRolePolicies")
	if ev.ErrorCode != "" || ev.UserName != "new" {
		t.Fatalf("last ListRolePolicies logged %+v", ev)
	}
}

// TestQuarantineLeavesKeyActive attaches AWS's quarantine policy: escalation
// is refused but the key still authenticates and reads.
func TestQuarantineLeavesKeyActive(t *testing.T) {
	c := defaultCloud(t)
	ctx := ctx(t)
	if err := c.VendorAttachPolicy(DefaultCompromisedUser, QuarantinePolicyV2ARN); err != nil {
		t.Fatal(err)
	}
	attacker := noRetry(cfgFor(t, c, DefaultCompromisedKeyID))
	if _, err := iam.NewFromConfig(attacker).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{}); errCode(err) != "AccessDenied" {
		t.Fatalf("CreateAccessKey under quarantine: %v", err)
	}
	if _, err := iam.NewFromConfig(attacker).ListAccessKeys(ctx, &iam.ListAccessKeysInput{}); err != nil {
		t.Fatalf("ListAccessKeys under quarantine: %v", err)
	}
	if _, err := sts.NewFromConfig(attacker).GetCallerIdentity(ctx, nil); err != nil {
		t.Fatalf("GetCallerIdentity under quarantine: %v", err)
	}
	if k, _ := c.Key(DefaultCompromisedKeyID); k.Status != "Active" {
		t.Fatalf("quarantine changed key status to %s", k.Status)
	}
	ev := lastCall(t, c, "AttachUserPolicy")
	if ev.Principal != "arn:aws:iam::aws:root" || !ev.Applied {
		t.Fatalf("vendor attach logged as %+v", ev)
	}
	for _, arn := range []string{QuarantinePolicyARN, QuarantinePolicyV2ARN, QuarantinePolicyV3ARN, QuarantinePolicyV4ARN} {
		acts := QuarantineDeniedActions(arn)
		if !containsString(acts, "iam:CreateAccessKey") || containsString(acts, "s3:ListAllMyBuckets") {
			t.Fatalf("%s deny list unexpected: %v", arn, acts)
		}
	}
}
