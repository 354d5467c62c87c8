package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/converter"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
)

// retryInput is a runbook whose containment step the test fails first: capture,
// then disable (containment), then notify, which needs disable.
func retryInput() IncidentInput {
	d := step("disable", "test.disable", "capture")
	d.Mutating, d.Containment = true, true
	d.Args = sever.Values{"reason": "leaked"}
	return input(step("capture", "test.capture"), d, step("notify", "test.notify", "disable"))
}

func accessDenied() error {
	return temporal.NewNonRetryableApplicationError("iam:UpdateAccessKey denied to sever's role", "AccessDenied", nil)
}

func TestRetryFailedStep(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{"test.disable": accessDenied()}}
	rc.register(env, "test.capture", "test.disable", "test.notify")
	refused := map[string]error{}
	var res RetryResult
	var failed sever.Incident
	env.RegisterDelayedCallback(func() {
		failed = queryIncident(t, env)
		// The permission is granted; a person asks for the retry.
		rc.mu.Lock()
		delete(rc.errs, "test.disable")
		rc.mu.Unlock()
		for name, in := range map[string]RetryInput{
			"UnknownStep": {StepID: "nope", By: "analyst"},
			"NotFailed":   {StepID: "capture", By: "analyst"},
			"SkippedStep": {StepID: "notify", By: "analyst"},
			"NoRequester": {StepID: "disable"},
		} {
			env.UpdateWorkflow(UpdateRetry, name, &updateCB{t: t, reject: func(err error) { refused[name] = err }}, in)
		}
		env.UpdateWorkflow(UpdateRetry, "ok", &updateCB{t: t, complete: func(v any, err error) {
			if err != nil {
				t.Errorf("retry: %v", err)
				return
			}
			res = v.(RetryResult)
		}}, RetryInput{StepID: "disable", By: "analyst", Reason: "permission granted"})
		env.UpdateWorkflow(UpdateRetry, "twice", &updateCB{t: t, reject: func(err error) { refused["Twice"] = err }},
			RetryInput{StepID: "disable", By: "analyst"})
	}, 5*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "done", By: "analyst"})
		env.UpdateWorkflow(UpdateRetry, "closed", &updateCB{t: t, reject: func(err error) { refused["Closed"] = err }},
			RetryInput{StepID: "disable", By: "analyst"})
	}, 20*time.Minute)
	inc := runIncident(t, env, retryInput(), signal("s1", "e1"))

	if failed.Status != sever.IncidentFailed || stepByID(t, failed, "disable").Status != sever.StepFailed ||
		stepByID(t, failed, "notify").Status != sever.StepSkipped {
		t.Fatalf("before the retry: status %s, steps %+v; want failed, disable failed, notify skipped", failed.Status, failed.Steps)
	}
	for name, want := range map[string]string{
		"UnknownStep": "has no step", "NotFailed": "succeeded, not failed", "SkippedStep": "skipped, not failed",
		"NoRequester": "who asks", "Twice": "not failed", "Closed": "is closed",
	} {
		err := refused[name]
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: refusal %v, want one saying %q", name, err, want)
		}
		var app *temporal.ApplicationError
		if err != nil && (!errorsAs(err, &app) || app.Type() != ErrRetryRefused) {
			t.Errorf("%s: error type of %v, want %s", name, err, ErrRetryRefused)
		}
	}
	if res.Attempt != 2 || !slices.Equal(res.Steps, []string{"disable", "notify"}) {
		t.Errorf("retry result %+v, want attempt 2 of disable and notify", res)
	}
	if inc.ContainedAt == nil || !strings.Contains(inc.Reason, "") {
		t.Errorf("incident after the retry: contained_at %v (%s %s), want contained", inc.ContainedAt, inc.Status, inc.Reason)
	}
	for _, id := range []string{"capture", "disable", "notify"} {
		if st := stepByID(t, inc, id); st.Status != sever.StepSucceeded {
			t.Errorf("step %s = %s (%s), want succeeded", id, st.Status, st.Error)
		}
	}
	if got := strings.Count(strings.Join(rc.calls, " "), "capture:"); got != 1 {
		t.Errorf("capture ran %d times, want once (only failed steps run again): %v", got, rc.calls)
	}
	keys := noticesOf(env).factKeys()
	for _, want := range []string{"step/disable/outcome", "retry/1", "status/open/retry/1", "policy/disable/attempt/2",
		"step/disable/attempt/2/outcome", "step/notify/attempt/2/outcome", "status/contained/retry/1"} {
		if !slices.Contains(keys, want) {
			t.Errorf("ledger facts lack %s: %v", want, keys)
		}
	}
	for _, f := range noticesOf(env).facts {
		if f.Kind == FactStepRetry && (f.Actor != "analyst" || f.Detail["attempt"] != "2" || f.Detail["previous_status"] != "failed") {
			t.Errorf("retry fact %+v, want actor analyst, attempt 2, previous status failed", f)
		}
	}
}

