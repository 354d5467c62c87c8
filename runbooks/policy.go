package runbooks

import (
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/yamlcheck"
)

var ruleFields = []string{"id", "actions", "credential_types", "mode", "approvers", "quorum", "deadline",
	"allow_proceed_on_timeout", "drill"}

// approvalOnly are the rule fields that only mean something with mode approval; they are
// rejected elsewhere so that nobody believes an auto rule is gated by approvers.
var approvalOnly = []string{"approvers", "quorum", "deadline", "allow_proceed_on_timeout"}

// ParsePolicy reads and validates a runtime policy. On failure the error is a
// LintErrors listing every problem found.
func ParsePolicy(file string, src []byte, catalog map[string]sever.ActionSpec) (*sever.Policy, error) {
	d := newDecoder(file)
	root := d.document(src)
	if root == nil {
		return nil, d.Err()
	}
	top, _ := d.Mapping(root, "", "name", "version", "rules")
	p := &sever.Policy{File: file, Source: string(src), SHA256: sever.SHA256Hex(src)}
	if n := d.Required(top, "name", " (lowercase letters, digits and -)"); n != nil {
		p.Name, _ = d.name(n, "name")
	}
	if n := d.Required(top, "version", ` (a quoted string, e.g. "1")`); n != nil {
		if v, ok := d.String(n, "version"); ok {
			if strings.TrimSpace(v) == "" {
				d.Add(n, "version", "must not be empty")
			}
			p.Version = v
		}
	}
	// An empty list is valid: it forbids every action.
	p.Rules = []sever.PolicyRule{}
	if n := d.Required(top, "rules", " (a list of rules; [] forbids everything)"); n != nil {
		firstLine := map[string]int{}
		d.List(n, "rules", "[{id: evidence-auto, actions: [\"sever.evidence.*\"], mode: auto}]", func(i int, rn *yaml.Node) {
			r, ok := d.rule(rn, index("rules", i), catalog)
			if !ok {
				return
			}
			if first, dup := firstLine[r.ID]; dup {
				d.Add(rn, index("rules", i)+".id", "duplicate rule id %q (first at line %d)", r.ID, first)
				return
			}
			firstLine[r.ID] = rn.Line
			p.Rules = append(p.Rules, r)
		})
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

func (d *decoder) rule(n *yaml.Node, path string, catalog map[string]sever.ActionSpec) (sever.PolicyRule, bool) {
	var r sever.PolicyRule
	m, ok := d.item(n, path, "empty rule; a rule needs id, actions and mode", ruleFields)
	if !ok {
		return r, false
	}
	r.ID, _ = d.id(m, sever.DefaultDenyRule)
	if n := d.Required(m, "actions", ` (action names or globs, e.g. ["sever.evidence.*"])`); n != nil {
		r.Actions = d.StringList(n, m.Field("actions"), `["sever.evidence.*"]`)
		if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			d.Add(n, m.Field("actions"), "is empty; a rule must name at least one action")
		}
		d.patterns(n, m.Field("actions"), r.Actions, catalog)
	}
	if n := m.Get("credential_types"); n != nil {
		r.CredentialTypes = yamlcheck.EnumList(&d.Checker, n, m.Field("credential_types"), sever.CredentialTypes)
	}
	if n := d.Required(m, "mode", " (auto, approval or forbidden)"); n != nil {
		r.Mode, _ = yamlcheck.OneOf(&d.Checker, n, m.Field("mode"), []string{sever.ModeAuto, sever.ModeApproval, sever.ModeForbidden})
	}
	switch r.Mode {
	case sever.ModeApproval:
		d.ruleApproval(m, &r)
	case sever.ModeAuto, sever.ModeForbidden:
		for _, k := range approvalOnly {
			if v := m.Values[k]; v != nil {
				d.Add(v, m.Field(k), "only applies to mode approval, not %s", r.Mode)
			}
		}
	}
	if n := m.Get("drill"); n != nil {
		if v, ok := d.Bool(n, m.Field("drill")); ok {
			r.Drill = &v
		}
	}
	return r, r.ID != ""
}

func (d *decoder) ruleApproval(m mapping, r *sever.PolicyRule) {
	r.Quorum, r.Deadline = 1, sever.Duration(defaultDeadline)
	if n := d.Required(m, "approvers", ` (who may approve, e.g. ["group:soc-leads"])`); n != nil {
		r.Approvers = d.StringList(n, m.Field("approvers"), `["group:soc-leads"]`)
		if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			d.Add(n, m.Field("approvers"), "is empty; mode approval needs at least one approver")
		}
	}
	d.quorumDeadline(m, r.Approvers, &r.Quorum, &r.Deadline)
	if n := m.Get("allow_proceed_on_timeout"); n != nil {
		r.AllowProceedOnTimeout, _ = d.Bool(n, m.Field("allow_proceed_on_timeout"))
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
			d.Add(e, f, "%q is not a valid pattern: %v", pat, err)
			continue
		}
		if !slices.ContainsFunc(names, func(name string) bool {
			ok, _ := path.Match(pat, name)
			return ok
		}) {
			d.Add(e, f, "%q matches no known action%s", pat, suggest(pat, names))
		}
	}
}
