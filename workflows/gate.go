package workflows

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
)

// The construction of a step's approval gate: what the policy and the runbook ask
// for, merged. Waiting on the gate and deciding it are in approval.go.

// gateFor returns the approval gate a step must pass, or nil. The runbook can ask for
// approval and so can the policy; when both do, the stricter quorum wins.
func (r *run) gateFor(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, d sever.PolicyDecision) *Gate {
	if g, ok := r.gates[spec.ID]; ok {
		return g // carried over continue-as-new
	}
	a := spec.Approval
	if a == nil && d.Mode != sever.ModeApproval {
		return nil
	}
	g := &Gate{Quorum: 1, OnTimeout: sever.OnTimeoutDeny, ArgsSHA256: st.ArgsSHA256, Rule: d.Rule}
	deadline := 15 * time.Minute
	if d.Mode == sever.ModeApproval {
		g.Approvers = append(g.Approvers, d.Approvers...)
		g.Quorum = max(g.Quorum, d.Quorum)
		if d.Deadline > 0 {
			deadline = d.Deadline.D()
		}
	}
	if a != nil {
		if len(a.Approvers) > 0 {
			// A runbook may narrow who approves, never widen what the policy allows.
			if len(g.Approvers) == 0 {
				g.Approvers = append(g.Approvers, a.Approvers...)
			} else {
				g.Approvers = intersect(r.expand(g.Approvers), r.expand(a.Approvers))
			}
		}
		g.Quorum = max(g.Quorum, a.Quorum)
		if a.Deadline > 0 {
			deadline = a.Deadline.D()
		}
		if a.OnTimeout != "" {
			g.OnTimeout = a.OnTimeout
		}
	}
	if g.OnTimeout == sever.OnTimeoutProceed && !d.AllowProceedOnTimeout {
		// Proceeding without a human is a pre-approved fallback only where policy says so.
		g.OnTimeout = sever.OnTimeoutDeny
	}
	g.Approvers = r.expand(g.Approvers)
	g.Extension = sever.Duration(deadline)
	g.Deadline = workflow.Now(ctx).UTC().Add(deadline)
	r.gates[spec.ID] = g
	return g
}

// expand resolves "group:NAME" entries into members, keeping order and dropping repeats.
func (r *run) expand(list []string) []string {
	var out []string
	for _, a := range list {
		members := []string{a}
		if name, ok := strings.CutPrefix(a, "group:"); ok {
			members = r.in.ApproverGroups[name]
		}
		for _, m := range members {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// intersect keeps the entries of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
