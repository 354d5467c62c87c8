// Package deploy checks a deployment of sever against the code it runs and the
// configuration it is given: the Kubernetes manifests (deploy/kubernetes), the IAM policy
// of its AWS principal (deploy/aws/iam-policy.json) and the Slack app manifest
// (slack/app-manifest.yaml). `sever config check --deploy DIR` runs Check.
//
// What the code needs is never restated here: the IAM actions come from
// awsact.Permissions, the Slack scopes from slackapp.BotScopes, the endpoints from the
// packages that serve them, so a change there that the deployment files do not follow
// is reported.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
)

// Problem is one way a deployment file does not fit the code or the config. File is the
// file to fix.
type Problem struct {
	File    string
	Message string
}

func (p Problem) String() string { return p.File + ": " + p.Message }

// Options say what to check.
type Options struct {
	// Config is the sever.yaml the deployment runs with; its secret references must be
	// provided by the manifests, its buckets and roles granted by the IAM policy.
	Config *config.Config
	// Runbooks are the runbooks in effect (built-in and runbooks.dir): the IAM policy
	// must grant every AWS action they name.
	Runbooks []*sever.Runbook
	// Dir holds kubernetes/ (manifests) and aws/iam-policy.json; each part is checked
	// when present.
	Dir string
	// SlackManifest is the Slack app manifest; "" looks for Dir/slack/app-manifest.yaml,
	// then Dir/../slack/app-manifest.yaml (the repository's layout).
	SlackManifest string
}

// Paths of the deployment files under Options.Dir.
const (
	KubernetesDir = "kubernetes"
	IAMPolicyFile = "aws/iam-policy.json"
	SlackFile     = "slack/app-manifest.yaml"
)

// Check checks every deployment file found and returns the problems, sorted by file.
// A directory with none of them is a problem of its own.
func Check(o Options) []Problem {
	if o.Config == nil {
		o.Config = config.Default()
	}
	var probs []Problem
	found := 0
	if p := filepath.Join(o.Dir, IAMPolicyFile); exists(p) {
		found++
		probs = append(probs, CheckIAMPolicy(p, o.Config, o.Runbooks)...)
	}
	if p := filepath.Join(o.Dir, KubernetesDir); exists(p) {
		found++
		probs = append(probs, CheckKubernetes(p, o.Config)...)
	}
	slack := o.SlackManifest
	if slack == "" {
		for _, p := range []string{filepath.Join(o.Dir, SlackFile), filepath.Join(o.Dir, "..", SlackFile)} {
			if exists(p) {
				slack = p
				break
			}
		}
	}
	if slack != "" {
		found++
		probs = append(probs, CheckSlackManifest(slack, o.Config)...)
	}
	if found == 0 {
		probs = append(probs, Problem{File: o.Dir, Message: fmt.Sprintf(
			"no deployment files here (looked for %s/, %s and %s)", KubernetesDir, IAMPolicyFile, SlackFile)})
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].File < probs[j].File })
	return probs
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Error is the error of a check that found problems; it lists them, one a line.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("%d deployment problem(s):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// AsError returns nil for no problems, else an *Error holding them.
func AsError(probs []Problem) error {
	if len(probs) == 0 {
		return nil
	}
	return &Error{Problems: probs}
}

// secretRef is one secret reference of a config, with its field path.
type secretRef struct {
	Path string
	Ref  config.SecretRef
}

// secretRefs lists every non-empty secret reference of cfg with its field path
// (intake.tokens[0].secret), in field order. It walks the struct by its yaml tags, so a
// secret field added to config is covered without a change here.
func secretRefs(cfg *config.Config) []secretRef {
	var out []secretRef
	walkRefs(reflect.ValueOf(cfg).Elem(), "", &out)
	return out
}

var secretRefType = reflect.TypeOf(config.SecretRef(""))

func walkRefs(v reflect.Value, path string, out *[]secretRef) {
	if v.Type() == secretRefType {
		if r := config.SecretRef(v.String()); !r.IsZero() {
			*out = append(*out, secretRef{Path: path, Ref: r})
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkRefs(v.Elem(), path, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			walkRefs(v.Field(i), join(path, name), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkRefs(v.Index(i), path+"["+strconv.Itoa(i)+"]", out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			walkRefs(v.MapIndex(k), join(path, fmt.Sprint(k)), out)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// refTarget splits a reference into its scheme and what it names: the variable of
// env:NAME, the path of file:/path, the ARN of aws-sm:ARN#key.
func refTarget(r config.SecretRef) (scheme, target string) {
	scheme, target, _ = strings.Cut(string(r), ":")
	if scheme == "aws-sm" {
		target, _, _ = strings.Cut(target, "#")
	}
	return scheme, target
}

// Which process resolves a secret, by the prefix of its field path. `sever serve` takes
// intake, operator and Slack-endpoint secrets; `sever worker` acts, so it holds the
// cloud and provider credentials and the ledger signing key. A path that matches
// neither list is needed by both: gcp.credentials is, since the API resolves a GitHub
// alert's Google API key with the gcp.* actions' client.
var (
	serveOnly  = []string{"intake.", "operators[", "slack.signing_secret", "slack.app_token"}
	workerOnly = []string{"aws.", "providers.", "ledger.", "azure.", "vault."}
)

// Roles of the sever processes a deployment runs.
const (
	RoleServe  = "serve"
	RoleWorker = "worker"
)

// neededBy says whether the process role resolves the secret at path.
func neededBy(role, path string) bool {
	has := func(prefixes []string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	switch {
	case has(serveOnly):
		return role == RoleServe
	case has(workerOnly):
		return role == RoleWorker
	}
	return true
}
