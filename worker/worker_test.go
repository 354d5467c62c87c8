package worker

import (
	"slices"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/approvals"
	"github.com/sever-ir/sever/activities/audit"
	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/activities/core"
	"github.com/sever-ir/sever/activities/providers"
	"github.com/sever-ir/sever/activities/tokens"
	"github.com/sever-ir/sever/contract"
)

type names struct{ activities, workflows []string }

func (n *names) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	n.workflows = append(n.workflows, o.Name)
}

func (n *names) RegisterActivityWithOptions(_ any, o activity.RegisterOptions) {
	n.activities = append(n.activities, o.Name)
}

// Every catalog action must be served, and nothing outside the catalog registered:
// a runbook that passes lint must never name an action no worker runs.
func TestEveryCatalogActionIsRegistered(t *testing.T) {
	var n names
	Register(&n, Actions{Core: &core.Activities{}, Tokens: &tokens.Activities{}, Approvals: &approvals.Activities{}, Audit: &audit.Activities{},
		Families: Families{AWS: awsact.New(nil, nil), Providers: &providers.Activities{}}})
	slices.Sort(n.activities)
	want := append(sever.ActionNames(), contract.ActivityApprovalOutcome, contract.ActivityRequestApproval, contract.ActivityLedgerAppend, contract.ActivityNotice)
	slices.Sort(want)
	if !slices.Equal(n.activities, want) {
		t.Errorf("registered %v\ncatalog    %v", n.activities, want)
	}
	if len(n.workflows) != 1 {
		t.Errorf("workflows = %v", n.workflows)
	}
}
