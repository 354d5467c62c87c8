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
	d := &decoder{file: file}
	root := d.document(src)
	if root == nil {
		return nil, 0, d.result()
	}
	top, _ := d.mapping(root, "", "name", "version", "description", "match", "frameworks", "defaults", "steps")
	if hasKey(root, "rules") {
		d.errorf(root, "", "this looks like a policy file (it has rules:); lint it as a policy")
	}
	rb := &sever.Runbook{File: file, Source: string(src), SHA256: sever.SHA256Hex(src)}
	var nameLine int
	if n := d.required(top, "name", " (lowercase letters, digits and -)"); n != nil {
		nameLine = n.Line
		rb.Name, _ = d.name(n, "name")
	}
	if n := d.required(top, "version", ` (a quoted string, e.g. "1.0.0")`); n != nil {
		if v, ok := d.str(n, "version"); ok {
			if strings.TrimSpace(v) == "" {
				d.errorf(n, "version", "must not be empty")
			}
			rb.Version = v
		}
	}
	if n := top.get("description"); n != nil {
		rb.Description, _ = d.str(n, "description")
	}
	if n := top.get("match"); n != nil {
		rb.Match = d.match(n)
	}
	if n := top.get("frameworks"); n != nil {
		rb.Frameworks = d.frameworks(n, "frameworks")
	}
	timeout, attempts := sever.Duration(defaultTimeout), defaultMaxAttempts
	if n := top.get("defaults"); n != nil {
		m, _ := d.mapping(n, "defaults", "timeout", "max_attempts")
		if n := m.get("timeout"); n != nil {
			if v, ok := d.duration(n, m.field("timeout"), minTimeout, maxTimeout); ok {
				timeout = v
			}
		}
		if n := m.get("max_attempts"); n != nil {
			if v, ok := d.intRange(n, m.field("max_attempts"), 1, maxMaxAttempts); ok {
				attempts = v
			}
		}
	}
	var nodes []stepNodes
	if n := d.required(top, "steps", " (a list of steps)"); n != nil {
		d.list(n, "steps", "[{id: capture, action: sever.evidence.capture_signals}]", func(i int, sn *yaml.Node) {
			if i == maxSteps {
				d.errorf(sn, index("steps", i), "a runbook has at most %d steps", maxSteps)
			}
			if i >= maxSteps {
				return
			}
			st, nd := d.step(sn, index("steps", i), timeout, attempts, catalog)
			rb.Steps = append(rb.Steps, st)
			nodes = append(nodes, nd)
		})
		if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			d.errorf(n, "steps", "a runbook needs at least one step")
		}
	}
	d.graph(rb.Steps, nodes)
	if err := d.result(); err != nil {
		return nil, nameLine, err
	}
	return rb, nameLine, nil
}

func (d *decoder) name(n *yaml.Node, field string) (string, bool) {
	s, ok := d.str(n, field)
	switch {
	case !ok:
	case len(s) > maxNameLen:
		d.errorf(n, field, "is %d characters long; the limit is %d", len(s), maxNameLen)
	case !runbookName.MatchString(s):
		d.errorf(n, field, "%q may only hold lowercase letters, digits and -", s)
	default:
		return s, true
	}
	return "", false
}

func (d *decoder) match(n *yaml.Node) sever.RunbookMatch {
	var out sever.RunbookMatch
	m, _ := d.mapping(n, "match", "credential_types", "signal_kinds", "priority")
	if n := m.get("credential_types"); n != nil {
		out.CredentialTypes = enumList(d, n, m.field("credential_types"), sever.CredentialTypes)
	}
	if n := m.get("signal_kinds"); n != nil {
		out.SignalKinds = enumList(d, n, m.field("signal_kinds"), sever.SignalKinds)
	}
	if n := m.get("priority"); n != nil {
		out.Priority, _ = d.intRange(n, m.field("priority"), -1000, 1000)
	}
	return out
}

var stepFields = []string{"id", "name", "action", "args", "needs", "when", "timeout", "max_attempts",
	"enforcement", "approval", "verify", "containment", "on_failure", "compensate", "frameworks"}

