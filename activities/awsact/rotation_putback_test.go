package awsact

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sever-ir/sever"
)

// TestDeleteRefusedWhenLeakedValuePutBack: after the exposure, the secret's
// old value (which holds the exposed key) is put back as a new AWSCURRENT version
// (a restore from backup, a pipeline re-deploying its cached config, or the
// attacker). The current version is "created after the exposure", yet it still
// holds the exposed key: delete_access_key must not treat that as rotated.
func TestDeleteRefusedWhenLeakedValuePutBack(t *testing.T) {
	d := newDrill(t, withInventory(invCI), withSeed(withoutLambda), withSeed(secretFrom2024))
	c, _, err := d.acts.clients(t.Context(), "test", account, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	old, err := c.SecretsManager.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretName)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(old.SecretString), exposedKey) {
		t.Fatalf("seed secret does not hold the exposed key: %q", aws.ToString(old.SecretString))
	}
	// The leaked value, put back after the exposure as a new current version.
	if _, err := c.SecretsManager.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(secretName), SecretString: old.SecretString}); err != nil {
		t.Fatal(err)
	}
	d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
	res, err := d.exec(input(sever.ActionAWSDeleteKey, nil))
	if err == nil {
		t.Fatalf("delete_access_key deleted %s although the secret's AWSCURRENT value still holds it: %+v", exposedKey, res)
	}
	if _, ok := d.cloud.Key(exposedKey); !ok {
		t.Fatal("key deleted while its secret still holds it")
	}
}

// A secret counts as rotated only when its current value no longer holds the key, and a
// value sever cannot read refuses the delete, naming the secret and the permission.
func TestDeleteChecksTheCurrentValue(t *testing.T) {
	putBack := func(t *testing.T, d *drill) {
		c, _, err := d.acts.clients(t.Context(), "test", account, "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		old, err := c.SecretsManager.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretName)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.SecretsManager.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(secretName), SecretString: old.SecretString}); err != nil {
			t.Fatal(err)
		}
	}
	rotate := func(t *testing.T, d *drill) {
		in := input(sever.ActionAWSRotateSecret, nil)
		in.StepID, in.IdempotencyKey = "rotate", "inc-aws-test/1/rotate"
		d.mustExec(in)
	}
	tests := []struct {
		name    string
		opts    []drillOption
		prepare func(*testing.T, *drill)
		errType string   // "" = deleted
		errHas  []string // substrings of the error
	}{
		{name: "rotated value", prepare: rotate},
		{name: "leaked value put back", prepare: putBack, errType: "Forbidden",
			errHas: []string{secretName, "still holds the key", sever.ActionAWSRotateSecret}},
		{name: "rotated, then the leaked value put back", prepare: func(t *testing.T, d *drill) {
			c, _, err := d.acts.clients(t.Context(), "test", account, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			old, err := c.SecretsManager.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretName)})
			if err != nil {
				t.Fatal(err)
			}
			rotate(t, d)
			if _, err := c.SecretsManager.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
				SecretId: aws.String(secretName), SecretString: old.SecretString}); err != nil {
				t.Fatal(err)
			}
		}, errType: "Forbidden", errHas: []string{secretName, "still holds the key"}},
		{name: "value not readable", opts: []drillOption{denyResponder("secretsmanager:GetSecretValue")}, prepare: rotate,
			errType: "AccessDenied", errHas: []string{secretName, "secretsmanager:GetSecretValue", exposedKey, "key not deleted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]drillOption{withInventory(invCI), withSeed(withoutLambda), withSeed(secretFrom2024)}, tt.opts...)
			d := newDrill(t, opts...)
			tt.prepare(t, d)
			d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
			res, err := d.exec(input(sever.ActionAWSDeleteKey, nil))
			_, present := d.cloud.Key(exposedKey)
			if tt.errType == "" {
				if err != nil || !res.Verified || present {
					t.Fatalf("delete = %+v, %v (key present %v)", res, err, present)
				}
				return
			}
			wantPermanent(t, err, tt.errType, tt.errHas...)
			if !present {
				t.Fatal("key deleted despite the refusal")
			}
		})
	}
}
