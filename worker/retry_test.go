package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/workflows"
)

// retryEnv runs an incident whose one mutating step, revoke, fails for good on the
// attempts fails says (1-based) and succeeds on the others. It returns how many
// times the step ran and the ledger facts written.
func retryEnv(t *testing.T, key *decisionsig.Key, fails ...int) (env *testsuite.TestWorkflowEnvironment, in workflows.IncidentInput, attempts *int, facts *[]contract.LedgerFact) {
	env, _ = newSignedEnv(t, key)
	in = approvalIncident()
	in.Hold = sever.Duration(time.Hour)
	st := in.Runbook.Steps[0]
	st.ID, st.Action, st.Approval = "revoke", "test.revoke", nil
	in.Runbook.Steps[0] = st
	attempts, facts = new(int), new([]contract.LedgerFact)
	env.RegisterActivityWithOptions(func(context.Context, sever.ActionInput) (sever.ActionResult, error) {
		*attempts++
		for _, n := range fails {
			if n == *attempts {
				return sever.ActionResult{}, temporal.NewNonRetryableApplicationError("denied", "AccessDenied", errors.New("denied"))
			}
		}
		return sever.ActionResult{Verified: true}, nil
	}, activity.RegisterOptions{Name: "test.revoke"})
	env.OnActivity(contract.ActivityLedgerAppend, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.LedgerAppendInput) (contract.LedgerAppendResult, error) {
			*facts = append(*facts, in.Facts...)
			return contract.LedgerAppendResult{Appended: len(in.Facts)}, nil
		})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalChannel, sever.Signal{ID: "s1", Source: "siem", SourceEventID: "e1",
			Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed, Credential: testCred, Receipt: "r1"})
	}, 0)
	return env, in, attempts, facts
}

// engineRetry builds the retry the engine sends for the failed step as the
// incident is now: bound to its opening time and the step's attempt, signed.
func engineRetry(t *testing.T, env *testsuite.TestWorkflowEnvironment, key *decisionsig.Key, by, reason string) workflows.RetryInput {
	t.Helper()
	inc := stateOf(t, env)
	r := workflows.RetryInput{StepID: "revoke", Reason: reason, By: by, OpenedAt: inc.OpenedAt, Attempt: inc.Steps[0].Attempt}
	r.Signature = key.SignRetry("inc-sig", r)
	return r
}

func retryFacts(facts []contract.LedgerFact) []contract.LedgerFact {
	var out []contract.LedgerFact
	for _, f := range facts {
		if f.Kind == workflows.FactStepRetry {
			out = append(out, f)
		}
	}
	return out
}

// A client with raw access to the Temporal frontend (no decision key) sends the
// retry Update directly, naming anyone it likes as the one who asked. The worker
// refuses it as it refuses an unsigned decision: the failed mutating step does not
// run again and the ledger records no retry in the forged name.
func TestUnsignedRetryRefused(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	env, in, attempts, facts := retryEnv(t, key, 1)
	cb := &updateCB{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRetry, "raw-retry", cb,
			workflows.RetryInput{StepID: "revoke", Reason: "approved by the CISO", By: "ciso"})
	}, time.Minute)
	env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
	actor := ""
	for _, f := range retryFacts(*facts) {
		actor = f.Actor
	}
	if cb.accepted || cb.rejected == nil {
		t.Fatalf("unsigned retry from a raw frontend client accepted: step ran %d times, ledger step_retry actor %q", *attempts, actor)
	}
}

// Every other retry the engine did not sign, for exactly this step, asker, reason,
// incident lifetime and attempt, is refused by the worker before the workflow sees
// it.
func TestForgedRetriesRefused(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := decisionsig.New([]byte(strings.Repeat("o", 32)))
	for _, tc := range []struct {
		name  string
		forge func(signed workflows.RetryInput) workflows.RetryInput
	}{
		{"other key", func(r workflows.RetryInput) workflows.RetryInput {
			r.Signature = other.SignRetry("inc-sig", r)
			return r
		}},
		{"other incident", func(r workflows.RetryInput) workflows.RetryInput {
			r.Signature = key.SignRetry("inc-other", r)
			return r
		}},
		{"not hex", func(r workflows.RetryInput) workflows.RetryInput { r.Signature = "zz"; return r }},
		// A signature lifted from alice's retry does not cover the CISO asking.
		{"asker swapped", func(r workflows.RetryInput) workflows.RetryInput { r.By = "ciso"; return r }},
		{"reason swapped", func(r workflows.RetryInput) workflows.RetryInput { r.Reason = "approved by the CISO"; return r }},
		// Signed, but for no lifetime or attempt: the workflow could not tell it
		// from one captured earlier.
		{"unbound", func(r workflows.RetryInput) workflows.RetryInput {
			r.OpenedAt, r.Attempt = time.Time{}, 0
			r.Signature = key.SignRetry("inc-sig", r)
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, in, attempts, facts := retryEnv(t, key, 1)
			cb := &updateCB{}
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdateRetry, "forged", cb, tc.forge(engineRetry(t, env, key, "alice", "granted iam:UpdateAccessKey")))
			}, time.Minute)
			env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
			if cb.accepted || !isAppError(cb.rejected, "Forbidden") || !strings.Contains(cb.rejected.Error(), "accepted only through sever") {
				t.Errorf("accepted=%v rejected=%v; want refused by the signature check", cb.accepted, cb.rejected)
			}
			if *attempts != 1 || len(retryFacts(*facts)) != 0 {
				t.Errorf("step ran %d times, %d step_retry facts; want once and none", *attempts, len(retryFacts(*facts)))
			}
		})
	}
}