func (d *decoder) step(n *yaml.Node, path string, timeout sever.Duration, attempts int,
	catalog map[string]sever.ActionSpec) (sever.RunbookStep, stepNodes) {
	st := sever.RunbookStep{Line: n.Line, Timeout: timeout, MaxAttempts: attempts, OnFailure: sever.FailAbort}
	nodes := stepNodes{node: n}
	if isNull(n) {
		d.errorf(n, path, "empty step; a step needs at least id and action")
		return st, nodes
	}
	m, ok := d.mapping(n, path, stepFields...)
	if !ok {
		return st, nodes
	}
	if n := d.required(m, "id", " (lowercase letters, digits, _ and -)"); n != nil {
		nodes.id = n
		if s, ok := d.str(n, m.field("id")); ok {
			switch {
			case len(s) > maxNameLen:
				d.errorf(n, m.field("id"), "is %d characters long; the limit is %d", len(s), maxNameLen)
			case !stepID.MatchString(s):
				d.errorf(n, m.field("id"), "%q may only hold lowercase letters, digits, _ and -", s)
			default:
				st.ID = s
			}
		}
	}
	if n := m.get("name"); n != nil {
		st.Name, _ = d.str(n, m.field("name"))
	}
	var spec *sever.ActionSpec
	if n := d.required(m, "action", " (an action from the catalog, e.g. sever.notify.log)"); n != nil {
		spec = d.action(n, m.field("action"), catalog)
		if spec != nil {
			st.Action, st.Mutating, st.Enforcement, st.Containment = spec.Name, spec.Mutating, spec.Enforcement, spec.Mutating
		}
	}
	st.Args = d.args(m.get("args"), m, m.field("args"), spec)
	if n := m.get("needs"); n != nil {
		d.list(n, m.field("needs"), "[capture]", func(i int, e *yaml.Node) {
			f := index(m.field("needs"), i)
			s, ok := d.str(e, f)
			switch {
			case !ok:
			case s == st.ID:
				d.errorf(e, f, "a step cannot need itself")
			case slices.Contains(st.Needs, s):
				d.errorf(e, f, "%q is listed twice", s)
			default:
				st.Needs = append(st.Needs, s)
				nodes.needs = append(nodes.needs, e)
			}
		})
	}
	if n := m.get("when"); n != nil {
		if s, ok := d.str(n, m.field("when")); ok {
			if err := cond.Check(s); err != nil {
				hint := ""
				if ref := dashedStepRef.FindStringSubmatch(s); ref != nil {
					hint = fmt.Sprintf(` (write steps["%s"]: in CEL, - is minus)`, ref[1])
				}
				d.errorf(n, m.field("when"), "%s%s", strings.TrimPrefix(err.Error(), "cond: "), hint)
			} else {
				st.When, nodes.when = s, n
			}
		}
	}
	if n := m.get("timeout"); n != nil {
		if v, ok := d.duration(n, m.field("timeout"), minTimeout, maxTimeout); ok {
			st.Timeout = v
		}
	}
	if n := m.get("max_attempts"); n != nil {
		if v, ok := d.intRange(n, m.field("max_attempts"), 1, maxMaxAttempts); ok {
			st.MaxAttempts = v
		}
	}
	if n := m.get("enforcement"); n != nil {
		if v, ok := oneOf(d, n, m.field("enforcement"), sever.Enforcements); ok {
			st.Enforcement = v
		}
	}
	if n := m.values["approval"]; n != nil { // null still means "present, and empty"
		st.Approval = d.approval(n, m.field("approval"))
	}
	if n := m.values["verify"]; n != nil { // null still means "present, and empty"
		st.Verify = d.verify(n, m.field("verify"), catalog)
	}
	if n := m.get("containment"); n != nil {
		if v, ok := d.boolean(n, m.field("containment")); ok {
			switch {
			case v && spec != nil && !spec.Mutating:
				// Containment is a control put in place; an action the catalog does not
				// declare as changing state puts none, so an incident could otherwise
				// end "contained and verified" having done nothing.
				d.errorf(n, m.field("containment"), "step %s: %s changes no state, so it cannot be a containment step (containment: true is legal only on actions that change state)",
					cmp.Or(st.ID, "?"), spec.Name)
			default:
				st.Containment = v
			}
		}
	}
	if n := m.get("on_failure"); n != nil {
		if v, ok := oneOf(d, n, m.field("on_failure"), []sever.StepFailureMode{sever.FailAbort, sever.FailContinue}); ok {
			st.OnFailure = v
		}
	}
	if n := m.values["compensate"]; n != nil { // null still means "present, and empty"
		st.Compensate = d.compensate(n, m.field("compensate"), spec, catalog)
	}
	if n := m.get("frameworks"); n != nil {
		st.Frameworks = d.frameworks(n, m.field("frameworks"))
	}
	return st, nodes
}

// action resolves an action name against the catalog.
func (d *decoder) action(n *yaml.Node, field string, catalog map[string]sever.ActionSpec) *sever.ActionSpec {
	s, ok := d.str(n, field)
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
		d.errorf(n, field, "unknown action %q%s", s, hint)
		return nil
	}
	if spec.Name == "" {
		spec.Name = s
	}
	return &spec
}

