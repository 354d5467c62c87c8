package runbooks

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/yamlcheck"
	"github.com/sever-ir/sever/runbooks/cond"
)

// Limits and defaults of the runbook format; README.md documents them.
const (
	maxNameLen = 64
	maxSteps   = 100

	defaultTimeout     = 30 * time.Second
	minTimeout         = time.Second
	maxTimeout         = time.Hour
	defaultMaxAttempts = 3
	maxMaxAttempts     = 20

	defaultDeadline = 15 * time.Minute
	minDeadline     = time.Minute
	maxDeadline     = 72 * time.Hour
)

var (
	runbookName = regexp.MustCompile(`^[a-z0-9-]+$`)
	stepID      = regexp.MustCompile(`^[a-z0-9_-]+$`)
	// dashedStepRef spots steps.observe-vendor, which CEL reads as a subtraction.
	dashedStepRef = regexp.MustCompile(`\bsteps\.([a-z0-9_]+-[a-z0-9_-]+)`)
)

// Parse reads and validates a runbook. file names the source in messages and in the
// result. On failure the error is a LintErrors listing every problem found.
func Parse(file string, src []byte, catalog map[string]sever.ActionSpec) (*sever.Runbook, error) {
	rb, _, err := parseRunbook(file, src, catalog)
	return rb, err
}

// stepNodes keeps the YAML nodes that cross-step checks point their messages at.
type stepNodes struct {
	node  *yaml.Node
	id    *yaml.Node
	needs []*yaml.Node // parallel to RunbookStep.Needs
	when  *yaml.Node
}

// parseRunbook also returns the line of the name field, for duplicate-name messages.
func parseRunbook(file string, src []byte, catalog map[string]sever.ActionSpec) (*sever.Runbook, int, error) {
	d := newDecoder(file)
	root := d.document(src)
	if root == nil {
		return nil, 0, d.Err()
	}
	top, _ := d.Mapping(root, "", "name", "version", "description", "match", "frameworks", "defaults", "steps")
	if hasKey(root, "rules") {
		d.Add(root, "", "this looks like a policy file (it has rules:); lint it as a policy")
	}
	rb := &sever.Runbook{File: file, Source: string(src), SHA256: sever.SHA256Hex(src)}
	var nameLine int
	if n := d.Required(top, "name", " (lowercase letters, digits and -)"); n != nil {
		nameLine = n.Line
		rb.Name, _ = d.name(n, "name")
	}
	if n := d.Required(top, "version", ` (a quoted string, e.g. "1.0.0")`); n != nil {
		if v, ok := d.String(n, "version"); ok {
			if strings.TrimSpace(v) == "" {
				d.Add(n, "version", "must not be empty")
			}
			rb.Version = v
		}
	}
	if n := top.Get("description"); n != nil {
		rb.Description, _ = d.String(n, "description")
	}
	if n := top.Get("match"); n != nil {
		rb.Match = d.match(n)
	}
	if n := top.Get("frameworks"); n != nil {
		rb.Frameworks = d.frameworks(n, "frameworks")
	}
	timeout, attempts := sever.Duration(defaultTimeout), defaultMaxAttempts
	if n := top.Get("defaults"); n != nil {
		m, _ := d.Mapping(n, "defaults", "timeout", "max_attempts")
		if n := m.Get("timeout"); n != nil {
			if v, ok := d.duration(n, m.Field("timeout"), minTimeout, maxTimeout); ok {
				timeout = v
			}
		}
		if n := m.Get("max_attempts"); n != nil {
			if v, ok := d.IntRange(n, m.Field("max_attempts"), 1, maxMaxAttempts); ok {
				attempts = v
			}
		}
	}
	var nodes []stepNodes
	if n := d.Required(top, "steps", " (a list of steps)"); n != nil {
		d.List(n, "steps", "[{id: capture, action: sever.evidence.capture_signals}]", func(i int, sn *yaml.Node) {
			if i == maxSteps {
				d.Add(sn, index("steps", i), "a runbook has at most %d steps", maxSteps)
			}
			if i >= maxSteps {
				return
			}
			st, nd := d.step(sn, index("steps", i), timeout, attempts, catalog)
			rb.Steps = append(rb.Steps, st)
			nodes = append(nodes, nd)
		})
		if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			d.Add(n, "steps", "a runbook needs at least one step")
		}
	}
	d.graph(rb.Steps, nodes)
	if err := d.Err(); err != nil {
		return nil, nameLine, err
	}
	return rb, nameLine, nil
}

