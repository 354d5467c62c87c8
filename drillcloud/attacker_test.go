package drillcloud

import (
	"strings"
	"testing"
	"time"
)

func TestAttackerStopsWhenKeyDeactivated(t *testing.T) {
	c := defaultCloud(t)
	// Default operations: s3:ListBuckets and bedrock:InvokeModel (LLMjacking).
	a, err := c.StartAttacker(ctx(t), AttackerConfig{KeyID: DefaultCompromisedKeyID, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "attacker successes", 5*time.Second, func() bool { return a.Stats().Successes >= 5 })

	if _, err := iamFor(t, c, DefaultResponderKeyID).UpdateAccessKey(ctx(t), deactivateInput()); err != nil {
		t.Fatal(err)
	}
	contained := time.Now()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("attacker still running after the key was deactivated")
	}
	st := a.Stats()
	if st.Running || st.Denials != 2 || st.ByOperation[AttackListBuckets].Successes == 0 || st.ByOperation[AttackInvokeModel].Successes == 0 ||
		!strings.Contains(st.StopReason, "every operation refused") {
		t.Fatalf("stats = %+v", st)
	}
	// A call already in flight when the key was deactivated may land just
	// after; nothing later may succeed.
	if n := a.SuccessesAfter(contained); n > 1 {
		t.Fatalf("%d successes after containment", n)
	}
	if st.LastSuccess.After(st.LastDenial) {
		t.Fatalf("last success %v after last denial %v", st.LastSuccess, st.LastDenial)
	}
	if len(c.Invocations()) != st.ByOperation[AttackInvokeModel].Successes {
		t.Fatalf("%d invocations recorded for %d successes", len(c.Invocations()), st.ByOperation[AttackInvokeModel].Successes)
	}
	// The attacker's calls are logged from its own address.
	for _, e := range c.CallsBy(DefaultCompromisedKeyID) {
		if e.SourceIP != defaultAttackerIP {
			t.Fatalf("attacker call logged from %s", e.SourceIP)
		}
	}
}

func TestAttackerPivotsToSession(t *testing.T) {
	c := defaultCloud(t)
	a, err := c.StartAttacker(ctx(t), AttackerConfig{
		KeyID: DefaultCompromisedKeyID, Rate: 100, PivotToSession: true,
		Operations: []string{AttackGetSessionToken, AttackGetCallerID},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pivot to a session", 5*time.Second, func() bool { return a.Stats().SessionKeyID != "" })
	if _, err := iamFor(t, c, DefaultResponderKeyID).UpdateAccessKey(ctx(t), deactivateInput()); err != nil {
		t.Fatal(err)
	}
	// Deactivating the key does not end the session it minted, which is why
	// runbooks also revoke older sessions.
	deactivated := time.Now()
	waitFor(t, "session keeps working", 5*time.Second, func() bool { return a.SuccessesAfter(deactivated) >= 3 })
	a.Stop()
	if st := a.Stats(); st.Running || st.StopReason != "context done" {
		t.Fatalf("stats after Stop = %+v", st)
	}
}

func TestStartAttackerValidation(t *testing.T) {
	c := defaultCloud(t)
	for _, cfg := range []AttackerConfig{
		{KeyID: DefaultCompromisedKeyID, Operations: []string{"s3:DeleteBucket"}},
		{KeyID: DefaultCompromisedKeyID, Rate: -1},
		{KeyID: "AKIANOSUCHKEY0000001"},
	} {
		if _, err := c.StartAttacker(ctx(t), cfg); err == nil {
			t.Errorf("StartAttacker(%+v) succeeded", cfg)
		}
	}
}