func (d *decoder) approval(n *yaml.Node, path string) *sever.ApprovalSpec {
	m, ok := d.mapping(n, path, "approvers", "quorum", "deadline", "on_timeout", "escalate")
	if !ok {
		return nil
	}
	a := &sever.ApprovalSpec{Quorum: 1, Deadline: sever.Duration(defaultDeadline)}
	approvers := m.get("approvers")
	if approvers != nil {
		a.Approvers = d.strList(approvers, m.field("approvers"), `[U012AB3CD, "group:soc-leads"]`)
		if approvers.Kind == yaml.SequenceNode && len(approvers.Content) == 0 {
			d.errorf(approvers, m.field("approvers"), "is empty; omit it to let the policy name the approvers")
		}
	}
	d.quorumDeadline(m, a.Approvers, &a.Quorum, &a.Deadline)
	if n := d.required(m, "on_timeout", " (deny, abort or proceed: what happens when nobody decides in time)"); n != nil {
		a.OnTimeout, _ = oneOf(d, n, m.field("on_timeout"),
			[]string{sever.OnTimeoutDeny, sever.OnTimeoutAbort, sever.OnTimeoutProceed})
	}
	if n := m.get("escalate"); n != nil {
		a.Escalate = d.strList(n, m.field("escalate"), `["group:soc-oncall"]`)
	}
	return a
}

func (d *decoder) verify(n *yaml.Node, path string, catalog map[string]sever.ActionSpec) *sever.VerifySpec {
	m, ok := d.mapping(n, path, "action", "args")
	if !ok {
		return nil
	}
	v := &sever.VerifySpec{}
	var spec *sever.ActionSpec
	if n := d.required(m, "action", " (a read-only action, e.g. tokenstore.token_status)"); n != nil {
		spec = d.action(n, m.field("action"), catalog)
		if spec != nil && spec.Mutating {
			d.errorf(n, m.field("action"), "%s changes state; a read-back must use an action that does not", spec.Name)
			spec = nil
		}
		if spec != nil {
			v.Action = spec.Name
		}
	}
	v.Args = d.args(m.get("args"), m, m.field("args"), spec)
	return v
}

func (d *decoder) compensate(n *yaml.Node, path string, step *sever.ActionSpec, catalog map[string]sever.ActionSpec) *sever.CompensateSpec {
	m, ok := d.mapping(n, path, "action", "args")
	if !ok {
		return nil
	}
	if step != nil && !step.Mutating {
		d.errorf(n, path, "%s changes nothing, so there is nothing to compensate", step.Name)
	}
	c := &sever.CompensateSpec{}
	var spec *sever.ActionSpec
	if n := d.required(m, "action", " (a mutating action that undoes the step)"); n != nil {
		spec = d.action(n, m.field("action"), catalog)
		if spec != nil && !spec.Mutating {
			d.errorf(n, m.field("action"), "%s changes nothing, so it cannot undo the step", spec.Name)
		}
		if spec != nil {
			c.Action = spec.Name
		}
	}
	c.Args = d.args(m.get("args"), m, m.field("args"), spec)
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
			d.errorf(nodes[i].id, index("steps", i)+".id", "duplicate step id %q (first at line %d)", st.ID, steps[first].Line)
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
				d.errorf(nodes[i].needs[j], index(index("steps", i)+".needs", j), "unknown step %q%s", need, hint)
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
				d.errorf(nodes[i].when, field, "reads steps.%s, but there is no step %q%s", ref, ref, suggest(ref, ids))
			case k == i:
				d.errorf(nodes[i].when, field, "reads its own step (steps.%s), which has not run when the condition is evaluated", ref)
			case !ancestors[k]:
				d.errorf(nodes[i].when, field, "reads steps.%s, but the step does not need %q (directly or through other steps), so it may not have run yet; add it to needs", ref, ref)
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
				d.errorf(at, field, "dependency cycle: %s", strings.Join(path, " -> "))
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
	if n := m.get("quorum"); n != nil {
		if q, ok := d.intRange(n, m.field("quorum"), 1, 100); ok {
			*quorum = q
			// A group stands for any number of people, so only a plain list can be too short.
			if len(approvers) > 0 && q > len(approvers) && !slices.ContainsFunc(approvers, isGroup) {
				d.errorf(n, m.field("quorum"), "quorum %d is more than the %d approver(s) listed", q, len(approvers))
			}
		}
	}
	if n := m.get("deadline"); n != nil {
		if v, ok := d.duration(n, m.field("deadline"), minDeadline, maxDeadline); ok {
			*deadline = v
		}
	}
}