// The engine's retry, signed for the failed attempt, runs the step again, and the
// ledger's step_retry fact names whom the engine signed it for.
func TestSignedRetryAccepted(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	env, in, attempts, facts := retryEnv(t, key, 1)
	cb := &updateCB{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRetry, "retry", cb, engineRetry(t, env, key, "alice", "granted iam:UpdateAccessKey"))
	}, time.Minute)
	env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
	if !cb.accepted || cb.rejected != nil {
		t.Fatalf("the engine's retry was refused: %v", cb.rejected)
	}
	var res workflows.IncidentResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if *attempts != 2 || res.Incident.Steps[0].Status != sever.StepSucceeded {
		t.Errorf("step ran %d times and is %s; want a second attempt that succeeded", *attempts, res.Incident.Steps[0].Status)
	}
	rf := retryFacts(*facts)
	if len(rf) != 1 || rf[0].Actor != "alice" || !strings.Contains(rf[0].Result, "granted iam:UpdateAccessKey") {
		t.Fatalf("step_retry facts %+v; want one by alice with her reason", rf)
	}
}

// A signed retry stays readable in the history once accepted. When the step fails
// again, replaying it is refused as stale (it was made for the first attempt), so
// it cannot run the mutating step again; the engine's retry of the new failure is
// accepted.
func TestRetryReplayedForLaterAttemptRefused(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	env, in, attempts, facts := retryEnv(t, key, 1, 2)
	var first workflows.RetryInput
	firstCB, replay, second := &updateCB{}, &updateCB{}, &updateCB{}
	attemptSeen := 0
	env.RegisterDelayedCallback(func() {
		first = engineRetry(t, env, key, "alice", "granted iam:UpdateAccessKey")
		env.UpdateWorkflow(workflows.UpdateRetry, "retry-1", firstCB, first)
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		attemptSeen = stateOf(t, env).Steps[0].Attempt
		env.UpdateWorkflow(workflows.UpdateRetry, "replayed-retry", replay, first)
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRetry, "retry-2", second, engineRetry(t, env, key, "alice", "granted it for real"))
	}, 3*time.Minute)
	env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
	if !firstCB.accepted || first.Attempt != 1 {
		t.Fatalf("the first retry (attempt %d): accepted=%v rejected=%v; want accepted for attempt 1", first.Attempt, firstCB.accepted, firstCB.rejected)
	}
	if attemptSeen != 2 {
		t.Fatalf("after the second failure the step reports attempt %d; want 2", attemptSeen)
	}
	if replay.accepted || !isAppError(replay.rejected, workflows.ErrRetryRefused) || !strings.Contains(replay.rejected.Error(), "stale retry") {
		t.Fatalf("the first retry replayed after the second failure: accepted=%v rejected=%v; want refused as a stale retry",
			replay.accepted, replay.rejected)
	}
	if !second.accepted || second.rejected != nil {
		t.Fatalf("the engine's retry of attempt 2 was refused: %v", second.rejected)
	}
	if *attempts != 3 || len(retryFacts(*facts)) != 2 {
		t.Errorf("step ran %d times with %d step_retry facts; want 3 runs, one per accepted retry", *attempts, len(retryFacts(*facts)))
	}
}

// A retry signed for an earlier incident under the same ID (the same step failed
// there too) is refused as stale: it names that incident's opening time.
func TestRetryFromEarlierIncidentRefused(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	env, in, attempts, _ := retryEnv(t, key, 1)
	cb := &updateCB{}
	env.RegisterDelayedCallback(func() {
		r := engineRetry(t, env, key, "alice", "granted iam:UpdateAccessKey")
		r.OpenedAt = r.OpenedAt.Add(-24 * time.Hour)
		r.Signature = key.SignRetry("inc-sig", r)
		env.UpdateWorkflow(workflows.UpdateRetry, "earlier", cb, r)
	}, time.Minute)
	env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
	if cb.accepted || !isAppError(cb.rejected, workflows.ErrRetryRefused) || !strings.Contains(cb.rejected.Error(), "stale retry") {
		t.Fatalf("accepted=%v rejected=%v; want refused as a stale retry", cb.accepted, cb.rejected)
	}
	if *attempts != 1 {
		t.Errorf("step ran %d times; want once", *attempts)
	}
}
