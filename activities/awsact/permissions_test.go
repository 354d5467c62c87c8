package awsact

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"

	"github.com/sever-ir/sever"
)

// recordingRegistrar records the names actions are registered under, in order.
type recordingRegistrar struct{ names []string }

func (r *recordingRegistrar) RegisterActivityWithOptions(_ any, o activity.RegisterOptions) {
	r.names = append(r.names, o.Name)
}

// clientServices maps the fields of Clients to the IAM service prefix of their calls.
var clientServices = map[string]string{
	"IAM": "iam", "STS": "sts", "SecretsManager": "secretsmanager", "CloudTrail": "cloudtrail",
	"EC2": "ec2", "S3": "s3", "Bedrock": "bedrock",
}

// sdkPackages maps the SDK packages whose New…Paginator constructors the actions use
// to the IAM service prefix.
var sdkPackages = map[string]string{
	"iam": "iam", "sts": "sts", "secretsmanager": "secretsmanager", "cloudtrail": "cloudtrail",
	"ec2": "ec2", "s3": "s3", "bedrock": "bedrock",
}

// operationPermissions is where an API operation needs other IAM actions than its own
// name: every operation not listed here needs exactly "<service>:<Operation>".
var operationPermissions = map[string][]string{
	// GetCallerIdentity needs no permission: AWS allows it to every principal.
	"sts:GetCallerIdentity": nil,
	// CreateSnapshot is called with TagSpecifications (the idempotency tag), which
	// needs ec2:CreateTags on the snapshot as well.
	"ec2:CreateSnapshot": {"ec2:CreateSnapshot", "ec2:CreateTags"},
	// PutObject sets the Object Lock mode and retain-until date, which needs
	// s3:PutObjectRetention.
	"s3:PutObject": {"s3:PutObject", "s3:PutObjectRetention"},
	// HeadObject is authorised as s3:GetObject; the Object Lock headers it reads back
	// are only returned with s3:GetObjectRetention.
	"s3:HeadObject": {"s3:GetObject", "s3:GetObjectRetention"},
	// RotateSecret makes Secrets Manager invoke the secret's rotation Lambda on the
	// caller's behalf, which needs lambda:InvokeFunction on that function.
	"secretsmanager:RotateSecret": {"secretsmanager:RotateSecret", "lambda:InvokeFunction"},
}

// derivedPermissions reads the package's source and returns, for each registered action,
// the IAM actions of every AWS API operation reachable from its method. Reachability is
// by name within the package (any mention of a package-level function or method counts as
// a call, so method values passed as arguments are followed); it over-approximates,
// which errs on the side of a permission too many being noticed in review, never one
// too few.
func derivedPermissions(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]*ast.BlockStmt{} // function or method name → bodies of that name
	var register *ast.FuncDecl
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if fd.Name.Name == "Register" && fd.Recv != nil {
				register = fd
			}
			bodies[fd.Name.Name] = append(bodies[fd.Name.Name], fd.Body)
		}
	}
	if register == nil {
		t.Fatal("no (*Activities).Register in the package")
	}

	// Direct API operations and mentioned package functions, per function name.
	ops := map[string]map[string]bool{}
	edges := map[string]map[string]bool{}
	for name, bs := range bodies {
		ops[name], edges[name] = map[string]bool{}, map[string]bool{}
		for _, b := range bs {
			ast.Inspect(b, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					sel, ok := x.Fun.(*ast.SelectorExpr)
					if !ok {
						break
					}
					// <expr>.<ClientField>.<Operation>(…)
					if inner, ok := sel.X.(*ast.SelectorExpr); ok {
						if svc, ok := clientServices[inner.Sel.Name]; ok {
							ops[name][svc+":"+sel.Sel.Name] = true
						}
					}
					// <sdkpkg>.New<Operation>Paginator(…)
					if pkg, ok := sel.X.(*ast.Ident); ok {
						if svc, ok := sdkPackages[pkg.Name]; ok && strings.HasPrefix(sel.Sel.Name, "New") && strings.HasSuffix(sel.Sel.Name, "Paginator") {
							ops[name][svc+":"+strings.TrimSuffix(strings.TrimPrefix(sel.Sel.Name, "New"), "Paginator")] = true
						}
					}
				case *ast.Ident:
					if _, ok := bodies[x.Name]; ok && x.Name != name {
						edges[name][x.Name] = true
					}
				}
				return true
			})
		}
	}

	// Action name → method, from Register's calls, in order.
	var methods []string
	ast.Inspect(register.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 3 {
			return true
		}
		if sel, ok := call.Args[2].(*ast.SelectorExpr); ok {
			methods = append(methods, sel.Sel.Name)
		}
		return true
	})
	rec := &recordingRegistrar{}
	New(nil, nil).Register(rec)
	if len(rec.names) != len(methods) {
		t.Fatalf("Register registers %d actions but its source names %d methods", len(rec.names), len(methods))
	}

	out := map[string][]string{}
	for i, action := range rec.names {
		seen := map[string]bool{}
		perms := map[string]bool{}
		var visit func(string)
		visit = func(fn string) {
			if seen[fn] {
				return
			}
			seen[fn] = true
			for op := range ops[fn] {
				p, special := operationPermissions[op]
				if !special {
					p = []string{op}
				}
				for _, a := range p {
					perms[a] = true
				}
			}
			for next := range edges[fn] {
				visit(next)
			}
		}
		visit(methods[i])
		out[action] = slices.Sorted(maps.Keys(perms))
	}
	return out
}

