package importrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the import path every rule is written relative to.
const module = "github.com/sever-ir/sever"

// rule forbids packages matching from to depend, directly or through other
// packages, on a package matching to. Packages are named relative to the module
// ("engine", "activities/audit"); outside packages by their full import path.
type rule struct {
	name string
	// doc is the rule as docs/architecture.md states it (spaces and line breaks
	// aside), so the page and the test change together.
	doc  string
	from func(pkg string) bool
	to   func(dep string) bool
	// toModule forbids every package of the module, whatever to says.
	toModule bool
}

// edge is one forbidden dependency found in the graph.
type edge struct{ from, to string }

// under matches the package p and every package below it.
func under(ps ...string) func(string) bool {
	return func(pkg string) bool {
		for _, p := range ps {
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				return true
			}
		}
		return false
	}
}

// clientSDKs are the vendors' client libraries: they do I/O, so deterministic
// workflow code must never link them.
var clientSDKs = under(
	"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go",
	"github.com/slack-go/slack",
	"github.com/hashicorp/vault", "github.com/hashicorp/vault/api",
	"google.golang.org/api", "cloud.google.com/go",
	"github.com/Azure/azure-sdk-for-go",
)

// rules are the rules docs/architecture.md states, in its order.
var rules = []rule{
	{
		name:     "the domain package imports nothing of sever's",
		doc:      "The root package `sever` (domain types, the action catalog, the policy) imports nothing of sever's.",
		from:     func(pkg string) bool { return pkg == "." },
		to:       func(string) bool { return false },
		toModule: true,
	},
	{
		name: "no activity package imports workflows or engine",
		doc:  "No activity package (`activities`, `activities/…`) imports `workflows` or `engine`.",
		from: under("activities"),
		to:   under("workflows", "engine"),
	},
	{
		name: "workflows imports no activity package",
		doc:  "`workflows` imports no activity package and no client SDK",
		from: under("workflows"),
		to:   under("activities"),
	},
	{
		name: "workflows imports no client SDK",
		doc:  "no client SDK (AWS, Slack, Vault, Google, Azure)",
		from: under("workflows"),
		to:   clientSDKs,
	},
	{
		name: "workflows imports neither engine nor the HTTP packages",
		doc:  "and neither `engine` nor the HTTP packages (`httpapi`, `slackapp`, `webui`)",
		from: under("workflows"),
		to:   under("engine", "httpapi", "slackapp", "webui"),
	},
	{
		name: "engine does not import httpapi",
		doc:  "`engine` does not import `httpapi`",
		from: under("engine"),
		to:   under("httpapi"),
	},
	{
		name: "the contract packages import no Temporal package and no CEL",
		doc:  "The contract packages, `service` (front ends ↔ engine) and `contract` (workflow ↔ activities), import no Temporal package and no CEL",
		from: under("service", "contract"),
		to:   under("go.temporal.io", "github.com/google/cel-go"),
	},
	{
		name: "the contract packages import no other part",
		doc:  "nor any other part of sever but the domain (and, for `service`, the `report` types it speaks in)",
		from: under("service", "contract"),
		to:   under("workflows", "engine", "activities", "httpapi", "slackapp", "webui", "telemetry", "worker", "internal/app"),
	},
}

// pending are today's known breaches of the rules, each with the work that
// removes it. An entry covers one (package, dependency) pair only, so nothing
// new slips in beside it, and an entry the graph no longer needs fails the test:
// delete it, and the rule is tightened for good. It is empty: add to it only with
// the issue that will empty it again.
var pending = map[edge]string{}

// check returns one message per breach of rules in deps (each package of the
// module → every package it depends on, directly or not) that allow does not
// excuse, and one per entry of allow that no longer excuses anything.
func check(rules []rule, deps map[string][]string, allow map[edge]string) []string {
	var out []string
	used := map[edge]bool{}
	pkgs := slices.Sorted(mapKeys(deps))
	for _, r := range rules {
		for _, pkg := range pkgs {
			if !r.from(pkg) {
				continue
			}
			for _, dep := range deps[pkg] {
				_, local := deps[dep]
				if dep == pkg || !(r.to(dep) || r.toModule && local) {
					continue
				}
				e := edge{pkg, dep}
				if _, ok := allow[e]; ok {
					used[e] = true
					continue
				}
				out = append(out, fmt.Sprintf("%s: %s depends on %s", r.name, pkg, dep))
			}
		}
	}
	for _, e := range slices.SortedFunc(mapKeys(allow), func(a, b edge) int {
		return strings.Compare(a.from+" "+a.to, b.from+" "+b.to)
	}) {
		if !used[e] {
			out = append(out, fmt.Sprintf("pending exception %s → %s (%s) is no longer needed: delete it from pending", e.from, e.to, allow[e]))
		}
	}
	return out
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// relative names a package of the module by its path below the module root
// ("." for the root); other packages keep their import path.
func relative(p string) string {
	if p == module {
		return "."
	}
	if r, ok := strings.CutPrefix(p, module+"/"); ok {
		return r
	}
	return p
}

// moduleDeps lists every package of the module with all its non-test
// dependencies, as `go list -deps -json` reports them.
func moduleDeps(t *testing.T) map[string][]string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("import rules need the go command: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-e", "-deps", "-json=ImportPath,Deps,Module,Error", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps %s/...: %v\n%s", module, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s/...: %v", module, err)
	}
	deps := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Deps       []string
			Module     *struct{ Path string }
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Module == nil || p.Module.Path != module {
			continue // standard library and other modules: rules apply to sever's packages
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		rel := make([]string, len(p.Deps))
		for i, d := range p.Deps {
			rel[i] = relative(d)
		}
		deps[relative(p.ImportPath)] = rel
	}
	if len(deps["engine"]) == 0 || len(deps["workflows"]) == 0 {
		t.Fatalf("go list found no engine or workflows packages; ran in %s", cmd.Dir)
	}
	return deps
}

