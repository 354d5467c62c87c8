package app

import (
	"fmt"

	"google.golang.org/api/option"

	"github.com/sever-ir/sever/activities/gcpact"
	"github.com/sever-ir/sever/drillcloud"
)

// drillGCP serves a GCP twin on the drill cloud and points the gcp.* actions at
// it with the key file of sever's responder service account, the form
// Application Default Credentials read from GOOGLE_APPLICATION_CREDENTIALS: its
// token_uri is the twin's token endpoint, so Google's own client authenticates
// unmodified. The twin starts with no workload keys; drills add the one they
// treat as stolen (drillcloud.GCPTwin.NewKey).
func drillGCP(cloud *drillcloud.Cloud) (*gcpact.Activities, error) {
	twin := drillcloud.NewGCPTwin(drillcloud.DefaultGCPProject)
	id, err := twin.NewKey(twin.ResponderEmail())
	if err != nil {
		return nil, fmt.Errorf("drill gcp: %w", err)
	}
	file, err := twin.KeyFile(id, cloud.URL())
	if err != nil {
		return nil, fmt.Errorf("drill gcp: %w", err)
	}
	cloud.ServeGCP(twin)
	return &gcpact.Activities{Principal: "gcp-sa:" + twin.ResponderEmail(), Options: []option.ClientOption{
		option.WithEndpoint(cloud.URL() + "/"), option.WithAuthCredentialsJSON(option.ServiceAccount, file)}}, nil
}
