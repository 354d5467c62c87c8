package awsact

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// invCI lists the drill secret as the one that holds the exposed key.
const invCI = `credentials:
  - provider: aws
    id: AKIADRILLEXPOSED0001
    owner: platform@example.com
    secrets:
      - {id: prod/ci-deployer/aws, region: us-east-1, account: "111122223333"}
`

func withoutLambda(s *drillcloud.Seed) {
	for i := range s.Accounts[0].Secrets {
		s.Accounts[0].Secrets[i].RotationLambdaARN = ""
		s.Accounts[0].Secrets[i].RotationDays = 0
	}
}

// secretFrom2024 makes the drill secret's current value older than the exposure.
func secretFrom2024(s *drillcloud.Seed) {
	sec := &s.Accounts[0].Secrets[0]
	sec.Versions = []drillcloud.SeedSecretVersion{{ID: "v-2024", Value: sec.Value, Stages: []string{stageCurrent},
		Created: time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)}}
	sec.Value = ""
}

func currentVersion(t *testing.T, d *drill) drillcloud.SecretVersionInfo {
	t.Helper()
	info, ok := d.cloud.Secret(secretName)
	if !ok {
		t.Fatal("secret missing")
	}
	for _, v := range info.Versions {
		if slices.Contains(v.Stages, stageCurrent) {
			return v
		}
	}
	t.Fatal("no AWSCURRENT version")
	return drillcloud.SecretVersionInfo{}
}

func TestRotateSecretWithLambda(t *testing.T) {
	d := newDrill(t, withInventory(invCI))
	in := input(sever.ActionAWSRotateSecret, nil)
	res, err := d.exec(in)
	if err != nil {
		t.Fatal(err)
	}
	token := versionToken(in.IdempotencyKey, secretName)
	secrets := res.Output["secrets"].([]any)
	if !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced || len(secrets) != 1 ||
		secrets[0].(map[string]any)["method"] != "lambda" || secrets[0].(map[string]any)["version_id"] != token {
		t.Fatalf("rotate = %+v", res)
	}
	if v := currentVersion(t, d); v.ID != token {
		t.Fatalf("AWSCURRENT is %s; want %s", v.ID, token)
	}
	res = d.mustExec(in)
	if !res.Verified || res.Changed {
		t.Fatalf("second rotate = %+v; want verified no-op", res)
	}
	if n := d.calls("secretsmanager", "RotateSecret"); n != 1 {
		t.Errorf("RotateSecret sent %d times; want 1", n)
	}
}

func TestRotateSecretStalledLambda(t *testing.T) {
	d := newDrill(t, withInventory(invCI), withSeed(func(s *drillcloud.Seed) { s.Accounts[0].Secrets[0].RotationStalls = true }))
	_, err := d.exec(input(sever.ActionAWSRotateSecret, nil))
	wantRetryable(t, err, "still in progress", secretName)
	// The retry must not start a second rotation on top of the stalled one.
	_, err = d.exec(input(sever.ActionAWSRotateSecret, nil))
	wantRetryable(t, err, "still in progress")
	if n := d.calls("secretsmanager", "RotateSecret"); n != 1 {
		t.Errorf("RotateSecret sent %d times; want 1", n)
	}
}

func TestRotateSecretPutValue(t *testing.T) {
	d := newDrill(t, withInventory(invCI), withSeed(withoutLambda))
	old := currentVersion(t, d)
	in := input(sever.ActionAWSRotateSecret, nil)
	res, err := d.exec(in)
	if err != nil {
		t.Fatal(err)
	}
	cur := currentVersion(t, d)
	if !res.Verified || !res.Changed || cur.ID != versionToken(in.IdempotencyKey, secretName) || cur.Value == old.Value || len(cur.Value) < 40 {
		t.Fatalf("rotate = %+v; current version %s", res, cur.ID)
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), cur.Value) {
		t.Fatalf("result holds the new secret value: %s", b)
	}
	for _, e := range d.cloud.Calls() {
		if eb, _ := json.Marshal(e); strings.Contains(string(eb), cur.Value) {
			t.Fatalf("drill call log holds the new value: %s", eb)
		}
	}
	res = d.mustExec(in)
	if !res.Verified || res.Changed || d.calls("secretsmanager", "PutSecretValue") != 1 {
		t.Fatalf("second rotate = %+v, PutSecretValue sent %d times", res, d.calls("secretsmanager", "PutSecretValue"))
	}
}

