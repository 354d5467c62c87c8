package decisionsig

import (
	"bytes"
	"strings"
	"testing"
	"time"

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
	opened := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	c := workflows.CloseInput{Reason: "test key", By: "alice", Approver: "U1", FalsePositive: true, OpenedAt: opened}
	c.Signature = k.SignClose("inc", c)
	if err := k.VerifyClose("inc", c); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	// The lifetime is compared as an instant: a time zone or a JSON round trip
	// does not change what was signed.
	local := c
	local.OpenedAt = opened.In(time.FixedZone("CET", 3600))
	if err := k.VerifyClose("inc", local); err != nil {
		t.Errorf("the same opening time in another zone: %v", err)
	}
	unbound := workflows.CloseInput{Reason: "test key", By: "alice", Approver: "U1", FalsePositive: true}
	unbound.Signature = k.SignClose("inc", unbound)
	for name, tc := range map[string]struct {
		c    workflows.CloseInput
		want error
	}{
		"approver":       {func() workflows.CloseInput { x := c; x.Approver = "U2"; return x }(), ErrBadSignature},
		"not fp":         {func() workflows.CloseInput { x := c; x.FalsePositive = false; return x }(), ErrBadSignature},
		"unsigned":       {func() workflows.CloseInput { x := c; x.Signature = ""; return x }(), ErrUnsigned},
		"other lifetime": {func() workflows.CloseInput { x := c; x.OpenedAt = opened.Add(time.Nanosecond); return x }(), ErrBadSignature},
		"lifetime gone":  {func() workflows.CloseInput { x := c; x.OpenedAt = time.Time{}; return x }(), ErrBadSignature},
		// Signed by a key holder but for no lifetime: the workflow could not tell
		// it from a close captured from an earlier incident.
		"unbound": {unbound, ErrUnbound},
	} {
		if err := k.VerifyClose("inc", tc.c); err != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if err := k.VerifyClose("other", c); err != ErrBadSignature {
		t.Errorf("a close signed for another incident: %v, want %v", err, ErrBadSignature)
	}
}

func TestSignRetry(t *testing.T) {
	k, _ := New([]byte(strings.Repeat("k", MinKeyBytes)))
	opened := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	r := workflows.RetryInput{StepID: "revoke", Reason: "granted iam:UpdateAccessKey", By: "alice", OpenedAt: opened, Attempt: 1}
	r.Signature = k.SignRetry("inc", r)
	if err := k.VerifyRetry("inc", r); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	signed := func(x workflows.RetryInput) workflows.RetryInput { x.Signature = k.SignRetry("inc", x); return x }
	for name, tc := range map[string]struct {
		r    workflows.RetryInput
		want error
	}{
		"unsigned":       {func() workflows.RetryInput { x := r; x.Signature = ""; return x }(), ErrUnsigned},
		"not hex":        {func() workflows.RetryInput { x := r; x.Signature = "zz"; return x }(), ErrBadSignature},
		"other step":     {func() workflows.RetryInput { x := r; x.StepID = "disable"; return x }(), ErrBadSignature},
		"other asker":    {func() workflows.RetryInput { x := r; x.By = "ciso"; return x }(), ErrBadSignature},
		"other reason":   {func() workflows.RetryInput { x := r; x.Reason = "approved by the CISO"; return x }(), ErrBadSignature},
		"later attempt":  {func() workflows.RetryInput { x := r; x.Attempt = 2; return x }(), ErrBadSignature},
		"other lifetime": {func() workflows.RetryInput { x := r; x.OpenedAt = opened.Add(time.Second); return x }(), ErrBadSignature},
		"no lifetime":    {signed(workflows.RetryInput{StepID: "revoke", By: "alice", Attempt: 1}), ErrUnbound},
		"no attempt":     {signed(workflows.RetryInput{StepID: "revoke", By: "alice", OpenedAt: opened}), ErrUnbound},
	} {
		if err := k.VerifyRetry("inc", tc.r); err != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if err := k.VerifyRetry("other", r); err != ErrBadSignature {
		t.Errorf("a retry signed for another incident: %v, want %v", err, ErrBadSignature)
	}
	// A retry's signature is no decision's or close's, whatever their fields.
	c := workflows.CloseInput{Reason: r.Reason, By: r.By, OpenedAt: opened, Signature: r.Signature}
	if err := k.VerifyClose("inc", c); err != ErrBadSignature {
		t.Errorf("a retry's signature on a close: %v, want %v", err, ErrBadSignature)
	}
}
