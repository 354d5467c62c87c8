package workflows

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/tokenstore"
)

// A retry is asked for because the first attempt's change is not in place. The
// step's first attempt disables a token, its read-back fails, and meanwhile the
// token is switched back on; the retry must disable it again. The token store, like
// any action that dedupes on the idempotency key, takes a request with a key it has
// applied for a replay and changes nothing, so each attempt needs a key of its own.
// Runs recorded before the change keep the first attempt's key, as they ran.
func TestRetriedStepHasItsOwnIdempotencyKey(t *testing.T) {
	tests := []struct {
		name      string
		bundle    string
		want      string
		sameKeys  bool
		wantState sever.StepStatus
	}{
		{"current", "", tokenstore.Inactive, false, sever.StepSucceeded},
		{"run of the bundle before", dupReceiptsBundle, tokenstore.Active, true, sever.StepSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := tokenstore.Open(filepath.Join(t.TempDir(), "tokens.json"))
			if err := store.Put(tokenstore.Token{ID: cred.ID, Status: tokenstore.Active}); err != nil {
				t.Fatal(err)
			}
			env := newEnv(t)
			if tt.bundle != "" {
				runOfBundle(env, tt.bundle)
			}
			var keys []string
			env.RegisterActivityWithOptions(func(_ context.Context, in sever.ActionInput) (sever.ActionResult, error) {
				keys = append(keys, in.IdempotencyKey)
				_, changed, err := store.SetStatus(in.Credential.ID, tokenstore.Inactive, in.IdempotencyKey, "sever", "incident")
				if err != nil {
					return sever.ActionResult{}, err
				}
				back, _ := store.Get(in.Credential.ID)
				return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: back.Status == tokenstore.Inactive, Changed: changed}, nil
			}, activity.RegisterOptions{Name: "test.disable"})
			reads := 0
			env.RegisterActivityWithOptions(func(_ context.Context, in sever.ActionInput) (sever.ActionResult, error) {
				reads++
				if reads == 1 { // the first read-back fails, so the step fails
					return sever.ActionResult{}, temporal.NewNonRetryableApplicationError("token store unreachable", "Unavailable", errors.New("unreachable"))
				}
				back, _ := store.Get(in.Credential.ID)
				return sever.ActionResult{Verified: back.Status == tokenstore.Inactive}, nil
			}, activity.RegisterOptions{Name: "test.status"})
			d := step("disable", "test.disable")
			d.Mutating, d.Containment = true, true
			d.Verify = &sever.VerifySpec{Action: "test.status"}
			env.RegisterDelayedCallback(func() {
				// Meanwhile someone switches the token back on.
				if _, _, err := store.SetStatus(cred.ID, tokenstore.Active, "admin/1", "admin", "service broke"); err != nil {
					t.Error(err)
				}
				env.UpdateWorkflow(UpdateRetry, "retry", &updateCB{t: t}, RetryInput{StepID: "disable", By: "analyst", Reason: "contain again"})
			}, 5*time.Minute)
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "done", By: "analyst"})
			}, 20*time.Minute)
			inc := runIncident(t, env, input(d), signal("s1", "e1"))
			tok, err := store.Get(cred.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 2 || (keys[0] == keys[1]) != tt.sameKeys {
				t.Fatalf("idempotency keys of the two attempts %q; same key: want %v", keys, tt.sameKeys)
			}
			if st := stepByID(t, inc, "disable"); tok.Status != tt.want || st.Status != tt.wantState {
				t.Fatalf("after the retry the token is %s, want %s; step %s verified=%v (%s), incident %s",
					tok.Status, tt.want, st.Status, st.Verified, st.Error, inc.Reason)
			}
		})
	}
}

// The incident keeps the attempt a retry replaced: disable fails (AccessDenied), a
// person retries it and it succeeds; the incident (and so its report) still shows
// the first attempt, failed, with its error.
func TestRetryKeepsTheFailedAttempt(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{"test.disable": accessDenied()}}
	rc.register(env, "test.capture", "test.disable", "test.notify")
	env.RegisterDelayedCallback(func() {
		rc.mu.Lock()
		delete(rc.errs, "test.disable")
		rc.mu.Unlock()
		env.UpdateWorkflow(UpdateRetry, "retry", &updateCB{t: t}, RetryInput{StepID: "disable", By: "analyst", Reason: "permission granted"})
	}, 5*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "done", By: "analyst"})
	}, 20*time.Minute)
	inc := runIncident(t, env, retryInput(), signal("s1", "e1"))
	if st := stepByID(t, inc, "disable"); st.Status != sever.StepSucceeded {
		t.Fatalf("disable after the retry = %s (%s)", st.Status, st.Error)
	}
	if len(inc.PriorAttempts) != 1 {
		t.Fatalf("prior attempts %+v; want the failed first attempt of disable", inc.PriorAttempts)
	}
	if p := inc.PriorAttempts[0]; p.ID != "disable" || p.Attempt != 1 || p.Status != sever.StepFailed ||
		!strings.Contains(p.Error, "denied") || p.StartedAt == nil || p.EndedAt == nil {
		t.Errorf("prior attempt = %+v; want disable, attempt 1, failed with its error and times", p)
	}
}
