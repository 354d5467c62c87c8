package awsact

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

const bedrockUser = "BedrockAPIKey-ab12"

// bedrockInput is input about a Bedrock API key with the given credential id.
func bedrockInput(action, id, principal string, args sever.Values) sever.ActionInput {
	in := input(action, args)
	in.Credential = sever.Credential{Provider: "aws", Type: sever.CredAWSBedrockAPIKey, ID: id, Principal: principal}
	in.Signals[0].Credential = in.Credential
	return in
}

// bearerWorks makes one InvokeModel call with the key and reports whether it succeeded.
func (d *drill) bearerWorks(credID string) bool {
	d.t.Helper()
	a, err := d.cloud.StartAttacker(d.t.Context(), drillcloud.AttackerConfig{KeyID: credID, Rate: 1000, MaxAttempts: 1, KeepTrying: true})
	if err != nil {
		d.t.Fatal(err)
	}
	<-a.Done()
	st := a.Stats()
	if st.Successes+st.Denials != 1 {
		d.t.Fatalf("bearer call neither succeeded nor was refused: %+v", st)
	}
	return st.Successes == 1
}

func TestServiceCredentialOwner(t *testing.T) {
	d := newDrill(t)
	id, err := d.cloud.CreateBedrockAPIKey(bedrockUser)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := d.cloud.BedrockAPIKeyValue(id)
	userARN := "arn:aws:iam::" + account + ":user/" + bedrockUser
	tests := []struct {
		name, id, principal string
		args                sever.Values
		wantUser, wantErr   string
		notInErr            string
	}{
		{name: "found by id alone", id: id, wantUser: bedrockUser},
		{name: "signal agrees", id: id, principal: userARN, wantUser: bedrockUser},
		{name: "signal names another user", id: id, principal: "arn:aws:iam::" + account + ":user/ci-deployer", wantErr: ErrIdentityMismatch},
		{name: "step names another user", id: id, args: sever.Values{"user": "someone"}, wantErr: ErrIdentityMismatch},
		{name: "unknown credential", id: "ACCAZZZZZZZZZZZZZZZZ", wantErr: "NotFound"},
		{name: "the key itself as id", id: secret, wantErr: "InvalidArgument", notInErr: secret},
		{name: "a short-term key itself as id", id: "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t", wantErr: "InvalidArgument", notInErr: "YmVkcm9ja"},
		{name: "short-term: minting role", id: ShortTermKeyPrefix + "arn:aws:iam::" + account + ":role/" + instanceRole},
		{name: "short-term: id and principal disagree", id: ShortTermKeyPrefix + "arn:aws:iam::" + account + ":role/" + instanceRole,
			principal: userARN, wantErr: ErrIdentityMismatch},
		{name: "short-term: another account", id: ShortTermKeyPrefix + "arn:aws:iam::999988887777:role/x", wantErr: "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.exec(bedrockInput(sever.ActionAWSServiceCredentialOwner, tc.id, tc.principal, tc.args))
			if tc.wantErr != "" {
				wantPermanent(t, err, tc.wantErr)
				if tc.notInErr != "" && strings.Contains(err.Error(), tc.notInErr) {
					t.Fatalf("error echoes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified || (tc.wantUser != "" && res.Output["user"] != tc.wantUser) {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}

// Deactivating a long-term key is read-before-write idempotent, read back, and
// stops the key working as a bearer token; activating it is the compensation.
func TestDeactivateServiceCredential(t *testing.T) {
	d := newDrill(t)
	id, err := d.cloud.CreateBedrockAPIKey(bedrockUser)
	if err != nil {
		t.Fatal(err)
	}
	if !d.bearerWorks(id) {
		t.Fatal("the key does not work before containment")
	}
	for i, wantChanged := range []bool{true, false} {
		res := d.mustExec(bedrockInput(sever.ActionAWSDeactivateServiceCredential, id, "", sever.Values{"reason": "test"}))
		if !res.Verified || res.Changed != wantChanged || res.Enforcement != sever.EnterpriseEnforced || res.Output["status"] != "Inactive" {
			t.Fatalf("attempt %d: %+v", i+1, res)
		}
	}
	if n := d.cloud.Applied("UpdateServiceSpecificCredential"); n != 1 {
		t.Errorf("UpdateServiceSpecificCredential applied %d times; want once", n)
	}
	if sc, _ := d.cloud.ServiceCredential(id); sc.Status != "Inactive" {
		t.Fatalf("drill cloud shows %s", sc.Status)
	}
	if d.bearerWorks(id) {
		t.Fatal("the key still works after deactivation")
	}
	res := d.mustExec(bedrockInput(sever.ActionAWSActivateServiceCredential, id, "", nil))
	if !res.Verified || !res.Changed || !d.bearerWorks(id) {
		t.Fatalf("activate: %+v", res)
	}
	// A short-term id has no IAM credential to set.
	_, err = d.exec(bedrockInput(sever.ActionAWSDeactivateServiceCredential, ShortTermKeyPrefix+"arn:aws:iam::"+account+":user/"+bedrockUser, "", nil))
	wantPermanent(t, err, "Unsupported", sever.ActionAWSContainShortTermBedrockKeys)
}

// Short-term keys are contained on the identity that minted them: a bearer deny and
// AWSRevokeOlderSessions, both read back; the bearer deny also refuses that identity's
// long-term keys. Release removes only the deny.
func TestContainShortTermKeys(t *testing.T) {
	d := newDrill(t)
	long, err := d.cloud.CreateBedrockAPIKey(bedrockUser)
	if err != nil {
		t.Fatal(err)
	}
	stID := ShortTermKeyPrefix + "arn:aws:iam::" + account + ":user/" + bedrockUser
	// Each run here is an activity scheduled anew, its cutoff the second it was
	// scheduled in (a retry keeps its first attempt's): the second run changes nothing
	// unless that second has passed, and then only moves the cutoff to it.
	var cutoff any
	for i := range 2 {
		res := d.mustExec(bedrockInput(sever.ActionAWSContainShortTermBedrockKeys, stID, "", nil))
		wantChanged := i == 0 || res.Output["cutoff"] != cutoff
		if !res.Verified || res.Changed != wantChanged || res.Enforcement != sever.EnterpriseEnforced ||
			res.Output["policy_cutoff"] != res.Output["cutoff"] {
			t.Fatalf("attempt %d (cutoff before %v): %+v", i+1, cutoff, res)
		}
		cutoff = res.Output["cutoff"]
	}
	if doc, ok := d.cloud.UserPolicy(bedrockUser, BearerDenyPolicyName); !ok || !strings.Contains(doc, "bedrock:CallWithBearerToken") {
		t.Fatalf("%s = %q (present %v)", BearerDenyPolicyName, doc, ok)
	}
	if _, ok := d.cloud.UserPolicy(bedrockUser, RevokePolicyName); !ok {
		t.Fatalf("no %s on %s", RevokePolicyName, bedrockUser)
	}
	if d.bearerWorks(long) {
		t.Fatal("a bearer call of the contained identity still works")
	}
	// A long-term id is refused: it has its own action.
	_, err = d.exec(bedrockInput(sever.ActionAWSContainShortTermBedrockKeys, long, "", nil))
	wantPermanent(t, err, "Unsupported")

	res := d.mustExec(bedrockInput(sever.ActionAWSReleaseShortTermBedrockKeys, stID, "", nil))
	if !res.Verified || !res.Changed {
		t.Fatalf("release: %+v", res)
	}
	if _, ok := d.cloud.UserPolicy(bedrockUser, BearerDenyPolicyName); ok {
		t.Fatal("deny still present after release")
	}
}

// FuzzParseBedrockKeyID: any credential id from a signal is either refused or yields a
// long-term id (ACCA…) or a minting identity, and an id that is a key itself is never
// echoed in the error.
func FuzzParseBedrockKeyID(f *testing.F) {
	for _, s := range []string{"ACCAEXAMPLE", "short-term:arn:aws:iam::111122223333:role/app",
		"short-term:arn:aws:sts::111122223333:assumed-role/app/s", "bedrock-api-key-abcdef", "ABSKQmVkcm9jaw==", "", "short-term:"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, id, principal string) {
		in := bedrockInput(sever.ActionAWSServiceCredentialOwner, id, principal, nil)
		minter, short, err := parseBedrockKeyID(in)
		trimmed := strings.TrimSpace(id)
		switch {
		case err != nil:
			for _, p := range secretKeyPrefixes {
				if strings.HasPrefix(trimmed, p) && len(trimmed) > len(p)+3 && strings.Contains(err.Error(), trimmed) {
					t.Fatalf("error echoes the key: %v", err)
				}
			}
		case short:
			if minter.Name == "" || (minter.Kind != "role" && minter.Kind != "user") {
				t.Fatalf("short-term id %q gave minter %+v", id, minter)
			}
		default:
			if !strings.HasPrefix(trimmed, "ACCA") {
				t.Fatalf("id %q accepted as long-term", id)
			}
		}
	})
}

// The bearer deny counts only as sever writes it: a condition, NotAction or
// NotResource can make IAM skip it, so such a document is replaced, not trusted.
func TestBearerDenyCountsOnlyAPlainStatement(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		counts bool
	}{
		{"sever's own", bearerDenyDocument(), true},
		{"every bedrock action", `{"Statement":[{"Effect":"Deny","Action":"bedrock:*","Resource":"*"}]}`, true},
		{"condition", `{"Statement":[{"Effect":"Deny","Action":"bedrock:CallWithBearerToken","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/never":"set"}}}]}`, false},
		{"NotAction", `{"Statement":[{"Effect":"Deny","Action":"bedrock:CallWithBearerToken","NotAction":"bedrock:CallWithBearerToken","Resource":"*"}]}`, false},
		{"NotResource", `{"Statement":[{"Effect":"Deny","Action":"bedrock:CallWithBearerToken","Resource":"*","NotResource":"*"}]}`, false},
		{"Allow", `{"Statement":[{"Effect":"Allow","Action":"bedrock:CallWithBearerToken","Resource":"*"}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isBearerDeny(tt.doc); got != tt.counts {
				t.Fatalf("isBearerDeny = %v, want %v", got, tt.counts)
			}
		})
	}
}