func (d *decoder) name(n *yaml.Node, field string) (string, bool) {
	s, ok := d.String(n, field)
	switch {
	case !ok:
	case len(s) > maxNameLen:
		d.Add(n, field, "is %d characters long; the limit is %d", len(s), maxNameLen)
	case !runbookName.MatchString(s):
		d.Add(n, field, "%q may only hold lowercase letters, digits and -", s)
	default:
		return s, true
	}
	return "", false
}

func (d *decoder) match(n *yaml.Node) sever.RunbookMatch {
	var out sever.RunbookMatch
	m, _ := d.Mapping(n, "match", "credential_types", "signal_kinds", "priority")
	if n := m.Get("credential_types"); n != nil {
		out.CredentialTypes = yamlcheck.EnumList(&d.Checker, n, m.Field("credential_types"), sever.CredentialTypes)
	}
	if n := m.Get("signal_kinds"); n != nil {
		out.SignalKinds = yamlcheck.EnumList(&d.Checker, n, m.Field("signal_kinds"), sever.SignalKinds)
	}
	if n := m.Get("priority"); n != nil {
		out.Priority, _ = d.IntRange(n, m.Field("priority"), -1000, 1000)
	}
	return out
}

var stepFields = []string{"id", "name", "action", "args", "needs", "when", "timeout", "max_attempts",
	"enforcement", "approval", "verify", "containment", "on_failure", "compensate", "frameworks"}

func (d *decoder) step(n *yaml.Node, path string, timeout sever.Duration, attempts int,
	catalog map[string]sever.ActionSpec) (sever.RunbookStep, stepNodes) {
	st := sever.RunbookStep{Line: n.Line, Timeout: timeout, MaxAttempts: attempts, OnFailure: sever.FailAbort}
	nodes := stepNodes{node: n}
	m, ok := d.item(n, path, "empty step; a step needs at least id and action", stepFields)
	if !ok {
		return st, nodes
	}
	st.ID, nodes.id = d.id(m, "")
	if n := m.Get("name"); n != nil {
		st.Name, _ = d.String(n, m.Field("name"))
	}
	var spec *sever.ActionSpec
	if n := d.Required(m, "action", " (an action from the catalog, e.g. sever.notify.log)"); n != nil {
		spec = d.action(n, m.Field("action"), catalog)
		if spec != nil {
			st.Action, st.Mutating, st.Enforcement, st.Containment = spec.Name, spec.Mutating, spec.Enforcement, spec.Mutating
		}
	}
	st.Args = d.args(m.Get("args"), m, m.Field("args"), spec)
	if n := m.Get("needs"); n != nil {
		d.List(n, m.Field("needs"), "[capture]", func(i int, e *yaml.Node) {
			f := index(m.Field("needs"), i)
			s, ok := d.String(e, f)
			switch {
			case !ok:
			case s == st.ID:
				d.Add(e, f, "a step cannot need itself")
			case slices.Contains(st.Needs, s):
				d.Add(e, f, "%q is listed twice", s)
			default:
				st.Needs = append(st.Needs, s)
				nodes.needs = append(nodes.needs, e)
			}
		})
	}
	if n := m.Get("when"); n != nil {
		if s, ok := d.String(n, m.Field("when")); ok {
			if err := cond.Check(s); err != nil {
				hint := ""
				if ref := dashedStepRef.FindStringSubmatch(s); ref != nil {
					hint = fmt.Sprintf(` (write steps["%s"]: in CEL, - is minus)`, ref[1])
				}
				d.Add(n, m.Field("when"), "%s%s", strings.TrimPrefix(err.Error(), "cond: "), hint)
			} else {
				st.When, nodes.when = s, n
			}
		}
	}
	if n := m.Get("timeout"); n != nil {
		if v, ok := d.duration(n, m.Field("timeout"), minTimeout, maxTimeout); ok {
			st.Timeout = v
		}
	}
	if n := m.Get("max_attempts"); n != nil {
		if v, ok := d.IntRange(n, m.Field("max_attempts"), 1, maxMaxAttempts); ok {
			st.MaxAttempts = v
		}
	}
	if n := m.Get("enforcement"); n != nil {
		if v, ok := yamlcheck.OneOf(&d.Checker, n, m.Field("enforcement"), sever.Enforcements); ok {
			st.Enforcement = v
		}
	}
	if n := m.Values["approval"]; n != nil { // null still means "present, and empty"
		st.Approval = d.approval(n, m.Field("approval"))
	}
	if n := m.Values["verify"]; n != nil { // null still means "present, and empty"
		st.Verify = d.verify(n, m.Field("verify"), catalog)
	}
	if n := m.Get("containment"); n != nil {
		if v, ok := d.Bool(n, m.Field("containment")); ok {
			switch {
			case v && spec != nil && !spec.Mutating:
				// Containment is a control put in place; an action the catalog does not
				// declare as changing state puts none, so an incident could otherwise
				// end "contained and verified" having done nothing.
				d.Add(n, m.Field("containment"), "step %s: %s changes no state, so it cannot be a containment step (containment: true is legal only on actions that change state)",
					cmp.Or(st.ID, "?"), spec.Name)
			default:
				st.Containment = v
			}
		}
	}
	if n := m.Get("on_failure"); n != nil {
		if v, ok := yamlcheck.OneOf(&d.Checker, n, m.Field("on_failure"), []sever.StepFailureMode{sever.FailAbort, sever.FailContinue}); ok {
			st.OnFailure = v
		}
	}
	if n := m.Values["compensate"]; n != nil { // null still means "present, and empty"
		st.Compensate = d.compensate(n, m.Field("compensate"), spec, catalog)
	}
	if n := m.Get("frameworks"); n != nil {
		st.Frameworks = d.frameworks(n, m.Field("frameworks"))
	}
	return st, nodes
}

