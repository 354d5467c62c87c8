package providers

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/internal/acttest"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/drillcloud"
)

// runAction runs one action the way the incident workflow does: capped retries, and
// the permanent error types not retried.
func runAction(ctx workflow.Context, in sever.ActionInput) (sever.ActionResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2,
			MaximumAttempts: 5, NonRetryableErrorTypes: contract.NonRetryableErrorTypes}})
	var res sever.ActionResult
	err := workflow.ExecuteActivity(ctx, in.Action, in).Get(ctx, &res)
	return res, err
}

func (d *drill) underTemporal(in sever.ActionInput) (sever.ActionResult, error) {
	d.t.Helper()
	env := acttest.Suite().NewTestWorkflowEnvironment()
	d.acts.Register(env)
	env.RegisterWorkflow(runAction)
	env.ExecuteWorkflow(runAction, in)
	if !env.IsWorkflowCompleted() {
		d.t.Fatal("workflow did not complete")
	}
	var res sever.ActionResult
	if err := env.GetWorkflowError(); err != nil {
		return res, err
	}
	return res, env.GetWorkflowResult(&res)
}

// Temporal retries what the provider throttles or drops, and each write lands once.
func TestTemporalRetriesProviderFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []drillcloud.Fault
		in     sever.ActionInput
		// landed counts the writes that reached the provider (what) once.
		landed func(d *drill) int
		what   string
	}{
		{name: "anthropic", in: anthropicInput(sever.ActionAnthropicDisableKey, nil), what: "UpdateAPIKey sent",
			faults: []drillcloud.Fault{
				{Service: "anthropic", Operation: "GetAPIKey", Kind: drillcloud.FaultThrottle, Count: 1},
				{Service: "anthropic", Operation: "UpdateAPIKey", Kind: drillcloud.FaultDropResponse, Count: 1}},
			landed: func(d *drill) int { return d.calls("anthropic", "UpdateAPIKey") }},
		{name: "openai", in: openAIInput(sever.ActionOpenAIRevokeKey, nil), what: "DELETE applied",
			faults: []drillcloud.Fault{
				{Service: "openai", Operation: "DeleteProjectAPIKey", Kind: drillcloud.FaultServerError, Count: 1},
				{Service: "openai", Operation: "DeleteProjectAPIKey", Kind: drillcloud.FaultDropResponse, Count: 1}},
			landed: func(d *drill) int { return d.cloud.Applied("openai:DeleteProjectAPIKey") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDrill(t)
			for _, f := range tc.faults {
				d.fault(f)
			}
			res, err := d.underTemporal(tc.in)
			if err != nil || !res.Verified || !res.Changed {
				t.Fatalf("%s = %+v, %v", tc.in.Action, res, err)
			}
			if n := tc.landed(d); n != 1 || len(d.cloud.PendingFaults()) != 0 {
				t.Fatalf("%s %d times; faults left %v", tc.what, n, d.cloud.PendingFaults())
			}
		})
	}
	t.Run("permanent errors are not retried", func(t *testing.T) {
		d := newDrill(t)
		in := withCred(anthropicInput(sever.ActionAnthropicDisableKey, nil), func(c *sever.Credential) { c.ID = "apikey_01NoSuchKey" })
		_, err := d.underTemporal(in)
		if err == nil || !strings.Contains(err.Error(), "NotFound") {
			t.Fatalf("err = %v", err)
		}
		if n := d.calls("anthropic", "GetAPIKey"); n != 1 {
			t.Fatalf("a NotFound was tried %d times", n)
		}
	})
}

// The built-in runbook's provider steps, run with their exact arguments the way the
// interpreter calls them (action, then its verify), contain each provider's key.
func TestBuiltinRunbookAgainstDrillCloud(t *testing.T) {
	lib, _ := acttest.Builtin(t)
	for _, tc := range []struct {
		provider string
		in       func(string, sever.Values) sever.ActionInput
	}{{"anthropic", anthropicInput}, {"openai", openAIInput}} {
		t.Run(tc.provider, func(t *testing.T) {
			d := newDrill(t)
			rb, err := lib.Select(tc.in("", nil).Credential.Type, sever.KindAbuseReport)
			if err != nil || rb.Name != "llm-api-key-abused" {
				t.Fatalf("Select = %v, %v", rb, err)
			}
			contained := false
			for _, st := range rb.Steps {
				if !strings.HasPrefix(st.Action, tc.provider+".") {
					continue
				}
				in := tc.in(st.Action, st.Args)
				in.StepID, in.IdempotencyKey = st.ID, "inc-llm-test/1/"+st.ID
				res := d.mustExec(in)
				if st.Verify != nil {
					vin := in
					vin.Action, vin.Args = st.Verify.Action, st.Verify.Args
					res.Verified = d.mustExec(vin).Verified
				}
				if st.Containment {
					if !res.Verified || res.Enforcement != sever.EnterpriseEnforced {
						t.Errorf("containment step %s = %+v", st.ID, res)
					}
					contained = true
				}
			}
			if !contained {
				t.Fatal("no containment step ran")
			}
			for _, k := range d.cloud.ProviderKeys() {
				if k.Provider == tc.provider && k.Status == "active" {
					t.Errorf("%s key %s still active", k.Provider, k.ID)
				}
			}
		})
	}
}