// TestImportRules checks the module's real dependency graph.
func TestImportRules(t *testing.T) {
	for _, msg := range check(rules, moduleDeps(t), pending) {
		t.Error(msg)
	}
}

// TestImportRulesAreDocumented keeps docs/architecture.md and the rules checked
// here the same: a rule dropped from the page, or reworded there, fails.
func TestImportRulesAreDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatalf("read the architecture page: %v", err)
	}
	page := strings.Join(strings.Fields(string(b)), " ")
	for _, r := range rules {
		if !strings.Contains(page, r.doc) {
			t.Errorf("docs/architecture.md does not state the rule %q as %q", r.name, r.doc)
		}
	}
}

// TestImportRulesCatchBreaches shows each rule fails when broken, on a
// synthetic graph that starts out clean.
func TestImportRulesCatchBreaches(t *testing.T) {
	clean := map[string][]string{
		".":                   {"time"},
		"workflows":           {".", "runbooks/cond", "go.temporal.io/sdk/workflow"},
		"engine":              {".", "workflows", "go.temporal.io/sdk/client"},
		"httpapi":             {".", "engine", "service"},
		"service":             {".", "report"},
		"contract":            {"."},
		"activities/audit":    {".", "activities", "ledger"},
		"activities/awsact":   {".", "activities", "github.com/aws/aws-sdk-go-v2/service/iam"},
		"activities":          {"."},
		"internal/app":        {".", "engine", "workflows", "activities/awsact", "httpapi"},
		"activities/gcpact":   {".", "google.golang.org/api/iam/v1"},
		"activities/vaultact": {".", "github.com/hashicorp/vault/api"},
		"ledger":              {"."},
		"runbooks/cond":       {"."},
	}
	tests := []struct {
		name  string
		pkg   string
		dep   string
		allow map[edge]string
		want  string // substring of one of the messages; "" = no message
	}{
		{name: "clean graph passes"},
		{name: "the domain imports a sever package", pkg: ".", dep: "ledger", want: "domain package imports nothing"},
		{name: "activity imports workflows", pkg: "activities/audit", dep: "workflows", want: "no activity package imports workflows or engine: activities/audit depends on workflows"},
		{name: "activity imports engine", pkg: "activities/awsact", dep: "engine", want: "activities/awsact depends on engine"},
		{name: "activities root imports workflows", pkg: "activities", dep: "workflows", want: "activities depends on workflows"},
		{name: "workflows imports an activity package", pkg: "workflows", dep: "activities/awsact", want: "workflows imports no activity package"},
		{name: "workflows imports the AWS SDK", pkg: "workflows", dep: "github.com/aws/aws-sdk-go-v2/service/iam", want: "workflows imports no client SDK"},
		{name: "workflows imports slack-go", pkg: "workflows", dep: "github.com/slack-go/slack", want: "no client SDK"},
		{name: "workflows imports vault", pkg: "workflows", dep: "github.com/hashicorp/vault/api", want: "no client SDK"},
		{name: "workflows imports a Google API", pkg: "workflows", dep: "google.golang.org/api/iam/v1", want: "no client SDK"},
		{name: "workflows imports the Azure SDK", pkg: "workflows", dep: "github.com/Azure/azure-sdk-for-go/sdk/azidentity", want: "no client SDK"},
		{name: "workflows imports engine", pkg: "workflows", dep: "engine", want: "workflows imports neither engine"},
		{name: "engine imports httpapi", pkg: "engine", dep: "httpapi", want: "engine does not import httpapi: engine depends on httpapi"},
		{name: "engine imports httpapi, excused", pkg: "engine", dep: "httpapi", allow: map[edge]string{{"engine", "httpapi"}: "pending"}},
		{name: "an exception does not cover another package", pkg: "activities/audit", dep: "workflows", allow: map[edge]string{{"activities/approvals", "workflows"}: "pending"}, want: "activities/audit depends on workflows"},
		{name: "the service contract imports Temporal", pkg: "service", dep: "go.temporal.io/sdk/client", want: "the contract packages import no Temporal package and no CEL: service depends on go.temporal.io/sdk/client"},
		{name: "the activity contract imports the workflow SDK", pkg: "contract", dep: "go.temporal.io/sdk/workflow", want: "contract depends on go.temporal.io/sdk/workflow"},
		{name: "the activity contract imports CEL", pkg: "contract", dep: "github.com/google/cel-go/cel", want: "contract depends on github.com/google/cel-go/cel"},
		{name: "the service contract imports httpapi", pkg: "service", dep: "httpapi", want: "the contract packages import no other part: service depends on httpapi"},
		{name: "the activity contract imports workflows", pkg: "contract", dep: "workflows", want: "contract depends on workflows"},
		{name: "stale exception fails", allow: map[edge]string{{"engine", "httpapi"}: "pending"}, want: "is no longer needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps := map[string][]string{}
			for k, v := range clean {
				deps[k] = slices.Clone(v)
			}
			if tt.pkg != "" {
				deps[tt.pkg] = append(deps[tt.pkg], tt.dep)
			}
			got := check(rules, deps, tt.allow)
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("check = %q, want no breach", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(m string) bool { return strings.Contains(m, tt.want) }) {
				t.Fatalf("check = %q, want a message containing %q", got, tt.want)
			}
		})
	}
}