func TestRotateSecretAfterDroppedResponses(t *testing.T) {
	for _, op := range []string{"PutSecretValue", "UpdateSecretVersionStage"} {
		t.Run(op, func(t *testing.T) {
			d := newDrill(t, withInventory(invCI), withSeed(withoutLambda))
			d.fault(drillcloud.Fault{Service: "secretsmanager", Operation: op, Kind: drillcloud.FaultDropResponse, Count: 1})
			in := input(sever.ActionAWSRotateSecret, nil)
			_, err := d.exec(in)
			wantRetryable(t, err, "secretsmanager:"+op, secretName)
			res := d.mustExec(in)
			if !res.Verified {
				t.Fatalf("retry = %+v", res)
			}
			if a := d.cloud.Applied("secretsmanager:PutSecretValue"); a != 1 {
				t.Errorf("PutSecretValue applied %d times; want 1", a)
			}
			if a := d.cloud.Applied("secretsmanager:UpdateSecretVersionStage"); a != 1 {
				t.Errorf("UpdateSecretVersionStage applied %d times; want 1", a)
			}
			if v := currentVersion(t, d); v.ID != versionToken(in.IdempotencyKey, secretName) {
				t.Errorf("AWSCURRENT = %s", v.ID)
			}
		})
	}
}

func TestRotateSecretFromEnvSource(t *testing.T) {
	t.Setenv("SEVER_TEST_NEW_CI_KEY", `{"AccessKeyId":"AKIANEW","SecretAccessKey":"new-secret-CANARY"}`)
	d := newDrill(t, withSeed(withoutLambda), withInventory(`credentials:
  - provider: aws
    id: AKIADRILLEXPOSED0001
    owner: platform@example.com
    secrets:
      - {id: prod/ci-deployer/aws, rotation: "env:SEVER_TEST_NEW_CI_KEY"}
`))
	res, err := d.exec(input(sever.ActionAWSRotateSecret, nil))
	if err != nil || !res.Verified {
		t.Fatalf("rotate = %+v, %v", res, err)
	}
	if v := currentVersion(t, d); !strings.Contains(v.Value, "new-secret-CANARY") {
		t.Errorf("current value is not the env source")
	}
	if b, _ := json.Marshal(res); strings.Contains(string(b), "CANARY") {
		t.Errorf("result holds the value: %s", b)
	}
	_, err = d.exec(withCred(input(sever.ActionAWSRotateSecret, nil), func(c *sever.Credential) {}))
	if err != nil {
		t.Errorf("second run: %v", err)
	}
}

