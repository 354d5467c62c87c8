package deploy

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/slackapp"
)

// TestIAMPolicyFileGrantsExactlyWhatSeverCalls: the committed policy grants every IAM
// action a registered aws.* action, the ledger copy and the account roles call, and
// nothing else (the aws-sm: resolver's is added only for configs that use aws-sm:).
func TestIAMPolicyFileGrantsExactlyWhatSeverCalls(t *testing.T) {
	data, err := os.ReadFile(IAMPolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := ParsePolicy(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, ps := range awsact.Permissions {
		for _, p := range ps {
			want[p] = true
		}
	}
	for _, p := range append(slices.Clone(LedgerCopyPermissions), awsact.AssumeRolePermissions...) {
		want[p] = true
	}
	if got, w := pol.AllowedActions(), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
		t.Errorf("%s grants %v\nsever calls %v", IAMPolicyFile, got, w)
	}
	for i, st := range pol.Statement {
		if st.Sid == "" {
			t.Errorf("Statement[%d] has no Sid; operations.md and the README name statements by Sid", i)
		}
	}
}

// TestSlackManifestRequestsExactlyTheBotScopes: slack/app-manifest.yaml asks for the
// scopes slackapp derives from its calls, no more.
func TestSlackManifestRequestsExactlyTheBotScopes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", SlackFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseSlackManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(slices.Values(m.OAuthConfig.Scopes.Bot)), slackapp.BotScopes(); !slices.Equal(got, want) {
		t.Errorf("the manifest's bot scopes are %v; slackapp needs %v", got, want)
	}
	if !m.Settings.Interactivity.IsEnabled || !strings.HasSuffix(m.Settings.Interactivity.RequestURL, slackapp.InteractivityPath) {
		t.Errorf("interactivity = %+v; want it on, at …%s", m.Settings.Interactivity, slackapp.InteractivityPath)
	}
}

// TestManifestsReferenceEverySecretTheConfigUses is the plain form of the Kubernetes
// check: every env: reference of the ConfigMap's sever.yaml is an environment variable
// of a sever container, and every file: reference is under a Secret mount.
func TestManifestsReferenceEverySecretTheConfigUses(t *testing.T) {
	cfg, _ := clusterConfig(t)
	objs, probs := loadManifests(KubernetesDir)
	for _, p := range probs {
		t.Fatal(p)
	}
	env := map[string]bool{}
	var mounts []string
	for _, o := range objs {
		for _, c := range o.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				env[e.Name] = true
			}
			for _, m := range c.VolumeMounts {
				mounts = append(mounts, m.MountPath+"/")
			}
		}
	}
	refs := secretRefs(cfg)
	if len(refs) == 0 {
		t.Fatal("the ConfigMap's sever.yaml references no secrets; the check below would check nothing")
	}
	for _, r := range refs {
		scheme, target := refTarget(r.Ref)
		switch scheme {
		case config.SchemeEnv:
			if !env[target] {
				t.Errorf("%s = %s: no container sets %s", r.Path, r.Ref, target)
			}
		case config.SchemeFile:
			if !slices.ContainsFunc(mounts, func(m string) bool { return strings.HasPrefix(target, m) }) {
				t.Errorf("%s = %s: no container mounts a volume above it", r.Path, r.Ref)
			}
		}
	}
}
