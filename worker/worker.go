// Package worker registers sever's workflow and every action on a Temporal worker.
// It is the one place that knows which struct serves which action name.
package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever/activities"
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
	Families
}

// Families holds the structs that serve the credential families' actions against
// the clouds and vendors. It is the one list of families: the composition root
// (internal/app.Parts) embeds it and hands it to Register as it is, so a new
// family is added here and nowhere else.
type Families struct {
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
	for _, reg := range []registrar{a.Core, a.Tokens, a.Approvals, a.Audit} {
		reg.Register(r)
	}
	a.Families.register(r)
}

// registrar is what every activity struct offers: registering its actions.
type registrar interface{ Register(activities.Registrar) }

// register registers every family's actions. The families a deployment may leave
// unconfigured register with their zero value, so their actions still exist and
// fail naming the missing settings rather than as unknown activities.
func (f Families) register(r Registry) {
	for _, reg := range []registrar{f.AWS, f.Providers, orZero(f.GitHub), orZero(f.GCP), orZero(f.Azure), orZero(f.Vault)} {
		reg.Register(r)
	}
}

// orZero is p, or a zero T when p is nil.
func orZero[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}