// TestPermissionsMatchTheCode checks the declared IAM actions of every registered aws.*
// action against those its code calls: a new AWS call without its permission (or a
// permission nothing calls) fails here rather than with AccessDenied in an incident.
func TestPermissionsMatchTheCode(t *testing.T) {
	derived := derivedPermissions(t)
	for action, want := range derived {
		got, ok := Permissions[action]
		if !ok {
			t.Errorf("Permissions has no entry for %s; its code calls %v", action, want)
			continue
		}
		got = slices.Sorted(slices.Values(got))
		if !slices.Equal(got, want) {
			t.Errorf("Permissions[%s] = %v; its code calls for %v", action, got, want)
		}
	}
	for action := range Permissions {
		if _, ok := derived[action]; !ok {
			t.Errorf("Permissions[%s]: no such registered action", action)
		}
	}
}

func TestEveryAWSCatalogActionIsRegisteredWithPermissions(t *testing.T) {
	rec := &recordingRegistrar{}
	New(nil, nil).Register(rec)
	for _, name := range sever.ActionNames() {
		if !strings.HasPrefix(name, "aws.") {
			continue
		}
		if !slices.Contains(rec.names, name) {
			t.Errorf("catalog action %s is not registered by awsact", name)
		}
		if _, ok := Permissions[name]; !ok {
			t.Errorf("catalog action %s has no Permissions entry", name)
		}
	}
}

func TestIAMActionsIsTheSortedUnion(t *testing.T) {
	tests := []struct {
		name    string
		actions []string
		want    []string
	}{
		{"none", nil, nil},
		{"unknown actions add nothing", []string{"tokenstore.disable_token"}, nil},
		{"one", []string{sever.ActionAWSKeyStatus}, slices.Sorted(slices.Values(Permissions[sever.ActionAWSKeyStatus]))},
		{"deduplicated", []string{sever.ActionAWSDeactivateKey, sever.ActionAWSActivateKey}, union(Permissions[sever.ActionAWSDeactivateKey], Permissions[sever.ActionAWSActivateKey])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IAMActions(tt.actions...); !slices.Equal(got, tt.want) {
				t.Errorf("IAMActions(%v) = %v, want %v", tt.actions, got, tt.want)
			}
		})
	}
}

func union(lists ...[]string) []string {
	set := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			set[s] = true
		}
	}
	out := slices.Collect(maps.Keys(set))
	sort.Strings(out)
	return out
}

// TestResolverPermissionsMatchTheCode derives what Resolver.AWSSecret calls.
func TestResolverPermissionsMatchTheCode(t *testing.T) {
	src, err := os.ReadFile("resolver.go")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	f, err := parser.ParseFile(token.NewFileSet(), "resolver.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if inner, ok := sel.X.(*ast.SelectorExpr); ok {
				if svc, ok := clientServices[inner.Sel.Name]; ok {
					got = append(got, svc+":"+sel.Sel.Name)
				}
			}
		}
		return true
	})
	if !slices.Equal(got, ResolverPermissions) {
		t.Errorf("Resolver calls %v; ResolverPermissions = %v", got, ResolverPermissions)
	}
}