// action resolves an action name against the catalog.
func (d *decoder) action(n *yaml.Node, field string, catalog map[string]sever.ActionSpec) *sever.ActionSpec {
	s, ok := d.String(n, field)
	if !ok {
		return nil
	}
	spec, ok := catalog[s]
	if !ok {
		names := make([]string, 0, len(catalog))
		for name := range catalog {
			names = append(names, name)
		}
		slices.Sort(names)
		hint := suggest(s, names)
		if hint == "" {
			hint = " (not in the action catalog)"
		}
		d.Add(n, field, "unknown action %q%s", s, hint)
		return nil
	}
	if spec.Name == "" {
		spec.Name = s
	}
	return &spec
}

func (d *decoder) approval(n *yaml.Node, path string) *sever.ApprovalSpec {
	m, ok := d.Mapping(n, path, "approvers", "quorum", "deadline", "on_timeout", "escalate")
	if !ok {
		return nil
	}
	a := &sever.ApprovalSpec{Quorum: 1, Deadline: sever.Duration(defaultDeadline)}
	approvers := m.Get("approvers")
	if approvers != nil {
		a.Approvers = d.StringList(approvers, m.Field("approvers"), `[U012AB3CD, "group:soc-leads"]`)
		if approvers.Kind == yaml.SequenceNode && len(approvers.Content) == 0 {
			d.Add(approvers, m.Field("approvers"), "is empty; omit it to let the policy name the approvers")
		}
	}
	d.quorumDeadline(m, a.Approvers, &a.Quorum, &a.Deadline)
	if n := d.Required(m, "on_timeout", " (deny, abort or proceed: what happens when nobody decides in time)"); n != nil {
		a.OnTimeout, _ = yamlcheck.OneOf(&d.Checker, n, m.Field("on_timeout"),
			[]string{sever.OnTimeoutDeny, sever.OnTimeoutAbort, sever.OnTimeoutProceed})
	}
	if n := m.Get("escalate"); n != nil {
		a.Escalate = d.StringList(n, m.Field("escalate"), `["group:soc-oncall"]`)
	}
	return a
}

func (d *decoder) verify(n *yaml.Node, path string, catalog map[string]sever.ActionSpec) *sever.VerifySpec {
	m, ok := d.Mapping(n, path, "action", "args")
	if !ok {
		return nil
	}
	v := &sever.VerifySpec{}
	var spec *sever.ActionSpec
	if n := d.Required(m, "action", " (a read-only action, e.g. tokenstore.token_status)"); n != nil {
		spec = d.action(n, m.Field("action"), catalog)
		if spec != nil && spec.Mutating {
			d.Add(n, m.Field("action"), "%s changes state; a read-back must use an action that does not", spec.Name)
			spec = nil
		}
		if spec != nil {
			v.Action = spec.Name
		}
	}
	v.Args = d.args(m.Get("args"), m, m.Field("args"), spec)
	return v
}

func (d *decoder) compensate(n *yaml.Node, path string, step *sever.ActionSpec, catalog map[string]sever.ActionSpec) *sever.CompensateSpec {
	m, ok := d.Mapping(n, path, "action", "args")
	if !ok {
		return nil
	}
	if step != nil && !step.Mutating {
		d.Add(n, path, "%s changes nothing, so there is nothing to compensate", step.Name)
	}
	c := &sever.CompensateSpec{}
	var spec *sever.ActionSpec
	if n := d.Required(m, "action", " (a mutating action that undoes the step)"); n != nil {
		spec = d.action(n, m.Field("action"), catalog)
		if spec != nil && !spec.Mutating {
			d.Add(n, m.Field("action"), "%s changes nothing, so it cannot undo the step", spec.Name)
		}
		if spec != nil {
			c.Action = spec.Name
		}
	}
	c.Args = d.args(m.Get("args"), m, m.Field("args"), spec)
	return c
}

