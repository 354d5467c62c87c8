package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
	"github.com/sever-ir/sever/service"
)

// poll reads every incident the drill opened, reports what changed and hands new
// approval requests to the responders.
func (r *runner) poll(ctx context.Context) {
	r.mu.Lock()
	ids := slices.Clone(r.order)
	r.mu.Unlock()
	for _, id := range ids {
		inc, err := r.api.incident(ctx, id)
		if err != nil {
			// A signal's answer can come before the incident answers queries; only a
			// lasting failure is worth a line.
			r.mu.Lock()
			first := !r.readErrs[id]
			r.readErrs[id] = true
			r.mu.Unlock()
			if first && ctx.Err() == nil {
				r.out.at(r.since(), "reading incident %s: %v (retrying)", id, err)
			}
			continue
		}
		r.observe(ctx, inc)
	}
}

func (r *runner) observe(ctx context.Context, inc *sever.Incident) {
	r.mu.Lock()
	r.incidents[inc.ID] = inc
	cred := r.credOf[inc.ID]
	prevStatus := r.statusSeen[inc.ID]
	r.statusSeen[inc.ID] = inc.Status
	var changed []sever.Step
	for _, st := range inc.Steps {
		key := inc.ID + "/" + st.ID
		prev, seen := r.stepSeen[key]
		if prev != st.Status {
			r.stepSeen[key] = st.Status
			if seen || st.Status != sever.StepPending {
				changed = append(changed, st)
			}
		}
	}
	r.mu.Unlock()

	if prevStatus == "" {
		r.out.at(r.since(), "incident %s opened (runbook %s@%s, policy %s@%s)", inc.ID, inc.Runbook.Name,
			inc.Runbook.Version, inc.Policy.Name, inc.Policy.Version)
	}
	for _, st := range changed {
		r.out.at(r.since(), "%-18s %-36s %s%s", st.ID, st.Action, st.Status, report.StepNote(st))
		if st.Status == sever.StepWaitingApproval {
			if r.slack {
				r.askPeople(inc, st)
			} else {
				r.ask(ctx, inc, st)
			}
		}
	}
	if inc.Status != prevStatus && inc.Status != sever.IncidentOpen {
		msg := fmt.Sprintf("■ incident %s %s", inc.ID, inc.Status)
		if inc.ContainedAt != nil {
			msg += fmt.Sprintf(" %s after its first signal", inc.ContainedAt.Sub(inc.OpenedAt).Round(time.Millisecond))
		}
		if inc.Reason != "" {
			msg += " (" + inc.Reason + ")"
		}
		r.out.at(r.since(), "%s", msg)
		r.mu.Lock()
		ch := r.ended[cred]
		select {
		case <-ch:
		default:
			if ch != nil {
				close(ch)
			}
		}
		r.mu.Unlock()
	}
}

// eligible lists the responders who may decide a step: members of the approvers the
// policy names for its action, narrowed by the runbook's own approvers and by the
// responder's step list.
func (r *runner) eligible(inc *sever.Incident, st sever.Step) []int {
	approvers := r.approversOf(inc, st)
	var out []int
	for i, resp := range r.sc.Responders {
		if slices.Contains(approvers, ApproverPrefix+resp.Name) && (len(resp.Steps) == 0 || slices.Contains(resp.Steps, st.ID)) {
			out = append(out, i)
		}
	}
	return out
}

// approversOf lists who may decide a step: the members of the approvers the policy
// names for its action, narrowed by the runbook's own approvers.
func (r *runner) approversOf(inc *sever.Incident, st sever.Step) []string {
	dec := r.pol.Decide(st.Action, inc.Credential.Type, true)
	approvers := r.expand(dec.Approvers)
	if rb, ok := r.d.Library.Get(inc.Runbook.Name); ok && (inc.Runbook.SHA256 == "" || rb.SHA256 == inc.Runbook.SHA256) {
		for _, spec := range rb.Steps {
			if spec.ID == st.ID && spec.Approval != nil && len(spec.Approval.Approvers) > 0 {
				narrow := r.expand(spec.Approval.Approvers)
				if len(approvers) == 0 {
					approvers = narrow
				} else {
					approvers = slices.DeleteFunc(approvers, func(a string) bool { return !slices.Contains(narrow, a) })
				}
			}
		}
	}
	return approvers
}

