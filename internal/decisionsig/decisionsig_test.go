package decisionsig

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sever-ir/sever/workflows"
)

func TestCanonicalSeparatesFields(t *testing.T) {
	base := workflows.DecisionInput{StepID: "s", Approve: true, Approver: "U1", Channel: "api", ArgsSHA256: "a", Nonce: "n"}
	shifted := base
	// Moving a character from one field to the next must change the encoding.
	shifted.Approver, shifted.Channel = "U1a", "pi"
	for name, d := range map[string]workflows.DecisionInput{
		"shifted": shifted,
		"deny":    func() workflows.DecisionInput { d := base; d.Approve = false; return d }(),
		"nonce":   func() workflows.DecisionInput { d := base; d.Nonce = "m"; return d }(),
	} {
		if bytes.Equal(Canonical("inc", base), Canonical("inc", d)) {
			t.Errorf("%s encodes like the original", name)
		}
	}
	if bytes.Equal(Canonical("inc", base), Canonical("inc2", base)) {
		t.Error("the incident is not covered")
	}
}

func TestSignVerify(t *testing.T) {
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
	k, err := New([]byte(strings.Repeat("k", MinKeyBytes)))
	if err != nil {
		t.Fatal(err)
	}
	d := workflows.DecisionInput{StepID: "s", Approve: true, Approver: "U1", Channel: "api", ArgsSHA256: "a", Nonce: "n"}
	d.Signature = k.Sign("inc", d)
	if err := k.Verify("inc", d); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	// The reason is the person's comment and may be edited by the API layer.
	d.Reason = "changed"
	if err := k.Verify("inc", d); err != nil {
		t.Errorf("reason is covered: %v", err)
	}
	for name, tc := range map[string]struct {
		d    workflows.DecisionInput
		want error
	}{
		"unsigned":  {func() workflows.DecisionInput { x := d; x.Signature = ""; return x }(), ErrUnsigned},
		"not hex":   {func() workflows.DecisionInput { x := d; x.Signature = "zz"; return x }(), ErrBadSignature},
		"other app": {func() workflows.DecisionInput { x := d; x.Approver = "U2"; return x }(), ErrBadSignature},
	} {
		if err := k.Verify("inc", tc.d); err != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestSignClose(t *testing.T) {
	k, _ := New([]byte(strings.Repeat("k", MinKeyBytes)))
	c := workflows.CloseInput{Reason: "test key", By: "alice", Approver: "U1", FalsePositive: true}
	c.Signature = k.SignClose("inc", c)
	if err := k.VerifyClose("inc", c); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	for name, x := range map[string]workflows.CloseInput{
		"approver": func() workflows.CloseInput { x := c; x.Approver = "U2"; return x }(),
		"not fp":   func() workflows.CloseInput { x := c; x.FalsePositive = false; return x }(),
		"unsigned": func() workflows.CloseInput { x := c; x.Signature = ""; return x }(),
	} {
		if err := k.VerifyClose("inc", x); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := k.VerifyClose("other", c); err == nil {
		t.Error("a close signed for another incident was accepted")
	}
}