// A retried step behind an approval asks again: a new request (new nonce), and the
// decision on the first attempt's request is refused.
func TestRetryAsksForApprovalAgain(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{"test.disable": accessDenied()}}
	rc.register(env, "test.disable")
	var firstNonce, secondNonce string
	var stale error
	env.RegisterDelayedCallback(func() {
		d := withNonce(t, env, decision("U1", true))
		firstNonce = d.Nonce
		env.UpdateWorkflow(UpdateDecide, "first", &updateCB{t: t}, d)
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		rc.mu.Lock()
		delete(rc.errs, "test.disable")
		rc.mu.Unlock()
		env.UpdateWorkflow(UpdateRetry, "retry", &updateCB{t: t}, RetryInput{StepID: "disable", By: "analyst"})
	}, 5*time.Minute)
	env.RegisterDelayedCallback(func() {
		st := stepByID(t, queryIncident(t, env), "disable")
		if st.Status != sever.StepWaitingApproval {
			t.Errorf("retried step is %s, want waiting_approval again", st.Status)
		}
		secondNonce = st.ApprovalNonce
		d := decision("U1", true)
		d.Nonce = firstNonce
		env.UpdateWorkflow(UpdateDecide, "stale", &updateCB{t: t, reject: func(err error) { stale = err }}, d)
		env.UpdateWorkflow(UpdateDecide, "second", &updateCB{t: t}, withNonce(t, env, decision("U1", true)))
	}, 6*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "done", By: "analyst"})
	}, 20*time.Minute)
	inc := runIncident(t, env, approvalInput(1, sever.OnTimeoutDeny), signal("s1", "e1"))

	if secondNonce == "" || secondNonce == firstNonce {
		t.Errorf("nonce of the retried request %q, first %q: want a new one", secondNonce, firstNonce)
	}
	if stale == nil || !strings.Contains(stale.Error(), "earlier or other approval request") {
		t.Errorf("decision on the first attempt's request: %v, want refused as stale", stale)
	}
	st := stepByID(t, inc, "disable")
	if st.Status != sever.StepSucceeded || inc.ContainedAt == nil || len(st.Approvals) != 1 {
		t.Errorf("disable %s with %d approvals, contained_at %v; want succeeded on the second approval", st.Status, len(st.Approvals), inc.ContainedAt)
	}
	if got := len(noticesOf(env).requests); got != 2 {
		t.Errorf("%d approval requests posted, want 2 (one per attempt)", got)
	}
}

// Runs from before the retry-step change refuse retries: their histories have no
// marker, and replay must not meet a retry path.
func TestRetryRefusedBeforeVersion(t *testing.T) {
	env := newEnv(t)
	runOfBundle(env, "")
	env.OnGetVersion(retryChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	rc := &recorder{errs: map[string]error{"test.disable": accessDenied()}}
	rc.register(env, "test.capture", "test.disable", "test.notify")
	var refused error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRetry, "old", &updateCB{t: t, reject: func(err error) { refused = err }},
			RetryInput{StepID: "disable", By: "analyst"})
		env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "done", By: "analyst"})
	}, 5*time.Minute)
	inc := runIncident(t, env, retryInput(), signal("s1", "e1"))
	if refused == nil || !strings.Contains(refused.Error(), "from before retries") {
		t.Errorf("retry on an old run: %v, want refused", refused)
	}
	if st := stepByID(t, inc, "disable"); st.Status != sever.StepFailed {
		t.Errorf("disable %s, want still failed", st.Status)
	}
}

func queryIncident(t *testing.T, env interface {
	QueryWorkflow(string, ...any) (converter.EncodedValue, error)
}) sever.Incident {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatalf("query state: %v", err)
	}
	var inc sever.Incident
	if err := v.Get(&inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// Attempts and retries travel with continue-as-new, so a second retry after it is
// attempt 3 with its own ledger keys, and a retried incident's state is carried whole.
func TestRetryCarriedOverContinueAsNew(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{"test.disable": accessDenied()}}
	rc.register(env, "test.capture", "test.disable", "test.notify")
	in := retryInput()
	in.ContinueAsNewAfter = 3
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRetry, "r1", &updateCB{t: t}, RetryInput{StepID: "disable", By: "analyst"})
	}, 5*time.Minute)
	env.RegisterDelayedCallback(func() {
		for i := range 3 {
			env.SignalWorkflow(SignalChannel, signal(fmt.Sprintf("late%d", i), fmt.Sprintf("late-ev%d", i)))
		}
	}, 10*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChannel, signal("s1", "e1")) }, 0)
	env.ExecuteWorkflow(IncidentWorkflow, in)
	next := continuedAsNew(t, env)
	c := next.Carry
	if c == nil || c.Retries != 1 || c.Attempts["disable"] != 2 || c.Attempts["notify"] != 2 || c.Phase != phaseHolding {
		t.Fatalf("carry %+v, want retries 1, disable and notify on attempt 2, holding", c)
	}
	if st := c.Incident.Steps[1]; st.Status != sever.StepFailed {
		t.Fatalf("disable carried as %s, want failed again (the error was not cleared)", st.Status)
	}

	// The next run takes a second retry: attempt 3.
	env2 := newEnv(t)
	(&recorder{}).register(env2, "test.capture", "test.disable", "test.notify")
	var res RetryResult
	env2.RegisterDelayedCallback(func() {
		env2.UpdateWorkflow(UpdateRetry, "r2", &updateCB{t: t, complete: func(v any, err error) {
			if err == nil {
				res = v.(RetryResult)
			}
		}}, RetryInput{StepID: "disable", By: "analyst"})
	}, time.Minute)
	env2.RegisterDelayedCallback(func() {
		env2.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "done", By: "analyst"})
	}, 10*time.Minute)
	next.ContinueAsNewAfter = 0
	env2.ExecuteWorkflow(IncidentWorkflow, next)
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if res.Attempt != 3 {
		t.Errorf("second retry is attempt %d, want 3", res.Attempt)
	}
	keys := noticesOf(env2).factKeys()
	for _, want := range []string{"retry/2", "step/disable/attempt/3/outcome", "status/contained/retry/2"} {
		if !slices.Contains(keys, want) {
			t.Errorf("ledger facts of the second run lack %s: %v", want, keys)
		}
	}
}
