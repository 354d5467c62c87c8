package drillcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"cloud.google.com/go/auth"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
)

// ErrGCPRefused is what GCPAttackerCall wraps when Google (the twin) refuses the
// stolen key: its token exchange or the call made with its token.
var ErrGCPRefused = errors.New("gcp: the key was refused")

// GCPAttackerCall is the attacker's use of a stolen service-account key file:
// with Google's own client and a fresh token (as a new process holding the file
// would get), it reads the key's service account. It returns nil when the call
// succeeds and an error wrapping ErrGCPRefused when the key or its token is
// refused. Errors never quote the key file.
func GCPAttackerCall(ctx context.Context, baseURL string, keyFile []byte) error {
	var kf struct {
		Email   string `json:"client_email"`
		Project string `json:"project_id"`
	}
	if err := json.Unmarshal(keyFile, &kf); err != nil || kf.Email == "" {
		return errors.New("gcp attacker: not a service-account key file")
	}
	s, err := iam.NewService(ctx, option.WithEndpoint(baseURL+"/"),
		option.WithAuthCredentialsJSON(option.ServiceAccount, keyFile))
	if err != nil {
		return fmt.Errorf("gcp attacker: build client: %w", err)
	}
	_, err = s.Projects.ServiceAccounts.Get("projects/" + kf.Project + "/serviceAccounts/" + kf.Email).Context(ctx).Do()
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && (ge.Code == 401 || ge.Code == 403) {
		return fmt.Errorf("%w: Google answered %d", ErrGCPRefused, ge.Code)
	}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Response != nil && ae.Response.StatusCode == 400 {
		return fmt.Errorf("%w: token endpoint answered %d", ErrGCPRefused, ae.Response.StatusCode)
	}
	return fmt.Errorf("gcp attacker: get service account %s: %w", kf.Email, err)
}
