package drillcloud

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

const revokeDocFmt = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"%s"}}}]}`

func TestIAMOperations(t *testing.T) {
	c := defaultCloud(t)
	resp := iamFor(t, c, DefaultResponderKeyID)
	ctx := ctx(t)
	user := aws.String(DefaultCompromisedUser)

	t.Run("GetUser", func(t *testing.T) {
		out, err := resp.GetUser(ctx, &iam.GetUserInput{UserName: user})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.User.Arn); got != "arn:aws:iam::111122223333:user/ci-deployer" {
			t.Fatalf("Arn = %s", got)
		}
		if !strings.HasPrefix(aws.ToString(out.User.UserId), "AIDA") || out.User.CreateDate == nil {
			t.Fatalf("user = %+v", out.User)
		}
		self, err := resp.GetUser(ctx, &iam.GetUserInput{})
		if err != nil || aws.ToString(self.User.UserName) != DefaultResponderUser {
			t.Fatalf("GetUser(self) = %v, %v", self, err)
		}
	})

	t.Run("ListAccessKeys", func(t *testing.T) {
		out, err := resp.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.AccessKeyMetadata) != 1 || aws.ToString(out.AccessKeyMetadata[0].AccessKeyId) != DefaultCompromisedKeyID ||
			out.AccessKeyMetadata[0].Status != types.StatusTypeActive {
			t.Fatalf("keys = %+v", out.AccessKeyMetadata)
		}
	})

	var newKey string
	t.Run("CreateAccessKey", func(t *testing.T) {
		out, err := resp.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
		if err != nil {
			t.Fatal(err)
		}
		newKey = aws.ToString(out.AccessKey.AccessKeyId)
		if !strings.HasPrefix(newKey, "AKIA") || len(aws.ToString(out.AccessKey.SecretAccessKey)) != 40 {
			t.Fatalf("new key = %+v", out.AccessKey)
		}
		if acct, ok := accountFromKeyID(newKey); !ok || acct != DefaultAccountID {
			t.Fatalf("new key id does not encode the account: %s %v", acct, ok)
		}
		_, err = resp.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
		if errCode(err) != "LimitExceeded" {
			t.Fatalf("third key: %v, want LimitExceeded", err)
		}
		// The new key works straight away.
		if _, err := stsFor(t, c, newKey).GetCallerIdentity(ctx, nil); err != nil {
			t.Fatalf("new key: %v", err)
		}
	})

	t.Run("UpdateAccessKey", func(t *testing.T) {
		in := &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String(DefaultCompromisedKeyID), Status: types.StatusTypeInactive}
		before := c.Applied("UpdateAccessKey")
		for range 2 {
			if _, err := resp.UpdateAccessKey(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.Applied("iam:UpdateAccessKey") - before; got != 1 {
			t.Fatalf("applied %d times, want 1 (second call is a no-op)", got)
		}
		if k, _ := c.Key(DefaultCompromisedKeyID); k.Status != "Inactive" {
			t.Fatalf("status = %s", k.Status)
		}
		_, err := resp.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(DefaultResponderUser),
			AccessKeyId: aws.String(DefaultCompromisedKeyID), Status: types.StatusTypeInactive})
		var nse *types.NoSuchEntityException
		if !asErr(err, &nse) {
			t.Fatalf("key of another user: %v, want NoSuchEntityException", err)
		}
	})

	t.Run("GetAccessKeyLastUsed", func(t *testing.T) {
		out, err := resp.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(DefaultResponderKeyID)})
		if err != nil {
			t.Fatal(err)
		}
		lu := out.AccessKeyLastUsed
		if aws.ToString(out.UserName) != DefaultResponderUser || lu.LastUsedDate == nil || aws.ToString(lu.ServiceName) != "iam" || aws.ToString(lu.Region) != "us-east-1" {
			t.Fatalf("last used = %+v user %s", lu, aws.ToString(out.UserName))
		}
		out, err = resp.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(newKey)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.AccessKeyLastUsed.ServiceName) != "sts" {
			t.Fatalf("new key last used = %+v", out.AccessKeyLastUsed)
		}
	})

	t.Run("DeleteAccessKey", func(t *testing.T) {
		if _, err := resp.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: aws.String(newKey)}); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Key(newKey); ok {
			t.Fatal("key still present")
		}
		_, err := resp.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: aws.String(newKey)})
		if errCode(err) != "NoSuchEntity" {
			t.Fatalf("second delete: %v", err)
		}
	})

	t.Run("user inline policies", func(t *testing.T) {
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`
		if _, err := resp.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("NoS3"), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
		got, err := resp.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String("NoS3")})
		if err != nil {
			t.Fatal(err)
		}
		// IAM returns documents URL-encoded.
		dec, err := url.QueryUnescape(aws.ToString(got.PolicyDocument))
		if err != nil || dec != doc {
			t.Fatalf("document = %q (%v)", aws.ToString(got.PolicyDocument), err)
		}
		list, err := resp.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: user})
		if err != nil || len(list.PolicyNames) != 1 || list.PolicyNames[0] != "NoS3" {
			t.Fatalf("ListUserPolicies = %+v, %v", list, err)
		}
		_, err = resp.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("Bad"), PolicyDocument: aws.String(`{"Statement":`)})
		var mal *types.MalformedPolicyDocumentException
		if !asErr(err, &mal) {
			t.Fatalf("malformed doc: %v", err)
		}
		_, err = resp.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String("Nope")})
		if errCode(err) != "NoSuchEntity" {
			t.Fatalf("missing policy: %v", err)
		}
	})

	t.Run("AttachUserPolicy and ListAttachedUserPolicies", func(t *testing.T) {
		if _, err := resp.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: user, PolicyArn: aws.String(QuarantinePolicyV2ARN)}); err != nil {
			t.Fatal(err)
		}
		out, err := resp.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: user})
		if err != nil || len(out.AttachedPolicies) != 1 || aws.ToString(out.AttachedPolicies[0].PolicyName) != "AWSCompromisedKeyQuarantineV2" {
			t.Fatalf("attached = %+v, %v", out, err)
		}
		_, err = resp.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: user, PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
		if errCode(err) != "NoSuchEntity" {
			t.Fatalf("unknown policy: %v", err)
		}
	})

	t.Run("IAM is filed under us-east-1", func(t *testing.T) {
		eu := iam.NewFromConfig(cfgFor(t, c, DefaultResponderKeyID), func(o *iam.Options) { o.Region = "eu-west-1" })
		if _, err := eu.GetUser(ctx, &iam.GetUserInput{}); err != nil {
			t.Fatal(err)
		}
		if ev := lastCall(t, c, "GetUser"); ev.Region != "us-east-1" {
			t.Fatalf("region = %s", ev.Region)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		_, err := resp.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
		var nse *types.NoSuchEntityException
		if !asErr(err, &nse) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestIAMRolePolicies(t *testing.T) {
	seed := DefaultSeed()
	seed.Accounts[0].Roles = []SeedRole{{Name: "ci-role"}}
	c := startCloud(t, seed)
	resp := iamFor(t, c, DefaultResponderKeyID)
	ctx := ctx(t)
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`
	if _, err := resp.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("ci-role"), PolicyName: aws.String("DenyAll"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	got, err := resp.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("ci-role"), PolicyName: aws.String("DenyAll")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, _ := url.QueryUnescape(aws.ToString(got.PolicyDocument)); dec != doc {
		t.Fatalf("document = %s", dec)
	}
	list, err := resp.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("ci-role")})
	if err != nil || len(list.PolicyNames) != 1 {
		t.Fatalf("ListRolePolicies = %+v, %v", list, err)
	}
	if d, ok := c.RolePolicy("ci-role", "DenyAll"); !ok || d != doc {
		t.Fatalf("RolePolicy getter = %q %v", d, ok)
	}
	_, err = resp.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("nope"), PolicyName: aws.String("x"), PolicyDocument: aws.String(doc)})
	if errCode(err) != "NoSuchEntity" {
		t.Fatalf("unknown role: %v", err)
	}
}

// TestAuthRefusals drives refusals through real SDK clients and checks the
// codes AWS itself returns.
func TestAuthRefusals(t *testing.T) {
	seed := DefaultSeed()
	seed.Accounts[0].Users = append(seed.Accounts[0].Users, SeedUser{Name: "dormant", Keys: []SeedKey{{ID: "AKIADRILLINACTIVE001", Status: "Inactive"}}})
	c := startCloud(t, seed)
	good, err := c.Credentials(DefaultResponderKeyID)
	if err != nil {
		t.Fatal(err)
	}
	inactive, _ := c.Credentials("AKIADRILLINACTIVE001")
	forged := good
	forged.SecretAccessKey = "forged-secret-forged-secret-forged-0000"
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNKEY000001", SecretAccessKey: "x-x-x-x-x-x-x-x-x-x-x-x"}
	cases := []struct {
		name  string
		creds aws.Credentials
		want  string
	}{
		{"inactive key", inactive, "InvalidClientTokenId"},
		{"unknown key", unknown, "InvalidClientTokenId"},
		{"forged signature", forged, "SignatureDoesNotMatch"},
		{"valid key", good, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := noRetry(StaticConfig(c.URL(), DefaultRegion, tc.creds))
			_, err := iam.NewFromConfig(cfg).ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(DefaultCompromisedUser)})
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q, want %q (%v)", got, tc.want, err)
			}
			if tc.want != "" {
				ev := lastCall(t, c, "ListAccessKeys")
				if ev.ErrorCode != tc.want || ev.Applied || ev.AccessKeyID != tc.creds.AccessKeyID {
					t.Fatalf("logged %+v", ev)
				}
			}
		})
	}
	t.Run("deleted key", func(t *testing.T) {
		cfg := noRetry(StaticConfig(c.URL(), DefaultRegion, good))
		admin := iam.NewFromConfig(cfg)
		ck, _ := c.Credentials(DefaultCompromisedKeyID)
		if _, err := admin.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String(DefaultCompromisedUser), AccessKeyId: aws.String(ck.AccessKeyID)}); err != nil {
			t.Fatal(err)
		}
		_, err := iam.NewFromConfig(noRetry(StaticConfig(c.URL(), DefaultRegion, ck))).GetUser(context.Background(), &iam.GetUserInput{})
		if errCode(err) != "InvalidClientTokenId" {
			t.Fatalf("deleted key: %v", err)
		}
	})
}

// TestIAMRoleAndCredentialOps covers the operations that now share handlers
// with their user or access-key twins (GetRole with GetUser, Delete*Policy,
// Update/DeleteServiceSpecificCredential with Update/DeleteAccessKey), through
// the SDK so the wire format is the SDK's to parse.
func TestIAMRoleAndCredentialOps(t *testing.T) {
	c := defaultCloud(t)
	resp := iamFor(t, c, DefaultResponderKeyID)
	ctx := ctx(t)

	role, err := resp.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(DefaultInstanceRole)})
	if err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	r := role.Role
	if aws.ToString(r.RoleName) != DefaultInstanceRole || !strings.HasPrefix(aws.ToString(r.RoleId), "AROA") ||
		aws.ToString(r.Arn) != "arn:aws:iam::111122223333:role/"+DefaultInstanceRole || aws.ToString(r.Path) != "/" ||
		r.CreateDate == nil || aws.ToString(r.AssumeRolePolicyDocument) == "" {
		t.Fatalf("GetRole = %+v", r)
	}
	if _, err := resp.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")}); errCode(err) != "NoSuchEntity" {
		t.Fatalf("GetRole of an unknown role: %v", err)
	}

	_, err = resp.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(DefaultInstanceRole), PolicyName: aws.String("none")})
	var nse *types.NoSuchEntityException
	if !asErr(err, &nse) || !strings.Contains(aws.ToString(nse.Message), "role policy with name none") {
		t.Fatalf("DeleteRolePolicy of a missing policy: %v", err)
	}
	_, err = resp.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(DefaultCompromisedUser), PolicyName: aws.String("none")})
	if !asErr(err, &nse) || !strings.Contains(aws.ToString(nse.Message), "user policy with name none") {
		t.Fatalf("DeleteUserPolicy of a missing policy: %v", err)
	}

	created, err := resp.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{
		UserName: aws.String(DefaultCompromisedUser), ServiceName: aws.String(BedrockServiceName)})
	if err != nil {
		t.Fatalf("CreateServiceSpecificCredential: %v", err)
	}
	id := created.ServiceSpecificCredential.ServiceSpecificCredentialId
	cases := []struct {
		name, user string
		status     types.StatusType // "" deletes
		want       string           // error code, "" for success
		after      string           // the credential's status after the call, "" for gone
	}{
		{"update with a bad status", DefaultCompromisedUser, "Paused", "ValidationError", "Active"},
		{"update as another user's", DefaultResponderUser, types.StatusTypeInactive, "NoSuchEntity", "Active"},
		{"update", DefaultCompromisedUser, types.StatusTypeInactive, "", "Inactive"},
		{"delete as another user's", DefaultResponderUser, "", "NoSuchEntity", "Inactive"},
		{"delete", DefaultCompromisedUser, "", "", ""},
		{"delete again", DefaultCompromisedUser, "", "NoSuchEntity", ""},
	}
	for _, tc := range cases {
		if tc.status != "" {
			_, err = resp.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String(tc.user),
				ServiceSpecificCredentialId: id, Status: tc.status})
		} else {
			_, err = resp.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String(tc.user),
				ServiceSpecificCredentialId: id})
		}
		if errCode(err) != tc.want {
			t.Fatalf("%s: %v, want code %q", tc.name, err, tc.want)
		}
		if sc, _ := c.ServiceCredential(aws.ToString(id)); sc.Status != tc.after {
			t.Fatalf("%s: status %q after, want %q", tc.name, sc.Status, tc.after)
		}
	}
	if _, ok := c.ServiceCredential(aws.ToString(id)); ok {
		t.Fatal("credential still there after delete")
	}
}
