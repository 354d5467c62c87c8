package deploy

import (
	"os"
	"path/filepath"
	"testing"
)

// The deployment files come from the user: their parsers must never panic.

func FuzzParsePolicy(f *testing.F) {
	if b, err := os.ReadFile(IAMPolicyFile); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","NotAction":["iam:*"],"NotResource":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		p.Allows("iam:GetUser", "")
		p.Allows("s3:PutObject", "arn:aws:s3:::b/k")
		p.AllowedActions()
	})
}

func FuzzParseManifests(f *testing.F) {
	if entries, err := os.ReadDir(KubernetesDir); err == nil {
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(KubernetesDir, e.Name())); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("---\n---\nkind: Deployment\nspec: {template: {spec: {containers: [{args: [serve]}]}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := ParseManifests("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, o := range objs {
			for i := range o.Spec.Template.Spec.Containers {
				c := &o.Spec.Template.Spec.Containers[i]
				c.role()
				c.flag("metrics")
			}
		}
	})
}

func FuzzParseSlackManifest(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", SlackFile)); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"oauth_config":{"scopes":{"bot":["chat:write"]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseSlackManifest(data)
	})
}
