package drillcloud

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func smFor(t *testing.T, c *Cloud, keyID string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(noRetry(cfgFor(t, c, keyID)))
}

const (
	tokenA = "11111111-1111-4111-8111-111111111111"
	tokenB = "22222222-2222-4222-8222-222222222222"
)

func TestSecretsManagerOperations(t *testing.T) {
	c := defaultCloud(t)
	sm := smFor(t, c, DefaultResponderKeyID)
	ctx := ctx(t)
	id := aws.String(DefaultSecretName)
	orig, _ := c.Secret(DefaultSecretName)
	origID := orig.Versions[0].ID

	t.Run("DescribeSecret", func(t *testing.T) {
		out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Name) != DefaultSecretName || !aws.ToBool(out.RotationEnabled) || aws.ToString(out.RotationLambdaARN) != DefaultRotationLambda ||
			out.RotationRules == nil || aws.ToInt64(out.RotationRules.AutomaticallyAfterDays) != 30 || out.CreatedDate == nil || out.NextRotationDate == nil {
			t.Fatalf("describe = %+v", out)
		}
		if st := out.VersionIdsToStages[origID]; len(st) != 1 || st[0] != "AWSCURRENT" {
			t.Fatalf("stages = %v", out.VersionIdsToStages)
		}
		// By full ARN too.
		if _, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: out.ARN}); err != nil {
			t.Fatalf("by ARN: %v", err)
		}
	})

	t.Run("GetSecretValue", func(t *testing.T) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(aws.ToString(out.SecretString), DefaultCompromisedKeyID) || aws.ToString(out.VersionId) != origID {
			t.Fatalf("value = %+v", out)
		}
		_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionStage: aws.String("AWSPENDING")})
		var nf *types.ResourceNotFoundException
		if !asErr(err, &nf) {
			t.Fatalf("no pending: %v", err)
		}
	})

	t.Run("PutSecretValue idempotency", func(t *testing.T) {
		put := func(token, value string) (*secretsmanager.PutSecretValueOutput, error) {
			return sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: id, ClientRequestToken: aws.String(token),
				SecretString: aws.String(value), VersionStages: []string{"AWSPENDING"}})
		}
		first, err := put(tokenA, `{"AccessKeyId":"AKIANEW"}`)
		if err != nil {
			t.Fatal(err)
		}
		again, err := put(tokenA, `{"AccessKeyId":"AKIANEW"}`)
		if err != nil {
			t.Fatalf("same token, same value: %v", err)
		}
		if aws.ToString(first.VersionId) != tokenA || aws.ToString(again.VersionId) != tokenA || again.VersionStages[0] != "AWSPENDING" {
			t.Fatalf("versions %+v / %+v", first, again)
		}
		_, err = put(tokenA, `{"AccessKeyId":"AKIADIFFERENT"}`)
		var re *types.ResourceExistsException
		if !asErr(err, &re) {
			t.Fatalf("same token, other value: %v, want ResourceExistsException", err)
		}
		if n := c.Applied("PutSecretValue"); n != 1 {
			t.Fatalf("applied %d times, want 1", n)
		}
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: id}); errCode(err) != "InvalidParameterException" {
			t.Fatalf("no value: %v", err)
		}
	})

	t.Run("RotateSecret refused while AWSPENDING in flight", func(t *testing.T) {
		_, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: id})
		var ir *types.InvalidRequestException
		if !asErr(err, &ir) || !strings.Contains(err.Error(), "previous rotation isn't complete") {
			t.Fatalf("rotate: %v", err)
		}
	})

	t.Run("UpdateSecretVersionStage", func(t *testing.T) {
		move := &secretsmanager.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokenA)}
		if _, err := sm.UpdateSecretVersionStage(ctx, move); errCode(err) != "InvalidParameterException" {
			t.Fatalf("move without RemoveFromVersionId: %v", err)
		}
		move.RemoveFromVersionId = aws.String(origID)
		for range 2 { // the retry of a move that already happened is a no-op
			if _, err := sm.UpdateSecretVersionStage(ctx, move); err != nil {
				t.Fatal(err)
			}
		}
		if n := c.Applied("UpdateSecretVersionStage"); n != 1 {
			t.Fatalf("applied %d times", n)
		}
		if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSPENDING"),
			RemoveFromVersionId: aws.String(tokenA)}); err != nil {
			t.Fatal(err)
		}
		out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.VersionIdsToStages; strings.Join(got[tokenA], ",") != "AWSCURRENT" || strings.Join(got[origID], ",") != "AWSPREVIOUS" {
			t.Fatalf("stages after promotion = %v", got)
		}
		if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"),
			RemoveFromVersionId: aws.String(tokenA)}); errCode(err) != "InvalidParameterException" {
			t.Fatalf("removing AWSCURRENT: %v", err)
		}
	})

	t.Run("RotateSecret", func(t *testing.T) {
		out, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: id, ClientRequestToken: aws.String(tokenB)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.VersionId) != tokenB {
			t.Fatalf("rotate = %+v", out)
		}
		info, _ := c.Secret(DefaultSecretName)
		if info.LastRotated.IsZero() {
			t.Fatal("LastRotated not set")
		}
		cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id})
		if err != nil || aws.ToString(cur.VersionId) != tokenB {
			t.Fatalf("current after rotation = %+v, %v", cur, err)
		}
	})

	t.Run("ListSecretVersionIds", func(t *testing.T) {
		var ids []string
		p := secretsmanager.NewListSecretVersionIdsPaginator(sm, &secretsmanager.ListSecretVersionIdsInput{SecretId: id, MaxResults: aws.Int32(1), IncludeDeprecated: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range page.Versions {
				ids = append(ids, aws.ToString(v.VersionId))
			}
		}
		if strings.Join(ids, ",") != tokenB+","+tokenA+","+origID {
			t.Fatalf("versions newest first = %v", ids)
		}
		out, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: id})
		if err != nil || len(out.Versions) != 2 {
			t.Fatalf("without deprecated: %+v, %v", out, err)
		}
	})

	t.Run("unknown secret and wrong region", func(t *testing.T) {
		var nf *types.ResourceNotFoundException
		if _, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("nope")}); !asErr(err, &nf) {
			t.Fatalf("unknown: %v", err)
		}
		west := secretsmanager.NewFromConfig(noRetry(cfgFor(t, c, DefaultResponderKeyID)), func(o *secretsmanager.Options) { o.Region = "us-west-2" })
		if _, err := west.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id}); !asErr(err, &nf) {
			t.Fatalf("other region: %v", err)
		}
	})

	t.Run("call log holds no secret values", func(t *testing.T) {
		for _, e := range c.Calls() {
			blob := e.cloudTrailJSON()
			for _, secret := range []string{"AKIANEW", "AKIADIFFERENT", `"UserName":"ci-deployer"}`} {
				if strings.Contains(blob, secret) {
					t.Fatalf("event %s leaks %q: %s", e.Operation, secret, blob)
				}
			}
		}
	})
}

func TestRotateSecretStalls(t *testing.T) {
	seed := DefaultSeed()
	seed.Accounts[0].Secrets[0].RotationStalls = true
	seed.Accounts[0].Secrets = append(seed.Accounts[0].Secrets, SeedSecret{Name: "no-lambda", Value: "v"})
	c := startCloud(t, seed)
	sm := smFor(t, c, DefaultResponderKeyID)
	ctx := ctx(t)
	out, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(DefaultSecretName)})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(DefaultSecretName), VersionStage: aws.String("AWSPENDING")})
	if err != nil || aws.ToString(pending.VersionId) != aws.ToString(out.VersionId) {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(DefaultSecretName)}); errCode(err) != "InvalidRequestException" {
		t.Fatalf("second rotation: %v", err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("no-lambda")}); errCode(err) != "InvalidRequestException" {
		t.Fatalf("no lambda: %v", err)
	}
}
