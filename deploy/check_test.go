package deploy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/runbooks"
)

// clusterConfig returns the sever.yaml of deploy/kubernetes/configmap.yaml, parsed and
// validated as sever would.
func clusterConfig(t *testing.T) (*config.Config, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(KubernetesDir, "configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ParseManifests("configmap.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Kind == "ConfigMap" && o.Data["sever.yaml"] != "" {
			cfg, err := config.Parse("configmap.yaml#sever.yaml", []byte(o.Data["sever.yaml"]))
			if err != nil {
				t.Fatalf("the ConfigMap's sever.yaml: %v", err)
			}
			return cfg, o.Data["sever.yaml"]
		}
	}
	t.Fatal("configmap.yaml holds no sever.yaml")
	return nil, ""
}

func builtinRunbooks(t *testing.T) []*sever.Runbook {
	t.Helper()
	lib, err := runbooks.Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	return lib.List()
}

// TestRepositoryDeploymentIsConsistent checks the committed deployment files with the
// check `sever config check --deploy` runs: the manifests provide every secret the
// ConfigMap's sever.yaml references, the IAM policy grants what the built-in runbooks
// need, the Slack manifest matches the code's scopes and the config.
func TestRepositoryDeploymentIsConsistent(t *testing.T) {
	cfg, _ := clusterConfig(t)
	// Several serve and worker pods share one cluster: nothing may stay on a pod's disk.
	if err := cfg.CheckScaleOut(); err != nil {
		t.Errorf("the ConfigMap's sever.yaml is not fit for several hosts: %v", err)
	}
	probs := Check(Options{Config: cfg, Runbooks: builtinRunbooks(t), Dir: "."})
	for _, p := range probs {
		t.Error(p)
	}
}
