package deploy

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/iampolicy"
)

// LedgerCopyPermissions are what the ledger's write-once S3 copy (ledger.s3) calls on
// <bucket>/<prefix>*: it writes each entry and checkpoint under Object Lock and reads
// them back, and never lists, overwrites or deletes (see ledger/README.md).
var LedgerCopyPermissions = []string{"s3:GetObject", "s3:PutObject", "s3:PutObjectRetention"}

// defaultEvidencePrefix is where aws.s3.store_evidence writes when its step names no
// prefix.
const defaultEvidencePrefix = "sever/evidence/"

// Policy is an IAM policy document, as much of it as the check reads.
type Policy struct {
	Version   string
	Statement []Statement
}

// Statement is one statement of a Policy. Conditions are not evaluated: a statement
// with a condition counts as granting its actions.
type Statement = iampolicy.Statement

// ParsePolicy parses an identity IAM policy document. Statement may be one object or
// a list, as IAM accepts; unknown keys and a Principal are errors, since IAM would
// refuse them too.
func ParsePolicy(data []byte) (*Policy, error) {
	doc, err := iampolicy.Parse(data, iampolicy.Identity)
	if err != nil {
		return nil, fmt.Errorf("parse IAM policy: %w", err)
	}
	return &Policy{Version: doc.Version, Statement: doc.Statement}, nil
}

// Allows says whether the policy grants action on resource: an Allow statement matches
// both and no Deny statement does. resource "" matches any resource pattern (for
// actions whose resources sever cannot know, such as the IAM users of a key).
func (p *Policy) Allows(action, resource string) bool {
	allowed := false
	for _, st := range p.Statement {
		if !st.MatchesAction(action) || resource != "" && !st.MatchesResource(resource) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

// AllowedActions lists the action patterns of the policy's Allow statements, sorted and
// without repeats.
func (p *Policy) AllowedActions() []string {
	set := map[string]bool{}
	for _, st := range p.Statement {
		if st.Effect == "Allow" {
			for _, a := range st.Action {
				set[a] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// KnownPermissions is every IAM action sever may call: each aws.* action's, the ledger
// copy's, the account roles' and the aws-sm: resolver's.
func KnownPermissions() []string {
	set := map[string]bool{}
	for _, ps := range awsact.Permissions {
		for _, p := range ps {
			set[p] = true
		}
	}
	for _, l := range [][]string{LedgerCopyPermissions, awsact.AssumeRolePermissions, awsact.ResolverPermissions} {
		for _, p := range l {
			set[p] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// need is one permission the deployment needs, and why.
type need struct {
	action   string
	resource string // "" = any
	why      string
}

// needs lists the permissions cfg and the runbooks need, each with the reason.
func needs(cfg *config.Config, rbs []*sever.Runbook) []need {
	var out []need
	for _, rb := range rbs {
		for _, st := range rb.Steps {
			type use struct {
				action string
				args   sever.Values
			}
			uses := []use{{st.Action, st.Args}}
			if st.Verify != nil {
				uses = append(uses, use{st.Verify.Action, st.Verify.Args})
			}
			if st.Compensate != nil {
				uses = append(uses, use{st.Compensate.Action, st.Compensate.Args})
			}
			for _, u := range uses {
				perms, ok := awsact.Permissions[u.action]
				if !ok {
					continue
				}
				why := fmt.Sprintf("%s (runbook %s, step %s)", u.action, rb.Name, st.ID)
				res := ""
				if u.action == sever.ActionAWSStoreEvidence {
					res = evidenceResource(cfg, u.args)
				}
				for _, p := range perms {
					r := ""
					if strings.HasPrefix(p, "s3:") {
						r = res
					}
					out = append(out, need{p, r, why})
				}
			}
		}
	}
	if b := cfg.Ledger.S3.Bucket; b != "" {
		for _, p := range LedgerCopyPermissions {
			out = append(out, need{p, "arn:aws:s3:::" + b + "/" + cfg.Ledger.S3.Prefix + "inc-example/1.json", "the ledger's S3 copy (ledger.s3)"})
		}
	}
	for i, a := range cfg.AWS.Accounts {
		if a.RoleARN == "" {
			continue
		}
		for _, p := range awsact.AssumeRolePermissions {
			out = append(out, need{p, a.RoleARN, fmt.Sprintf("aws.accounts[%d] (%s)", i, a.ID)})
		}
	}
	for _, r := range secretRefs(cfg) {
		if scheme, arn := refTarget(r.Ref); scheme == config.SchemeAWSSM {
			for _, p := range awsact.ResolverPermissions {
				out = append(out, need{p, arn, "the secret reference " + r.Path})
			}
		}
	}
	return out
}

// evidenceResource is an object ARN aws.s3.store_evidence writes for a step with args:
// its bucket and prefix, else the configured bucket and the default prefix; "" when no
// bucket is known.
func evidenceResource(cfg *config.Config, args sever.Values) string {
	bucket, _ := args["bucket"].(string)
	if bucket == "" {
		bucket = cfg.AWS.EvidenceBucket
	}
	if bucket == "" || strings.Contains(bucket, "${") {
		return ""
	}
	prefix, _ := args["prefix"].(string)
	if prefix == "" || strings.Contains(prefix, "${") {
		prefix = defaultEvidencePrefix
	}
	return "arn:aws:s3:::" + bucket + "/" + prefix + "inc-example/evidence.json"
}

// CheckIAMPolicy checks the IAM policy at path: it must grant every permission the
// runbooks' AWS actions, the ledger copy, the account roles and the aws-sm: references
// of cfg need, and nothing sever never calls; no wildcard actions and no NotAction.
func CheckIAMPolicy(path string, cfg *config.Config, rbs []*sever.Runbook) []Problem {
	data, err := os.ReadFile(path)
	if err != nil {
		return []Problem{{path, fmt.Sprintf("read IAM policy: %v", err)}}
	}
	pol, err := ParsePolicy(data)
	if err != nil {
		return []Problem{{path, err.Error()}}
	}
	var probs []Problem
	add := func(format string, args ...any) { probs = append(probs, Problem{path, fmt.Sprintf(format, args...)}) }
	if pol.Version != "2012-10-17" {
		add("Version is %q; use \"2012-10-17\"", pol.Version)
	}
	known := map[string]bool{}
	for _, p := range KnownPermissions() {
		known[strings.ToLower(p)] = true
	}
	for i, st := range pol.Statement {
		name := fmt.Sprintf("Statement[%d]", i)
		if st.Sid != "" {
			name += " (" + st.Sid + ")"
		}
		if st.Effect != "Allow" {
			continue
		}
		if len(st.NotAction) > 0 || len(st.NotResource) > 0 {
			add("%s: Allow with NotAction or NotResource grants more than sever calls; list the actions and resources", name)
		}
		for _, a := range st.Action {
			switch {
			case strings.ContainsAny(a, "*?"):
				add("%s: %s is a wildcard; grant the actions sever calls by name", name, a)
			case !known[strings.ToLower(a)]:
				add("%s: grants %s, which sever never calls", name, a)
			}
		}
	}
	seen := map[string]bool{}
	for _, n := range needs(cfg, rbs) {
		if pol.Allows(n.action, n.resource) {
			continue
		}
		key := n.action + "|" + n.resource
		if seen[key] {
			continue // one line per missing grant; the first reason is enough
		}
		seen[key] = true
		if n.resource == "" {
			add("grants no %s, which %s needs", n.action, n.why)
		} else {
			add("grants no %s on %s, which %s needs", n.action, n.resource, n.why)
		}
	}
	return probs
}
