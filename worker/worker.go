// Package worker registers sever's workflow and every action on a Temporal worker.
// It is the one place that knows which struct serves which action name.
package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever/activities/approvals"
	"github.com/sever-ir/sever/activities/audit"
	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/activities/azureact"
	"github.com/sever-ir/sever/activities/core"
	"github.com/sever-ir/sever/activities/gcpact"
	"github.com/sever-ir/sever/activities/githubact"
	"github.com/sever-ir/sever/activities/providers"
	"github.com/sever-ir/sever/activities/tokens"
	"github.com/sever-ir/sever/activities/vaultact"
	"github.com/sever-ir/sever/workflows"
)

// Registry is the part of a Temporal worker that registration needs.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Actions holds the structs that serve the actions, each with its clients.
type Actions struct {
	Core      *core.Activities
	Tokens    *tokens.Activities
	Approvals *approvals.Activities
	Audit     *audit.Activities
	AWS       *awsact.Activities
	Providers *providers.Activities
	// GitHub serves the github.* actions; nil = no GitHub App configured, and they
	// fail AccessDenied naming the settings.
	GitHub *githubact.Activities
	// GCP serves the gcp.* actions; nil = Application Default Credentials and
	// Google's endpoints.
	GCP *gcpact.Activities
	// Azure serves the azure.* actions; nil = the standard credential chain
	// (DefaultAzureCredential) and Azure's public endpoints.
	Azure *azureact.Activities
	// Vault serves the vault.* actions; nil = the standard VAULT_* environment.
	Vault *vaultact.Activities
}

// Register registers the Incident workflow and every action.
func Register(r Registry, a Actions) {
	r.RegisterWorkflowWithOptions(workflows.Incident, workflow.RegisterOptions{Name: workflows.IncidentWorkflow})
	a.Core.Register(r)
	a.Tokens.Register(r)
	a.Approvals.Register(r)
	a.Audit.Register(r)
	a.AWS.Register(r)
	a.Providers.Register(r)
	gh := a.GitHub
	if gh == nil {
		gh = &githubact.Activities{}
	}
	gh.Register(r)
	gcp := a.GCP
	if gcp == nil {
		gcp = &gcpact.Activities{}
	}
	gcp.Register(r)
	az := a.Azure
	if az == nil {
		az = &azureact.Activities{}
	}
	az.Register(r)
	vlt := a.Vault
	if vlt == nil {
		vlt = &vaultact.Activities{}
	}
	vlt.Register(r)
}
