package config

import (
	"strings"
	"testing"
)

// The GitHub App settings come as a set of numeric ids and a key reference.
func TestValidateGitHub(t *testing.T) {
	for _, tc := range []struct {
		name string
		gh   GitHubConfig
		want []string // fields the error must name; none = valid
	}{
		{name: "unset"},
		{name: "complete", gh: GitHubConfig{AppID: "424242", InstallationID: "4242", PrivateKey: "file:/etc/sever/github-app.pem", APIURL: "https://ghe.example.com/api/v3"}},
		{name: "key only", gh: GitHubConfig{PrivateKey: "env:GITHUB_APP_KEY"}, want: []string{"github.app_id", "github.installation_id"}},
		{name: "ids only", gh: GitHubConfig{AppID: "1", InstallationID: "2"}, want: []string{"github.private_key"}},
		{name: "slug for an id", gh: GitHubConfig{AppID: "sever-app", InstallationID: "2", PrivateKey: "env:K"}, want: []string{"github.app_id"}},
		{name: "inline key", gh: GitHubConfig{AppID: "1", InstallationID: "2", PrivateKey: "-----BEGIN RSA PRIVATE KEY-----"}, want: []string{"github.private_key"}},
		{name: "bad url", gh: GitHubConfig{APIURL: "api.github.com"}, want: []string{"github.api_url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.GitHub = tc.gh
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error naming %v", tc.want)
			}
			for _, f := range tc.want {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			if strings.Contains(err.Error(), "BEGIN RSA") {
				t.Errorf("error %q echoes the inline key", err)
			}
		})
	}
}
