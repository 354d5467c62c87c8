package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/config"
)

// copyTree copies the deployment files into a temporary directory laid out as the
// repository (deploy/… and slack/…) and returns its deploy directory.
func copyTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, src := range []string{KubernetesDir, "aws"} {
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "deploy", src), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "deploy", src, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join("..", SlackFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "slack"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, SlackFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy")
}

// edit replaces old by new in file (relative to the copied tree's root) and fails when
// old is not there, so a test never passes by editing nothing.
func edit(t *testing.T, root, file, old, new string) {
	t.Helper()
	p := filepath.Join(root, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsProblems breaks one thing at a time in a copy of the committed
// deployment, or in the config it is checked against, and expects the check to name it.
func TestCheckFindsProblems(t *testing.T) {
	tests := []struct {
		name string
		file string // relative to the deploy dir; "" = no file edit
		old  string
		new  string
		cfg  func(*config.Config)
		want []string // substrings of one problem
	}{
		// IAM policy.
		{name: "an action's permission missing", file: IAMPolicyFile,
			old: `"iam:UpdateAccessKey",`, new: ``,
			want: []string{"iam-policy.json", "grants no iam:UpdateAccessKey", "aws.iam.deactivate_access_key", "aws-access-key-exposed"}},
		{name: "a wildcard action", file: IAMPolicyFile,
			old: `"cloudtrail:LookupEvents",`, new: `"cloudtrail:LookupEvents", "iam:*",`,
			want: []string{"iam:* is a wildcard"}},
		{name: "a permission sever never calls", file: IAMPolicyFile,
			old: `"cloudtrail:LookupEvents",`, new: `"cloudtrail:LookupEvents", "iam:CreateUser",`,
			want: []string{"SeverContainment", "grants iam:CreateUser, which sever never calls"}},
		{name: "a Deny overrides the grant", file: IAMPolicyFile,
			old: `"Statement": [`, new: `"Statement": [{"Sid": "NoKeys", "Effect": "Deny", "Action": "iam:UpdateAccessKey", "Resource": "*"},`,
			want: []string{"grants no iam:UpdateAccessKey"}},
		{name: "the evidence bucket of the config not granted",
			cfg:  func(c *config.Config) { c.AWS.EvidenceBucket = "other-evidence" },
			want: []string{"grants no s3:PutObject on arn:aws:s3:::other-evidence/sever/evidence/", "aws.s3.store_evidence"}},
		{name: "the ledger copy's prefix not granted",
			cfg:  func(c *config.Config) { c.Ledger.S3.Prefix = "elsewhere/" },
			want: []string{"arn:aws:s3:::acme-sever-ledger/elsewhere/", "ledger.s3"}},
		{name: "an account role not assumable",
			cfg: func(c *config.Config) {
				c.AWS.Accounts = append(c.AWS.Accounts, config.AWSAccount{ID: "444455556666", RoleARN: "arn:aws:iam::444455556666:role/sever-responder"})
			},
			want: []string{"grants no sts:AssumeRole on arn:aws:iam::444455556666:role/sever-responder", "aws.accounts[1]"}},
		{name: "an aws-sm reference not readable",
			cfg: func(c *config.Config) {
				c.Slack.SigningSecret = "aws-sm:arn:aws:secretsmanager:us-east-1:111122223333:secret:sever/slack-AbCdEf#signing"
			},
			want: []string{"grants no secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:111122223333:secret:sever/slack-AbCdEf,", "slack.signing_secret"}},

		// Kubernetes.
		{name: "a secret env var missing in serve", file: "kubernetes/serve.yaml",
			old: "            - name: SLACK_SIGNING_SECRET\n              valueFrom: {secretKeyRef: {name: sever-secrets, key: SLACK_SIGNING_SECRET}}\n", new: "",
			want: []string{"serve.yaml", "sever-serve", "slack.signing_secret is env:SLACK_SIGNING_SECRET", "no environment variable SLACK_SIGNING_SECRET"}},
		{name: "a secret env var missing in the worker", file: "kubernetes/worker.yaml",
			old: "            - name: SEVER_DECISION_KEY\n              valueFrom: {secretKeyRef: {name: sever-secrets, key: SEVER_DECISION_KEY}}\n", new: "",
			want: []string{"sever-worker", "temporal.decision_key", "no environment variable SEVER_DECISION_KEY"}},
		{name: "a config secret nobody provides",
			cfg:  func(c *config.Config) { c.Providers.Anthropic.AdminKey = "env:ANTHROPIC_ADMIN_KEY" },
			want: []string{"sever-worker", "providers.anthropic.admin_key", "ANTHROPIC_ADMIN_KEY"}},
		{name: "a Vault token nobody provides",
			cfg:  func(c *config.Config) { c.Vault.Token = "env:SEVER_VAULT_RESPONDER_TOKEN" },
			want: []string{"sever-worker", "vault.token", "SEVER_VAULT_RESPONDER_TOKEN"}},
		{name: "a file secret not mounted", file: "kubernetes/worker.yaml",
			old: "            - {name: ledger-signing-key, mountPath: /etc/sever/ledger, readOnly: true}\n", new: "",
			want: []string{"sever-worker", "ledger.signing_key is file:/etc/sever/ledger/ed25519.key", "no volume is mounted"}},
		{name: "a secretKeyRef to a key the Secret lacks", file: "kubernetes/secret.example.yaml",
			old: `  SLACK_SIGNING_SECRET: ""`, new: `  SLACK_SIGNING: ""`,
			want: []string{"env SLACK_SIGNING_SECRET takes key SLACK_SIGNING_SECRET of Secret sever-secrets"}},
		{name: "a probe on a path sever does not serve", file: "kubernetes/serve.yaml",
			old: "            httpGet: {path: /healthz, port: http}\n            periodSeconds: 5", new: "            httpGet: {path: /ready, port: http}\n            periodSeconds: 5",
			want: []string{"readinessProbe asks /ready", "/healthz"}},
		{name: "a worker readiness probe on its metrics", file: "kubernetes/worker.yaml",
			old: "httpGet: {path: /readyz, port: metrics}", new: "httpGet: {path: /metrics, port: metrics}",
			want: []string{"sever-worker", "readinessProbe asks /metrics", "/readyz"}},
		{name: "a probe on another port than http.listen",
			cfg:  func(c *config.Config) { c.HTTP.Listen = "0.0.0.0:9000" },
			want: []string{"sever-serve", "asks port http", "listens on 9000"}},
		{name: "a loopback listener",
			cfg:  func(c *config.Config) { c.HTTP.Listen = "127.0.0.1:8080" },
			want: []string{"sever-serve", "loopback"}},
		{name: "a worker without its metrics listener", file: "kubernetes/worker.yaml",
			old: "args: [worker, --metrics, 0.0.0.0:9090]", new: "args: [worker]",
			want: []string{"sever-worker", "without --metrics"}},
		{name: "no PodDisruptionBudget", file: "kubernetes/worker.yaml",
			old: "kind: PodDisruptionBudget", new: "kind: NotAPodDisruptionBudget",
			want: []string{"Deployment sever-worker has no PodDisruptionBudget"}},
		{name: "a writable root filesystem", file: "kubernetes/serve.yaml",
			old: "readOnlyRootFilesystem: true", new: "readOnlyRootFilesystem: false",
			want: []string{"sever-serve", "readOnlyRootFilesystem is not true"}},
		{name: "privilege escalation allowed", file: "kubernetes/worker.yaml",
			old: "allowPrivilegeEscalation: false", new: "allowPrivilegeEscalation: true",
			want: []string{"sever-worker", "allowPrivilegeEscalation is not false"}},
		{name: "no resource requests", file: "kubernetes/worker.yaml",
			old: "requests: {cpu: 200m, memory: 256Mi}", new: "requests: {memory: 256Mi}",
			want: []string{"sever-worker", "no resources.requests.cpu"}},
		{name: "the data dir not on a volume",
			cfg:  func(c *config.Config) { c.DataDir = "/srv/sever" },
			want: []string{"data_dir /srv/sever is not on a writable volume"}},
		{name: "the checkpoint file on no persistent volume",
			cfg:  func(c *config.Config) { c.Ledger.Anchors.File = "/var/lib/sever/checkpoints.jsonl" },
			want: []string{"sever-worker", "ledger.anchors.file /var/lib/sever/checkpoints.jsonl is not on a writable persistent volume"}},
		{name: "no worker at all", file: "kubernetes/worker.yaml",
			old: "kind: Deployment", new: "kind: ReplicaSet",
			want: []string{"no Deployment runs `sever worker`"}},
		{name: "the committed files as they are", want: nil},

		// Slack manifest (paths relative to the deploy dir).
		{name: "a scope the code needs missing", file: "../" + SlackFile,
			old: "      - usergroups:read", new: "",
			want: []string{"app-manifest.yaml", "lacks usergroups:read"}},
		{name: "a scope sever never uses", file: "../" + SlackFile,
			old: "      - chat:write ", new: "      - channels:history\n      - chat:write ",
			want: []string{"requests channels:history, which sever never uses"}},
		{name: "Socket Mode on without an app token", file: "../" + SlackFile,
			old: "socket_mode_enabled: false", new: "socket_mode_enabled: true",
			want: []string{"socket_mode_enabled is true, but slack.app_token is not set"}},
		{name: "an app token but Socket Mode off",
			cfg:  func(c *config.Config) { c.Slack.AppToken = "env:SLACK_APP_TOKEN" },
			want: []string{"socket_mode_enabled is false, but slack.app_token is set"}},
		{name: "the interactivity URL elsewhere than public_url",
			cfg:  func(c *config.Config) { c.HTTP.PublicURL = "https://sever.acme.test" },
			want: []string{"settings.interactivity.request_url is https://sever.example.com/slack/interactivity", "https://sever.acme.test/slack/interactivity"}},
		{name: "no slash command", file: "../" + SlackFile,
			old: "    - command: /sever", new: "    - command: /other",
			want: []string{"no /sever command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTree(t)
			if tt.file != "" {
				edit(t, dir, tt.file, tt.old, tt.new)
			}
			cfg, _ := clusterConfig(t)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			probs := Check(Options{Config: cfg, Runbooks: builtinRunbooks(t), Dir: dir})
			if tt.want == nil {
				for _, p := range probs {
					t.Errorf("unexpected problem: %s", p)
				}
				return
			}
			for _, p := range probs {
				s := p.String()
				ok := true
				for _, w := range tt.want {
					if !strings.Contains(s, w) {
						ok = false
						break
					}
				}
				if ok {
					return
				}
			}
			t.Errorf("no problem names all of %q; got:\n%s", tt.want, AsError(probs))
		})
	}
}

func TestCheckWithoutDeploymentFiles(t *testing.T) {
	dir := t.TempDir()
	probs := Check(Options{Dir: dir, SlackManifest: ""})
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "no deployment files here") {
		t.Fatalf("Check of an empty dir = %v", probs)
	}
}

func TestCheckDoesNotEchoSecretValues(t *testing.T) {
	// A config check prints references, never what they resolve to.
	t.Setenv("SLACK_SIGNING_SECRET", "very-secret-value-1234567890")
	dir := copyTree(t)
	edit(t, dir, "kubernetes/serve.yaml",
		"            - name: SLACK_SIGNING_SECRET\n              valueFrom: {secretKeyRef: {name: sever-secrets, key: SLACK_SIGNING_SECRET}}\n", "")
	cfg, _ := clusterConfig(t)
	err := AsError(Check(Options{Config: cfg, Runbooks: builtinRunbooks(t), Dir: dir}))
	if err == nil {
		t.Fatal("want a problem")
	}
	if strings.Contains(err.Error(), "very-secret-value") {
		t.Fatal("a problem repeats a secret's value")
	}
}

func TestParsePolicyForms(t *testing.T) {
	tests := []struct {
		name, doc string
		wantErr   string
	}{
		{"one statement as an object", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}`, ""},
		{"a list", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser"],"Resource":["*"]}]}`, ""},
		{"no statement", `{"Version":"2012-10-17"}`, "no Statement"},
		{"a bad effect", `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"iam:GetUser","Resource":"*"}]}`, `Effect "allow"`},
		{"an unknown key", `{"Version":"2012-10-17","Statment":[]}`, "unknown field"},
		{"an action of the wrong type", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}`, "string or a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tt.doc))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParsePolicy: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ParsePolicy: err %v, want %q", err, tt.wantErr)
			}
		})
	}
}