// graph checks what needs whole-runbook knowledge: unique ids, needs that exist and
// form no cycle, and conditions that only read steps guaranteed to have finished.
func (d *decoder) graph(steps []sever.RunbookStep, nodes []stepNodes) {
	byID := map[string]int{}
	for i, st := range steps {
		if st.ID == "" {
			continue
		}
		if first, dup := byID[st.ID]; dup {
			d.Add(nodes[i].id, index("steps", i)+".id", "duplicate step id %q (first at line %d)", st.ID, steps[first].Line)
			continue
		}
		byID[st.ID] = i
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	edges := make([][]int, len(steps)) // step → steps it needs
	for i, st := range steps {
		for j, need := range st.Needs {
			k, ok := byID[need]
			if !ok {
				hint := suggest(need, ids)
				if hint == "" {
					hint = " (steps: " + strings.Join(ids, ", ") + ")"
				}
				d.Add(nodes[i].needs[j], index(index("steps", i)+".needs", j), "unknown step %q%s", need, hint)
				continue
			}
			edges[i] = append(edges[i], k)
		}
	}
	if d.cycles(steps, nodes, edges) {
		return
	}
	for i, st := range steps {
		if st.When == "" {
			continue
		}
		refs, err := cond.StepRefs(st.When)
		if err != nil {
			continue // Check already reported it
		}
		ancestors := reach(i, edges)
		for _, ref := range refs {
			k, ok := byID[ref]
			field := index("steps", i) + ".when"
			switch {
			case !ok:
				d.Add(nodes[i].when, field, "reads steps.%s, but there is no step %q%s", ref, ref, suggest(ref, ids))
			case k == i:
				d.Add(nodes[i].when, field, "reads its own step (steps.%s), which has not run when the condition is evaluated", ref)
			case !ancestors[k]:
				d.Add(nodes[i].when, field, "reads steps.%s, but the step does not need %q (directly or through other steps), so it may not have run yet; add it to needs", ref, ref)
			}
		}
	}
}

// cycles reports each dependency cycle once and says whether there was any.
func (d *decoder) cycles(steps []sever.RunbookStep, nodes []stepNodes, edges [][]int) bool {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(steps))
	var stack []int
	found := false
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, k := range edges[i] {
			switch color[k] {
			case white:
				visit(k)
			case grey:
				start := slices.Index(stack, k)
				path := make([]string, 0, len(stack)-start+1)
				for _, s := range stack[start:] {
					path = append(path, steps[s].ID)
				}
				path = append(path, steps[k].ID)
				at, field := nodes[i].node, index("steps", i)+".needs"
				if j := slices.Index(steps[i].Needs, steps[k].ID); j >= 0 && j < len(nodes[i].needs) {
					at, field = nodes[i].needs[j], index(field, j)
				}
				d.Add(at, field, "dependency cycle: %s", strings.Join(path, " -> "))
				found = true
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range steps {
		if color[i] == white {
			visit(i)
		}
	}
	return found
}

// reach returns the steps i transitively needs.
func reach(i int, edges [][]int) map[int]bool {
	seen := map[int]bool{}
	var walk func(int)
	walk = func(n int) {
		for _, k := range edges[n] {
			if !seen[k] {
				seen[k] = true
				walk(k)
			}
		}
	}
	walk(i)
	return seen
}

func isGroup(a string) bool {
	return strings.HasPrefix(a, "group:") || strings.HasPrefix(a, "slack-group:")
}

// quorumDeadline reads quorum (1 to 100, and no more than the approvers listed) and
// deadline, as runbook approval blocks and policy rules share them.
func (d *decoder) quorumDeadline(m mapping, approvers []string, quorum *int, deadline *sever.Duration) {
	if n := m.Get("quorum"); n != nil {
		if q, ok := d.IntRange(n, m.Field("quorum"), 1, 100); ok {
			*quorum = q
			// A group stands for any number of people, so only a plain list can be too short.
			if len(approvers) > 0 && q > len(approvers) && !slices.ContainsFunc(approvers, isGroup) {
				d.Add(n, m.Field("quorum"), "quorum %d is more than the %d approver(s) listed", q, len(approvers))
			}
		}
	}
	if n := m.Get("deadline"); n != nil {
		if v, ok := d.duration(n, m.Field("deadline"), minDeadline, maxDeadline); ok {
			*deadline = v
		}
	}
}
