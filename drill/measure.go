package drill

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/report"
)

// ledgerWait bounds the wait for the workflow's batched ledger facts to land.
const ledgerWait = 10 * time.Second

// result reads every incident one last time and measures the drill.
func (r *runner) result(ctx context.Context, started time.Time, timedOut bool) *Result {
	end := time.Now()
	sc := r.sc
	res := &Result{
		Scenario: ScenarioRef{Name: sc.Name, Description: strings.TrimSpace(sc.Description), File: sc.File,
			SHA256: sc.SHA256, Seed: sc.Seed},
		StartedAt: started.UTC(), EndedAt: end.UTC(), DurationSeconds: round3(end.Sub(started).Seconds()),
		TimedOut: timedOut, Policy: r.pol.Ref(), PolicyNote: r.note,
		Incidents: []IncidentResult{}, Attackers: []AttackerResult{}, Objectives: []ObjectiveResult{},
	}
	r.mu.Lock()
	ids := slices.Clone(r.order)
	r.mu.Unlock()
	for _, id := range ids {
		inc, err := r.api.incident(ctx, id)
		if err != nil {
			r.mu.Lock()
			inc = r.incidents[id]
			r.mu.Unlock()
			if inc == nil {
				r.problem("incident %s could not be read: %v", id, err)
				continue
			}
		}
		r.mu.Lock()
		r.incidents[id] = inc
		r.mu.Unlock()
		if !inc.Drill {
			r.problem("incident %s is not marked as a drill", id)
		}
		ir, err := r.incidentResult(ctx, inc, end)
		if err != nil {
			r.problem("report of %s: %v", id, err)
			continue
		}
		res.Incidents = append(res.Incidents, ir)
	}
	if timedOut {
		r.problem("the drill timed out after %s", sc.Timeout)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	res.Signals = slices.Clone(r.signals)
	res.Faults = slices.Clone(r.faults)
	for i, fired := range r.fired {
		if fired != nil {
			res.Faults[i].Fired = fired()
		}
	}
	res.Responders = slices.Clone(r.responders)
	m := &res.Metrics
	m.ExpiredApprovals, m.VendorSteps = []StepRef{}, []StepRef{}
	m.Incidents = len(res.Incidents)
	firstAny := time.Time{}
	for _, t := range r.firstSent {
		if firstAny.IsZero() || t.Before(firstAny) {
			firstAny = t
		}
	}
	byCred := map[string]*IncidentResult{}
	var first, approval, contained []*float64
	for i := range res.Incidents {
		ir := &res.Incidents[i]
		if byCred[ir.Credential] == nil {
			byCred[ir.Credential] = ir
		}
		first, approval, contained = append(first, ir.FirstAction), append(approval, ir.Approval), append(contained, ir.VerifiedContainment)
		m.SignalsRecorded += ir.Signals
		m.DuplicatesRecorded += ir.Duplicates
		m.ReliedOnVendor = m.ReliedOnVendor || ir.ReliedOnVendor
		inc := r.incidents[ir.ID]
		for _, st := range inc.Steps {
			switch {
			case st.Enforcement == sever.ApprovalExpired:
				m.ExpiredApprovals = append(m.ExpiredApprovals, stepRef(ir, st, st.Status))
			case slices.ContainsFunc(st.Approvals, func(d sever.Decision) bool { return d.Channel == "timeout" }):
				m.ExpiredApprovals = append(m.ExpiredApprovals, stepRef(ir, st, "proceeded on timeout"))
			}
		}
		for _, row := range ir.Report.Accountability {
			if row.Kind == report.PointStep && (row.Enforcement == sever.VendorEnforced || row.Enforcement == sever.VendorNotified) {
				m.VendorSteps = append(m.VendorSteps, StepRef{Incident: ir.ID, Step: row.Ref, Action: row.Action,
					Status: row.Status, Enforcement: row.Enforcement, Containment: row.Containment})
			}
		}
	}
	m.TimeToFirstAction = worst(first, true)
	m.TimeToApproval = worst(approval, false)
	m.TimeToVerifiedContainment = worst(contained, true)
	for _, n := range r.deliveries {
		for _, c := range n {
			m.Deliveries += c
		}
	}
	m.Unaccounted = r.unaccountedLocked()

	for _, ar := range r.attackers {
		out := AttackerResult{Name: ar.spec.Name, Credential: ar.cred.Name, CredentialID: ar.cred.ID,
			Operations: slices.Clone(ar.spec.Operations), Rate: ar.spec.Rate}
		if ar.a != nil {
			st := ar.a.Stats()
			out.Attempts, out.Successes, out.Denials, out.Errors = st.Attempts, st.Successes, st.Denials, st.Errors
			out.SessionKeyID = st.SessionKeyID
			if !st.LastSuccess.IsZero() {
				out.LastSuccessAt = round3(st.LastSuccess.Sub(r.t0).Seconds())
			}
			from := r.firstSent[ar.cred.Name]
			if from.IsZero() {
				from = firstAny
			}
			ir := byCred[ar.cred.Name]
			if ir != nil && !ir.Report.Durations.Start.IsZero() {
				from = ir.Report.Durations.Start
			}
			out.SuccessesAfterSignal = ar.a.SuccessesAfter(from)
			if ir != nil && ir.Report.Incident.EnterpriseContainedAt != nil {
				n := ar.a.SuccessesAfter(*ir.Report.Incident.EnterpriseContainedAt)
				out.SuccessesAfterContainment = &n
				if m.AttackerSuccessesAfterContainment == nil {
					m.AttackerSuccessesAfterContainment = new(int)
				}
				*m.AttackerSuccessesAfterContainment += n
			}
		}
		m.AttackerAttempts += out.Attempts
		m.AttackerSuccessesAfterSignal += out.SuccessesAfterSignal
		res.Attackers = append(res.Attackers, out)
	}
	res.Approvers = ApproversSimulated
	if r.slack {
		res.Approvers = ApproversSlack
		res.People = r.peopleLocked(res.Incidents)
	}
	res.Problems = slices.Clone(r.problems)
	res.Objectives = evaluate(sc.Objectives, res)
	res.Passed = len(res.Problems) == 0
	for _, o := range res.Objectives {
		res.Passed = res.Passed && o.Passed
	}
	return res
}

func stepRef(ir *IncidentResult, st sever.Step, status sever.StepStatus) StepRef {
	return StepRef{Incident: ir.ID, Step: st.ID, Action: st.Action, Status: string(status), Enforcement: st.Enforcement,
		Containment: st.Containment}
}

// worst is the largest value; with all, nil as soon as one is missing.
func worst(vs []*float64, all bool) *float64 {
	var out *float64
	for _, v := range vs {
		switch {
		case v == nil && all:
			return nil
		case v == nil:
		case out == nil || *v > *out:
			x := *v
			out = &x
		}
	}
	return out
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func (r *runner) incidentResult(ctx context.Context, inc *sever.Incident, end time.Time) (IncidentResult, error) {
	rb, _ := r.d.Library.Get(inc.Runbook.Name)
	rep, err := report.Build(*inc, report.Options{Runbook: rb, Now: end})
	if err != nil {
		return IncidentResult{}, err
	}
	r.mu.Lock()
	cred := r.credOf[inc.ID]
	r.mu.Unlock()
	ir := IncidentResult{ID: inc.ID, Status: inc.Status, Reason: rep.Incident.Reason, Credential: cred,
		CredentialID: inc.Credential.ID, Runbook: inc.Runbook, Policy: inc.Policy, Signals: inc.SignalCount(),
		Duplicates: inc.Duplicates, Sources: []string{}, EnterpriseContained: rep.Gap.EnterpriseContained, Report: rep}
	if len(inc.Signals) > 0 {
		ir.DetectedBy = inc.Signals[0].Origin
	}
	for _, s := range rep.Signals {
		if !slices.Contains(ir.Sources, s.Source) {
			ir.Sources = append(ir.Sources, s.Source)
		}
	}
	d := rep.Durations
	ir.FirstAction, ir.Approval, ir.VerifiedContainment = spanSeconds(d.FirstAction), spanSeconds(d.Approval), spanSeconds(d.VerifiedContainment)
	vendorActed := false
	for _, row := range rep.Accountability {
		if row.Kind != report.PointStep || row.Status != string(sever.StepSucceeded) {
			continue
		}
		vendor := row.Enforcement == sever.VendorEnforced || row.Enforcement == sever.VendorNotified
		if vendor && row.Containment {
			ir.ReliedOnVendor = true
		}
		vendorActed = vendorActed || row.Enforcement == sever.VendorEnforced
	}
	// With nothing of the enterprise's own in place, the vendor's action was all
	// that stood between the attacker and the account.
	if !ir.EnterpriseContained && vendorActed {
		ir.ReliedOnVendor = true
	}
	ir.Ledger = r.ledgerResult(ctx, inc)
	return ir, nil
}

func spanSeconds(s *report.Span) *float64 {
	if s == nil {
		return nil
	}
	v := s.Seconds
	return &v
}

// ledgerResult waits (briefly) for the incident's facts in the drill ledger and
// verifies its hash chain; nil when the stack's worker runs elsewhere.
func (r *runner) ledgerResult(ctx context.Context, inc *sever.Incident) *LedgerResult {
	l := r.d.DrillLedger
	if l == nil {
		return nil
	}
	lr := &LedgerResult{}
	deadline := time.Now().Add(ledgerWait)
	var entries []ledger.Entry
	for {
		var err error
		entries, err = l.Entries(ctx, inc.ID)
		if err != nil {
			lr.Problem = err.Error()
			return lr
		}
		if missing := ledgerMissing(inc, entries); missing == "" {
			break
		} else if time.Now().After(deadline) {
			lr.Problem = "the drill ledger has no " + missing
			break
		}
		if !sleepUntil(ctx, time.Now().Add(pollEvery)) {
			break
		}
	}
	lr.Entries = len(entries)
	for _, e := range entries {
		if e.Kind == ledger.KindApprovalDecision && e.Enforcement == sever.ApprovalExpired {
			lr.ExpiredApprovals++
		}
	}
	brk, err := l.Verify(ctx, inc.ID)
	switch {
	case err != nil:
		lr.Problem = cmp.Or(lr.Problem, "verify: "+err.Error())
	case brk != nil:
		lr.Problem = cmp.Or(lr.Problem, "verify: "+brk.String())
	default:
		lr.Verified = true
	}
	return lr
}

// ledgerMissing names a fact the incident has and the ledger does not yet.
func ledgerMissing(inc *sever.Incident, entries []ledger.Entry) string {
	outcomes := map[string]bool{}
	status := false
	for _, e := range entries {
		switch e.Kind {
		case ledger.KindStepOutcome:
			outcomes[e.Step] = true
		case ledger.KindIncidentStatus:
			status = true
		}
	}
	for _, st := range inc.Steps {
		if st.Status.Done() && !outcomes[st.ID] {
			return "outcome of step " + st.ID
		}
	}
	if inc.Status != sever.IncidentOpen && !status {
		return "status " + string(inc.Status)
	}
	return ""
}

// evaluate checks each objective the scenario set against what was measured.
func evaluate(o Objectives, res *Result) []ObjectiveResult {
	out := []ObjectiveResult{}
	add := func(name, target, measured string, ok bool) {
		out = append(out, ObjectiveResult{Name: name, Target: target, Measured: measured, Passed: ok})
	}
	m := res.Metrics
	incs := res.Incidents
	none := len(incs) == 0
	if o.ContainedWithin > 0 {
		v := m.TimeToVerifiedContainment
		add("contained_within", "≤ "+o.ContainedWithin.String(), secondsOr(v, notContained(incs)),
			!none && v != nil && *v <= o.ContainedWithin.Seconds())
	}
	if o.FirstActionWithin > 0 {
		v := m.TimeToFirstAction
		add("first_action_within", "≤ "+o.FirstActionWithin.String(), secondsOr(v, "no step ran"),
			!none && v != nil && *v <= o.FirstActionWithin.Seconds())
	}
	if p := o.MaxAttackerSuccessesAfterSignal; p != nil {
		add("max_attacker_successes_after_signal", fmt.Sprintf("≤ %d", *p), fmt.Sprint(m.AttackerSuccessesAfterSignal),
			m.AttackerSuccessesAfterSignal <= *p)
	}
	if o.ExpectStatus != "" {
		ok, got := !none, []string{}
		for _, ir := range incs {
			got = append(got, string(ir.Status))
			ok = ok && string(ir.Status) == o.ExpectStatus
		}
		add("expect_status", o.ExpectStatus, cmp.Or(strings.Join(got, ", "), "no incident"), ok)
	}
	expired := len(m.ExpiredApprovals)
	if o.NoExpiredApprovals {
		add("no_expired_approvals", "0 expired", stepRefs(m.ExpiredApprovals, "none expired"), expired == 0)
	}
	if o.ExpectApprovalExpired {
		// The expiry must be a fact in the ledger too, where the ledger is at hand.
		ok, measured := expired > 0, stepRefs(m.ExpiredApprovals, "none expired")
		for _, ir := range incs {
			if ir.Ledger != nil && ir.Ledger.ExpiredApprovals < countExpired(m.ExpiredApprovals, ir.ID) {
				ok = false
				measured += fmt.Sprintf("; the drill ledger of %s records %d", ir.ID, ir.Ledger.ExpiredApprovals)
			}
		}
		add("expect_approval_expired", "≥ 1 approval_expired, recorded", measured, ok)
	}
	if o.RequireEnterpriseEnforced {
		ok, parts := !none, []string{}
		for _, ir := range incs {
			parts = append(parts, enterpriseText(ir))
			ok = ok && ir.EnterpriseContained
		}
		add("require_enterprise_enforced", "containment enforced by the enterprise, verified", cmp.Or(strings.Join(parts, "; "), "no incident"), ok)
	}
	if p := o.VendorRelianceAllowed; p != nil && !*p {
		measured := "none"
		var relied []string
		for _, ir := range incs {
			if ir.ReliedOnVendor {
				relied = append(relied, ir.ID)
			}
		}
		if len(relied) > 0 {
			measured = "relied on a vendor: " + strings.Join(relied, ", ")
		}
		add("vendor_reliance_allowed", "false: containment never rests on a vendor", measured, len(relied) == 0)
	}
	if p := o.ExpectIncidents; p != nil {
		ids := make([]string, len(incs))
		for i, ir := range incs {
			ids[i] = ir.ID
		}
		measured := fmt.Sprint(len(incs))
		if len(ids) > 0 {
			measured += " (" + strings.Join(ids, ", ") + ")"
		}
		add("expect_incidents", fmt.Sprint(*p), measured, len(incs) == *p)
	}
	if o.AllSignalsAccounted {
		measured := fmt.Sprintf("%d deliveries: %d signals + %d duplicates recorded", m.Deliveries, m.SignalsRecorded, m.DuplicatesRecorded)
		rejected := 0
		for _, s := range res.Signals {
			rejected += s.Rejected
		}
		if rejected > 0 {
			measured += fmt.Sprintf("; %d refused by the API", rejected)
		}
		if len(m.Unaccounted) > 0 {
			measured += "; " + strings.Join(m.Unaccounted, "; ")
		}
		add("all_signals_accounted", "every delivery recorded once or as a duplicate", measured,
			rejected == 0 && len(m.Unaccounted) == 0 && m.Deliveries == m.SignalsRecorded+m.DuplicatesRecorded && m.Deliveries > 0)
	}
	return out
}

func countExpired(refs []StepRef, incident string) int {
	n := 0
	for _, s := range refs {
		if s.Incident == incident {
			n++
		}
	}
	return n
}

func secondsOr(v *float64, none string) string {
	if v == nil {
		return none
	}
	return seconds(*v)
}

// seconds formats a duration in seconds the way the reports do.
func seconds(f float64) string {
	switch {
	case f < 10:
		return fmt.Sprintf("%.3fs", f)
	case f < 600:
		return fmt.Sprintf("%.1fs", f)
	}
	return (time.Duration(f) * time.Second).String()
}

func notContained(incs []IncidentResult) string {
	var ids []string
	for _, ir := range incs {
		if ir.VerifiedContainment == nil {
			ids = append(ids, ir.ID+" "+string(ir.Status))
		}
	}
	if len(ids) == 0 {
		return "no incident"
	}
	return "not contained by the enterprise: " + strings.Join(ids, ", ")
}

func stepRefs(refs []StepRef, none string) string {
	if len(refs) == 0 {
		return none
	}
	parts := make([]string, len(refs))
	for i, s := range refs {
		parts[i] = s.Step + " (" + s.Status + ")"
	}
	return fmt.Sprintf("%d: %s", len(refs), strings.Join(parts, ", "))
}

func enterpriseText(ir IncidentResult) string {
	var steps []string
	for _, row := range ir.Report.Accountability {
		if row.Kind == report.PointStep && row.Containment && row.Status == string(sever.StepSucceeded) {
			s := row.Ref + " " + cmp.Or(string(row.Enforcement), "no enforcement class")
			if row.Verified {
				s += ", verified"
			} else {
				s += ", not verified"
			}
			steps = append(steps, s)
		}
	}
	if len(steps) == 0 {
		steps = []string{"no containment step succeeded"}
	}
	return strings.Join(steps, "; ")
}

// peopleLocked measures the real approvers of a --approvers slack drill: each
// decision a person made (never the timeout's), timed from when the request was
// first seen waiting, and for every request that expired, each person who could
// have decided it and did not. r.mu must be held.
func (r *runner) peopleLocked(incs []IncidentResult) []PersonDecision {
	out := []PersonDecision{}
	for _, ir := range incs {
		inc := r.incidents[ir.ID]
		if inc == nil {
			continue
		}
		for _, st := range inc.Steps {
			asked, ok := r.askedAt[inc.ID+"/"+st.ID]
			if !ok {
				continue
			}
			at := round3(asked.Sub(r.t0).Seconds())
			answered := map[string]bool{}
			for _, d := range st.Approvals {
				if d.Channel == "timeout" || strings.HasPrefix(d.Approver, ApproverPrefix) {
					continue
				}
				answered[d.Approver] = true
				decided := round3(d.At.Sub(r.t0).Seconds())
				took := round3(math.Max(0, d.At.Sub(asked).Seconds()))
				outcome := "denied"
				if d.Approve {
					outcome = "approved"
				}
				out = append(out, PersonDecision{Approver: d.Approver, Incident: inc.ID, Step: st.ID, Action: st.Action,
					Channel: d.Channel, AskedAt: at, DecidedAt: &decided, DecisionSeconds: &took, Outcome: outcome})
			}
			if st.Enforcement != sever.ApprovalExpired {
				continue
			}
			for _, who := range r.approversOf(inc, st) {
				if !answered[who] {
					out = append(out, PersonDecision{Approver: who, Incident: inc.ID, Step: st.ID, Action: st.Action,
						AskedAt: at, Outcome: string(sever.ApprovalExpired)})
				}
			}
		}
	}
	return out
}
