package workflows

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

var mockAny = mock.Anything

func decodePayloads(can *workflow.ContinueAsNewError, into any) error {
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, into)
}

// continuedAsNew stops the test unless the workflow env ran ended in
// continue-as-new, and returns the input the next run starts with.
func continuedAsNew(t *testing.T, env *testsuite.TestWorkflowEnvironment) IncidentInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow error = %v, want continue-as-new", err)
	}
	var next IncidentInput
	if err := decodePayloads(can, &next); err != nil {
		t.Fatalf("decoding the continue-as-new input: %v", err)
	}
	return next
}

// updateCB collects the outcome of a test update.
type updateCB struct {
	t        *testing.T
	reject   func(error)
	complete func(any, error)
}

func (u *updateCB) Accept() {}

func (u *updateCB) Reject(err error) {
	if u.reject != nil {
		u.reject(err)
		return
	}
	u.t.Errorf("update rejected: %v", err)
}

func (u *updateCB) Complete(success any, err error) {
	if u.complete != nil {
		u.complete(success, err)
	}
}

// bundles lists the version bundles, newest first, as startVersions reads them.
var bundles = []string{CurrentChange, dupReceiptsBundle, localStepsBundle, localLedgerBundle, decemberBundle}

// runOfBundle makes env replay a run recorded under bundle: newer bundles find no
// marker, bundle finds its own. bundle "" is a run from before any bundle.
func runOfBundle(env *testsuite.TestWorkflowEnvironment, bundle string) {
	for _, b := range bundles {
		if b == bundle {
			env.OnGetVersion(b, workflow.DefaultVersion, 1).Return(workflow.Version(1))
			return
		}
		env.OnGetVersion(b, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	}
}