func TestRotateSecretTargets(t *testing.T) {
	t.Run("NothingListed", func(t *testing.T) {
		d := newDrill(t)
		_, err := d.exec(input(sever.ActionAWSRotateSecret, nil))
		wantPermanent(t, err, "NotFound", "no secret_id given", exposedKey)
	})
	t.Run("InventorySaysNone", func(t *testing.T) {
		d := newDrill(t, withInventory("credentials:\n  - {provider: aws, id: AKIADRILLEXPOSED0001, owner: o, secrets: []}\n"))
		res := d.mustExec(input(sever.ActionAWSRotateSecret, nil))
		if !res.Verified || res.Changed || !strings.Contains(res.Summary, "nothing to rotate") {
			t.Errorf("rotate = %+v", res)
		}
	})
	t.Run("UnsetEnvSource", func(t *testing.T) {
		d := newDrill(t, withSeed(withoutLambda), withInventory(`credentials:
  - provider: aws
    id: AKIADRILLEXPOSED0001
    owner: o
    secrets: [{id: prod/ci-deployer/aws, rotation: "env:SEVER_TEST_UNSET_SOURCE"}]
`))
		_, err := d.exec(input(sever.ActionAWSRotateSecret, nil))
		wantPermanent(t, err, "InvalidArgument", "SEVER_TEST_UNSET_SOURCE", secretName)
	})
	t.Run("UnknownSecret", func(t *testing.T) {
		d := newDrill(t)
		_, err := d.exec(input(sever.ActionAWSRotateSecret, sever.Values{"secret_id": "prod/nope"}))
		wantPermanent(t, err, "NotFound", "secretsmanager:DescribeSecret", "prod/nope")
	})
	t.Run("AccessDenied", func(t *testing.T) {
		d := newDrill(t, withSeed(withoutLambda), denyResponder("secretsmanager:PutSecretValue"))
		_, err := d.exec(input(sever.ActionAWSRotateSecret, sever.Values{"secret_id": secretName}))
		wantPermanent(t, err, "AccessDenied", "secretsmanager:PutSecretValue", secretName)
	})
	t.Run("ThrottledReadsRetried", func(t *testing.T) {
		d := newDrill(t, withInventory(invCI))
		d.fault(drillcloud.Fault{Service: "secretsmanager", Operation: "DescribeSecret", Kind: drillcloud.FaultThrottle, Count: 2})
		res, err := d.exec(input(sever.ActionAWSRotateSecret, nil))
		if err != nil || !res.Verified {
			t.Fatalf("rotate = %+v, %v", res, err)
		}
	})
}

// Deleting the key is refused until the secret that held it was rotated after the
// exposure; then it goes through.
func TestDeleteAccessKeyAfterRotation(t *testing.T) {
	d := newDrill(t, withInventory(invCI), withSeed(withoutLambda), withSeed(secretFrom2024))
	d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
	_, err := d.exec(input(sever.ActionAWSDeleteKey, nil))
	wantPermanent(t, err, "Forbidden", "not rotated since the exposure", secretName, sever.ActionAWSRotateSecret)
	if _, ok := d.cloud.Key(exposedKey); !ok {
		t.Fatal("key deleted before rotation")
	}
	rotate := input(sever.ActionAWSRotateSecret, nil)
	rotate.StepID, rotate.IdempotencyKey = "rotate", "inc-aws-test/1/rotate"
	d.mustExec(rotate)
	res := d.mustExec(input(sever.ActionAWSDeleteKey, nil))
	if !res.Verified || !res.Changed || res.Output["status"] != "absent" {
		t.Fatalf("delete = %+v", res)
	}
	if _, ok := d.cloud.Key(exposedKey); ok {
		t.Fatal("key still there")
	}
	// Explicit `secrets` override the inventory (here: a secret never rotated).
	d2 := newDrill(t, withSeed(withoutLambda), withSeed(secretFrom2024))
	d2.mustExec(input(sever.ActionAWSDeactivateKey, nil))
	_, err = d2.exec(input(sever.ActionAWSDeleteKey, sever.Values{"secrets": []any{secretName}}))
	wantPermanent(t, err, "Forbidden", secretName)
}

func TestResolver(t *testing.T) {
	d := newDrill(t)
	info, ok := d.cloud.Secret(secretName)
	if !ok {
		t.Fatal("no drill secret")
	}
	r := Resolver{Clients: d.acts.Clients}
	v, err := r.AWSSecret(t.Context(), info.ARN, "UserName")
	if err != nil || v != exposedUser {
		t.Fatalf("AWSSecret(#UserName) = %q, %v", v, err)
	}
	if v, err := r.AWSSecret(t.Context(), info.ARN, ""); err != nil || !strings.Contains(v, exposedKey) {
		t.Errorf("AWSSecret = %q, %v", v, err)
	}
	_, err = r.AWSSecret(t.Context(), "arn:aws:secretsmanager:us-east-1:111122223333:secret:nope-AbCdEf", "")
	if err == nil || !strings.Contains(err.Error(), "GetSecretValue") {
		t.Errorf("unknown secret: %v", err)
	}
}
