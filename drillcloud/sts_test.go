package drillcloud

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestSTSOperations(t *testing.T) {
	seed := DefaultSeed()
	seed.Accounts = append(seed.Accounts, SeedAccount{ID: "444455556666", Users: []SeedUser{{Name: "partner", Keys: []SeedKey{{ID: "AKIAPARTNERKEY000001"}}}}})
	c := startCloud(t, seed)
	ctx := ctx(t)
	cli := stsFor(t, c, DefaultCompromisedKeyID)

	t.Run("GetCallerIdentity", func(t *testing.T) {
		out, err := cli.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Account) != DefaultAccountID || aws.ToString(out.Arn) != "arn:aws:iam::111122223333:user/ci-deployer" ||
			!strings.HasPrefix(aws.ToString(out.UserId), "AIDA") {
			t.Fatalf("identity = %+v", out)
		}
	})

	t.Run("GetAccessKeyInfo", func(t *testing.T) {
		deleted := newKeyID("AKIA", "777788889999")
		cases := []struct {
			key, want, wantErr string
		}{
			{DefaultResponderKeyID, DefaultAccountID, ""},
			{"AKIAPARTNERKEY000001", "444455556666", ""},           // another account we know
			{newKeyID("AKIA", "123456789012"), "123456789012", ""}, // unknown, decoded from the id
			{deleted, "777788889999", ""},
			{"AKIA0000", "", "ValidationError"},
			{"AKIANOTBASE32000001!", "", "InvalidParameterValue"},
		}
		for _, tc := range cases {
			out, err := cli.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(tc.key)})
			if got := errCode(err); got != tc.wantErr {
				t.Fatalf("%s: err %v, want %q", tc.key, err, tc.wantErr)
			}
			if err == nil && aws.ToString(out.Account) != tc.want {
				t.Fatalf("%s: account %s, want %s", tc.key, aws.ToString(out.Account), tc.want)
			}
		}
	})

	t.Run("GetSessionToken", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		out, err := cli.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
		if err != nil {
			t.Fatal(err)
		}
		cr := out.Credentials
		id := aws.ToString(cr.AccessKeyId)
		if !strings.HasPrefix(id, "ASIA") || aws.ToString(cr.SessionToken) == "" || cr.Expiration == nil {
			t.Fatalf("credentials = %+v", cr)
		}
		if d := time.Until(*cr.Expiration); d < 14*time.Minute || d > 16*time.Minute {
			t.Fatalf("expires in %v, want ~15m", d)
		}
		info, ok := c.Session(id)
		if !ok || info.Issued.Before(before) || info.SourceKey != DefaultCompromisedKeyID || info.Principal != DefaultCompromisedUser {
			t.Fatalf("session = %+v %v", info, ok)
		}
		sessCfg := noRetry(StaticConfig(c.URL(), DefaultRegion, aws.Credentials{AccessKeyID: id,
			SecretAccessKey: aws.ToString(cr.SecretAccessKey), SessionToken: aws.ToString(cr.SessionToken)}))
		who, err := sts.NewFromConfig(sessCfg).GetCallerIdentity(ctx, nil)
		if err != nil || aws.ToString(who.Arn) != "arn:aws:iam::111122223333:user/ci-deployer" {
			t.Fatalf("session identity = %+v, %v", who, err)
		}
		// AWS refuses GetSessionToken credentials for IAM without MFA and for
		// most of STS.
		if _, err := iam.NewFromConfig(sessCfg).GetUser(ctx, nil); errCode(err) != "InvalidClientTokenId" {
			t.Fatalf("IAM with session: %v", err)
		}
		if _, err := sts.NewFromConfig(sessCfg).GetSessionToken(ctx, nil); errCode(err) != "AccessDenied" {
			t.Fatalf("GetSessionToken with session: %v", err)
		}
		// A wrong token is an invalid credential.
		bad := sessCfg
		bad.Credentials = StaticConfig(c.URL(), DefaultRegion, aws.Credentials{AccessKeyID: id, SecretAccessKey: aws.ToString(cr.SecretAccessKey), SessionToken: "wrong"}).Credentials
		if _, err := sts.NewFromConfig(bad).GetCallerIdentity(ctx, nil); errCode(err) != "InvalidClientTokenId" {
			t.Fatalf("wrong token: %v", err)
		}
		if _, err := cli.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(60)}); errCode(err) != "ValidationError" {
			t.Fatalf("too short: %v", err)
		}
	})

	t.Run("expired session", func(t *testing.T) {
		seed := DefaultSeed()
		seed.Accounts[0].Users[0].Sessions = []SeedSession{{ID: "ASIADRILLEXPIRED0001", Issued: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour)}}
		c2 := startCloud(t, seed)
		_, err := stsFor(t, c2, "ASIADRILLEXPIRED0001").GetCallerIdentity(ctx, nil)
		if errCode(err) != "ExpiredToken" {
			t.Fatalf("expired: %v", err)
		}
	})
}

// AssumeRole is what sever does to act in an account through a role
// (aws.accounts.<id>.role_arn): it must be served, not a gap tests skip over.
func TestSTSAssumeRole(t *testing.T) {
	c := startCloud(t, DefaultSeed())
	ctx := ctx(t)
	cli := stsFor(t, c, DefaultResponderKeyID)
	roleARN := "arn:aws:iam::" + DefaultAccountID + ":role/" + DefaultInstanceRole
	out, err := cli.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("sever"),
		DurationSeconds: aws.Int32(900), ExternalId: aws.String("acme-ext")})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	if id := aws.ToString(cr.AccessKeyId); !strings.HasPrefix(id, "ASIA") || aws.ToString(cr.SessionToken) == "" || cr.Expiration == nil {
		t.Fatalf("credentials = %+v", cr)
	}
	want := "arn:aws:sts::" + DefaultAccountID + ":assumed-role/" + DefaultInstanceRole + "/sever"
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != want {
		t.Errorf("assumed role user %s, want %s", got, want)
	}
	sessCfg := noRetry(StaticConfig(c.URL(), DefaultRegion, aws.Credentials{AccessKeyID: aws.ToString(cr.AccessKeyId),
		SecretAccessKey: aws.ToString(cr.SecretAccessKey), SessionToken: aws.ToString(cr.SessionToken)}))
	who, err := sts.NewFromConfig(sessCfg).GetCallerIdentity(ctx, nil)
	if err != nil || aws.ToString(who.Arn) != want {
		t.Fatalf("session identity = %+v, %v; want %s", who, err, want)
	}
	if info, ok := c.Session(aws.ToString(cr.AccessKeyId)); !ok || info.SourceKey != DefaultResponderKeyID {
		t.Errorf("session = %+v %v; want one minted by the responder's key", info, ok)
	}

	bad := []struct {
		name, arn, session, code string
	}{
		{"unknown role", "arn:aws:iam::" + DefaultAccountID + ":role/nobody", "sever", "AccessDenied"},
		{"other account", "arn:aws:iam::999988887777:role/" + DefaultInstanceRole, "sever", "AccessDenied"},
		{"not a role arn", "arn:aws:iam::" + DefaultAccountID + ":user/ci-deployer", "sever", "ValidationError"},
		{"bad session name", roleARN, "has space", "ValidationError"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tc.arn), RoleSessionName: aws.String(tc.session)})
			if got := errCode(err); got != tc.code {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
		})
	}
}