// askPeople notes when a request started waiting for the people in Slack: their
// time to decide counts from here.
func (r *runner) askPeople(inc *sever.Incident, st sever.Step) {
	key := inc.ID + "/" + st.ID
	r.mu.Lock()
	_, seen := r.askedAt[key]
	if !seen {
		r.askedAt[key] = time.Now()
	}
	r.mu.Unlock()
	if !seen {
		r.out.at(r.since(), "%-18s asked in Slack (marked DRILL): %s", st.ID, strings.Join(r.approversOf(inc, st), ", "))
	}
}

func (r *runner) expand(list []string) []string {
	var out []string
	for _, a := range list {
		members := []string{a}
		if g, ok := strings.CutPrefix(a, "group:"); ok {
			members = r.groups[g]
		}
		for _, m := range members {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// ask hands an approval request to every eligible responder once. Whether a
// responder misses it is drawn here, in the poll loop, so the seeded draws come in
// the order the requests appear.
func (r *runner) ask(ctx context.Context, inc *sever.Incident, st sever.Step) {
	idx := r.eligible(inc, st)
	if len(idx) == 0 {
		r.out.at(r.since(), "%-18s no simulated responder may decide it; it will expire", st.ID)
		return
	}
	for _, i := range idx {
		resp := r.sc.Responders[i]
		key := inc.ID + "/" + st.ID + "/" + resp.Name
		r.mu.Lock()
		if r.asked[key] {
			r.mu.Unlock()
			continue
		}
		r.asked[key] = true
		r.responders[i].Asked++
		missed := resp.Miss || resp.MissProbability > 0 && r.rng.Float64() < resp.MissProbability
		r.mu.Unlock()
		who := ApproverPrefix + resp.Name
		if missed {
			r.record(i, ResponderDecision{Incident: inc.ID, Step: st.ID, At: r.since(), Outcome: "missed",
				Detail: "never answered"})
			r.out.at(r.since(), "%-18s %s misses the request (simulated)", st.ID, who)
			continue
		}
		r.out.at(r.since(), "%-18s asked %s, who answers in %s", st.ID, who, resp.Delay)
		r.decisionsWG.Add(1)
		go func() {
			defer r.decisionsWG.Done()
			r.decide(ctx, i, inc.ID, st)
		}()
	}
}

// decide answers one request after the responder's delay, through the engine as
// the CLI and Slack paths do, on channel "drill".
func (r *runner) decide(ctx context.Context, i int, incID string, st sever.Step) {
	resp := r.sc.Responders[i]
	who := ApproverPrefix + resp.Name
	if !sleepUntil(ctx, time.Now().Add(resp.Delay)) {
		r.record(i, ResponderDecision{Incident: incID, Step: st.ID, At: r.since(), Outcome: "late",
			Detail: "the drill ended before the responder answered"})
		return
	}
	approve := resp.Decision == decisionApprove
	_, err := r.d.Engine.Decide(ctx, incID, service.DecideRequest{Step: st.ID, Approve: approve, ArgsSHA256: st.ArgsSHA256,
		Approver: who, Channel: "drill", Reason: "drill " + r.sc.Name + ": simulated responder " + resp.Name,
		IdempotencyKey: incID + "/" + st.ID + "/" + who})
	at := r.since()
	if err != nil {
		var se *sever.Error
		if !errors.As(err, &se) || se.Code != sever.ECONFLICT && se.Code != sever.ENOTFOUND {
			if ctx.Err() == nil {
				r.problem("responder %s on %s/%s: %v", resp.Name, incID, st.ID, err)
			}
		}
		r.record(i, ResponderDecision{Incident: incID, Step: st.ID, At: at, Outcome: "late", Detail: errText(err)})
		r.out.at(at, "%-18s %s answered too late: %s", st.ID, who, errText(err))
		return
	}
	outcome := "approved"
	if !approve {
		outcome = "denied"
	}
	r.record(i, ResponderDecision{Incident: incID, Step: st.ID, At: at, Outcome: outcome})
	r.out.at(at, "%-18s %s by %s (simulated, channel drill)", st.ID, outcome, who)
}

func errText(err error) string {
	var se *sever.Error
	if errors.As(err, &se) {
		return se.Message
	}
	return err.Error()
}

func (r *runner) record(i int, d ResponderDecision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rr := &r.responders[i]
	rr.Decisions = append(rr.Decisions, d)
	switch d.Outcome {
	case "approved":
		rr.Approved++
	case "denied":
		rr.Denied++
	case "missed":
		rr.Missed++
	case "late":
		rr.Late++
	}
}
