package tokens

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/tokenstore"
)

func setup(t *testing.T) (*testsuite.TestActivityEnvironment, *tokenstore.Store) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	store := tokenstore.Open(filepath.Join(t.TempDir(), "tokens.json"))
	if err := store.Put(tokenstore.Token{ID: "tok-1", Owner: "billing"}); err != nil {
		t.Fatal(err)
	}
	(&Activities{Stores: map[string]Store{"": store}}).Register(env)
	return env, store
}

func in(action string, args sever.Values) sever.ActionInput {
	return sever.ActionInput{IncidentID: "inc-1", StepID: "disable", Action: action, Args: args,
		IdempotencyKey: "inc-1/0/disable",
		Credential:     sever.Credential{Provider: "acme", Type: sever.CredGenericToken, ID: "tok-1"}}
}

func exec(t *testing.T, env *testsuite.TestActivityEnvironment, i sever.ActionInput) (sever.ActionResult, error) {
	t.Helper()
	v, err := env.ExecuteActivity(i.Action, i)
	if err != nil {
		return sever.ActionResult{}, err
	}
	var res sever.ActionResult
	return res, v.Get(&res)
}

func TestDisableReadsBackAndIsIdempotent(t *testing.T) {
	env, store := setup(t)
	res, err := exec(t, env, in(sever.ActionTokenDisable, sever.Values{"reason": "leaked"}))
	if err != nil || !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced {
		t.Fatalf("disable = %+v, %v; want verified, changed, enterprise_enforced", res, err)
	}
	res, err = exec(t, env, in(sever.ActionTokenDisable, nil))
	if err != nil || !res.Verified || res.Changed {
		t.Fatalf("retry = %+v, %v; want verified and no change", res, err)
	}
	tok, _ := store.Get("tok-1")
	if tok.Status != tokenstore.Inactive || len(tok.Changes) != 1 {
		t.Fatalf("store = %+v; want inactive with one change", tok)
	}
	res, err = exec(t, env, in(sever.ActionTokenStatus, sever.Values{"expect": "inactive"}))
	if err != nil || !res.Verified {
		t.Fatalf("status = %+v, %v", res, err)
	}
	res, err = exec(t, env, in(sever.ActionTokenEnable, nil))
	if err != nil || !res.Changed || tokStatus(store) != tokenstore.Active {
		t.Fatalf("enable = %+v, %v", res, err)
	}
}

func tokStatus(s *tokenstore.Store) string { t, _ := s.Get("tok-1"); return t.Status }

func TestVendorEnforcedOnlyWhenObserved(t *testing.T) {
	env, store := setup(t)
	res, err := exec(t, env, in(sever.ActionTokenVendorSeen, nil))
	if err != nil || res.Enforcement != "" || res.Verified {
		t.Fatalf("vendor idle: %+v, %v; want no enforcement", res, err)
	}
	// The issuer's notice feed records what the vendor did; sever only reads it.
	if _, _, err := store.SetVendorStatus("tok-1", tokenstore.Inactive, "acme-feed"); err != nil {
		t.Fatal(err)
	}
	res, err = exec(t, env, in(sever.ActionTokenVendorSeen, nil))
	if err != nil || res.Enforcement != sever.VendorEnforced || res.Actor != "vendor:acme" {
		t.Fatalf("vendor acted: %+v, %v; want vendor_enforced by vendor:acme", res, err)
	}
}

func TestPermanentErrors(t *testing.T) {
	cases := []struct {
		name    string
		input   sever.ActionInput
		errType string
		want    string
	}{
		{"UnknownToken", func() sever.ActionInput { i := in(sever.ActionTokenDisable, nil); i.Credential.ID = "nope"; return i }(), "NotFound", "nope"},
		{"WrongCredentialType", func() sever.ActionInput {
			i := in(sever.ActionTokenDisable, nil)
			i.Credential.Type = sever.CredAWSAccessKey
			return i
		}(), "Unsupported", "aws_access_key"},
		{"UnknownArgument", in(sever.ActionTokenDisable, sever.Values{"resaon": "typo"}), "InvalidArgument", "resaon"},
		{"UnknownStore", in(sever.ActionTokenStatus, sever.Values{"store": "prod"}), "InvalidArgument", "prod"},
		{"BadExpect", in(sever.ActionTokenStatus, sever.Values{"expect": "revoked"}), "InvalidArgument", "revoked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, _ := setup(t)
			_, err := exec(t, env, c.input)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != c.errType || !app.NonRetryable() || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want non-retryable %s mentioning %q", err, c.errType, c.want)
			}
		})
	}
}
