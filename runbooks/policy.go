package runbooks

import (
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
)

var ruleFields = []string{"id", "actions", "credential_types", "mode", "approvers", "quorum", "deadline",
	"allow_proceed_on_timeout", "drill"}

// approvalOnly are the rule fields that only mean something with mode approval; they are
// rejected elsewhere so that nobody believes an auto rule is gated by approvers.
var approvalOnly = []string{"approvers", "quorum", "deadline", "allow_proceed_on_timeout"}

// ParsePolicy reads and validates a runtime policy. On failure the error is a
// LintErrors listing every problem found.
func ParsePolicy(file string, src []byte, catalog map[string]sever.ActionSpec) (*sever.Policy, error) {
	d := &decoder{file: file}
	root := d.document(src)
	if root == nil {
		return nil, d.result()
	}
	top, _ := d.mapping(root, "", "name", "version", "rules")
	p := &sever.Policy{File: file, Source: string(src), SHA256: sever.SHA256Hex(src)}
	if n := d.required(top, "name", " (lowercase letters, digits and -)"); n != nil {
		p.Name, _ = d.name(n, "name")
	}
	if n := d.required(top, "version", ` (a quoted string, e.g. "1")`); n != nil {
		if v, ok := d.str(n, "version"); ok {
			if strings.TrimSpace(v) == "" {
				d.errorf(n, "version", "must not be empty")
			}
			p.Version = v
		}
	}
	// An empty list is valid: it forbids every action.
	p.Rules = []sever.PolicyRule{}
	if n := d.required(top, "rules", " (a list of rules; [] forbids everything)"); n != nil {
		firstLine := map[string]int{}
		d.list(n, "rules", "[{id: evidence-auto, actions: [\"sever.evidence.*\"], mode: auto}]", func(i int, rn *yaml.Node) {
			r, ok := d.rule(rn, index("rules", i), catalog)
			if !ok {
				return
			}
			if first, dup := firstLine[r.ID]; dup {
				d.errorf(rn, index("rules", i)+".id", "duplicate rule id %q (first at line %d)", r.ID, first)
				return
			}
			firstLine[r.ID] = rn.Line
			p.Rules = append(p.Rules, r)
		})
	}
	if err := d.result(); err != nil {
		return nil, err
	}
	return p, nil
}

func (d *decoder) rule(n *yaml.Node, path string, catalog map[string]sever.ActionSpec) (sever.PolicyRule, bool) {
	var r sever.PolicyRule
	if isNull(n) {
		d.errorf(n, path, "empty rule; a rule needs id, actions and mode")
		return r, false
	}
	m, ok := d.mapping(n, path, ruleFields...)
	if !ok {
		return r, false
	}
	if n := d.required(m, "id", " (lowercase letters, digits, _ and -)"); n != nil {
		if s, ok := d.str(n, m.field("id")); ok {
			switch {
			case len(s) > maxNameLen:
				d.errorf(n, m.field("id"), "is %d characters long; the limit is %d", len(s), maxNameLen)
			case s == sever.DefaultDenyRule:
				d.errorf(n, m.field("id"), "%q is reserved for actions no rule matches", s)
			case !stepID.MatchString(s):
				d.errorf(n, m.field("id"), "%q may only hold lowercase letters, digits, _ and -", s)
			default:
				r.ID = s
			}
		}
	}
	if n := d.required(m, "actions", ` (action names or globs, e.g. ["sever.evidence.*"])`); n != nil {
		r.Actions = d.strList(n, m.field("actions"), `["sever.evidence.*"]`)
		if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			d.errorf(n, m.field("actions"), "is empty; a rule must name at least one action")
		}
		d.patterns(n, m.field("actions"), r.Actions, catalog)
	}
	if n := m.get("credential_types"); n != nil {
		r.CredentialTypes = enumList(d, n, m.field("credential_types"), sever.CredentialTypes)
	}
	if n := d.required(m, "mode", " (auto, approval or forbidden)"); n != nil {
		r.Mode, _ = oneOf(d, n, m.field("mode"), []string{sever.ModeAuto, sever.ModeApproval, sever.ModeForbidden})
	}
	switch r.Mode {
	case sever.ModeApproval:
		d.ruleApproval(m, &r)
	case sever.ModeAuto, sever.ModeForbidden:
		for _, k := range approvalOnly {
			if v := m.values[k]; v != nil {
				d.errorf(v, m.field(k), "only applies to mode approval, not %s", r.Mode)
			}
		}
	}
	if n := m.get("drill"); n != nil {
		if v, ok := d.boolean(n, m.field("drill")); ok {
			r.Drill = &v
		}
	}
	return r, r.ID != ""
}

func (d *decoder) ruleApproval(m mapping, r *sever.PolicyRule) {
	r.Quorum, r.Deadline = 1, sever.Duration(defaultDeadline)
	if n := d.required(m, "approvers", ` (who may approve, e.g. ["group:soc-leads"])`); n != nil {
		r.Approvers = d.strList(n, m.field("approvers"), `["group:soc-leads"]`)
		if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			d.errorf(n, m.field("approvers"), "is empty; mode approval needs at least one approver")
		}
	}
	d.quorumDeadline(m, r.Approvers, &r.Quorum, &r.Deadline)
	if n := m.get("allow_proceed_on_timeout"); n != nil {
		r.AllowProceedOnTimeout, _ = d.boolean(n, m.field("allow_proceed_on_timeout"))
	}
}

// patterns checks that each glob is well-formed and matches a known action, because a
// rule that matches nothing is almost always a typo that silently leaves an action
// forbidden (or, worse, leaves the intended gate off a different action).
func (d *decoder) patterns(n *yaml.Node, field string, pats []string, catalog map[string]sever.ActionSpec) {
	if n.Kind != yaml.SequenceNode {
		return
	}
	names := make([]string, 0, len(catalog))
	for name := range catalog {
		names = append(names, name)
	}
	slices.Sort(names)
	checked := map[string]bool{}
	for i, e := range n.Content {
		pat := e.Value
		if !slices.Contains(pats, pat) || checked[pat] {
			continue // strList() reported it
		}
		checked[pat] = true
		f := index(field, i)
		if _, err := path.Match(pat, ""); err != nil {
			d.errorf(e, f, "%q is not a valid pattern: %v", pat, err)
			continue
		}
		if !slices.ContainsFunc(names, func(name string) bool {
			ok, _ := path.Match(pat, name)
			return ok
		}) {
			d.errorf(e, f, "%q matches no known action%s", pat, suggest(pat, names))
		}
	}
}
