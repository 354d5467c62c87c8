package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/deploy"
)

// clusterConfigFile writes the sever.yaml of deploy/kubernetes/configmap.yaml to a file.
func clusterConfigFile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := deploy.ParseManifests("configmap.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if y := o.Data["sever.yaml"]; y != "" {
			return write(t, "sever.yaml", y)
		}
	}
	t.Fatal("configmap.yaml holds no sever.yaml")
	return ""
}

func TestConfigCheckDeploy(t *testing.T) {
	cfg := clusterConfigFile(t)
	dir, _ := filepath.Abs("../../deploy")
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantStderr []string
		wantExit   bool
	}{
		{name: "the committed deployment", args: []string{"--config", cfg, "--deploy", dir},
			wantOut: "deployment " + dir + " OK"},
		{name: "the example config needs what the cluster files do not grant", args: []string{"--config", "../../config/sever.example.yaml", "--deploy", dir},
			wantStderr: []string{"iam-policy.json: grants no secretsmanager:GetSecretValue", "deployment problem(s)"}, wantExit: true},
		{name: "a Slack manifest that is not there", args: []string{"--config", cfg, "--deploy", dir, "--slack-manifest", filepath.Join(t.TempDir(), "none.yaml")},
			wantStderr: []string{"read Slack app manifest"}, wantExit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := run(t, append([]string{"config", "check"}, tt.args...)...)
			if tt.wantExit {
				if !errors.Is(err, exitCode(1)) {
					t.Fatalf("err = %v, want exit status 1; stderr:\n%s", err, stderr)
				}
			} else if err != nil {
				t.Fatalf("err = %v; stderr:\n%s", err, stderr)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tt.wantOut)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
