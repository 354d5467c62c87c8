package app

import (
	"fmt"

	"github.com/sever-ir/sever/activities/azureact"
	"github.com/sever-ir/sever/drillcloud"
)

// drillAzure serves an Azure twin on the drill cloud and points the azure.*
// actions at it. sever signs in as its own application of the twin's tenant with
// a client secret minted for this run, through azidentity's client-secret
// credential (what DefaultAzureCredential builds from AZURE_CLIENT_SECRET); the
// drill client sends the requests for Azure's real hosts to the drill cloud, so
// the Azure clients run unmodified. The twin starts with no workload
// applications or accounts; drills add the ones they treat as leaked
// (drillcloud.AzureTwin.AddApp, AddSecret, AddOpenAIAccount).
func drillAzure(cloud *drillcloud.Cloud) (*azureact.Activities, error) {
	twin := drillcloud.NewAzureTwin()
	app := twin.AddApp("sever", true)
	_, secret, err := twin.AddSecret(app, "sever dev")
	if err != nil {
		return nil, fmt.Errorf("drill azure: %w", err)
	}
	cloud.ServeAzure(twin)
	hc := drillcloud.AzureClient(cloud.URL())
	cred, err := azureact.SecretCredential(twin.TenantID, app, secret, hc)
	if err != nil {
		return nil, fmt.Errorf("drill azure: %w", err)
	}
	return &azureact.Activities{Credential: cred, HTTP: hc}, nil
}
