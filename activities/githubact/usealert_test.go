package githubact

import (
	"context"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// TestUseAlertSecret: the alert's secret reaches use only when the alert's secret
// type is the one asked for, and never an error; what use returns comes back.
func TestUseAlertSecret(t *testing.T) {
	f := newFixture(t, "github_personal_access_token", "ghp_")
	f.twin.AddAlert("acme", "api", 8, "google_api_key", "AIzaSyDRILLdrillDRILLdrillDRILLdrill0001")
	tests := []struct {
		name       string
		repo       string
		number     int
		secretType string
		want       string
		wantType   string
		wantUsed   string // the secret use saw; "" = use not called
	}{
		{"matching type reaches use", "acme/api", 8, "google_api_key", "projects/p/locations/global/keys/k", "", "AIzaSyDRILLdrillDRILLdrillDRILLdrill0001"},
		{"other type never reaches use", "acme/api", 7, "google_api_key", "", ErrSecretTypeMismatch, ""},
		{"missing alert", "acme/api", 99, "google_api_key", "", activities.ErrNotFound, ""},
		{"bad repository", "acme", 8, "google_api_key", "", activities.ErrInvalidArgument, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var used string
			got, err := f.acts.UseAlertSecret(context.Background(), tc.repo, tc.number, tc.secretType,
				func(_ context.Context, secret string) (string, error) {
					used = secret
					return "projects/p/locations/global/keys/k", nil
				})
			if got != tc.want || errType(err) != tc.wantType || (tc.wantType == "") != (err == nil) || used != tc.wantUsed {
				t.Fatalf("UseAlertSecret(%s, %d) = %q, %v (type %q), use saw a secret: %v; want %q, type %q",
					tc.repo, tc.number, got, err, errType(err), used != "", tc.want, tc.wantType)
			}
			noSecret(t, f.secret, sever.ActionResult{}, err)
			noSecret(t, "AIzaSyDRILLdrillDRILLdrillDRILLdrill0001", sever.ActionResult{}, err)
		})
	}
	if _, err := (&Activities{}).UseAlertSecret(context.Background(), "acme/api", 8, "google_api_key",
		func(context.Context, string) (string, error) { t.Fatal("use called without an App"); return "", nil }); errType(err) != activities.ErrAccessDenied {
		t.Errorf("without an App: %v, want %s", err, activities.ErrAccessDenied)
	}
}
