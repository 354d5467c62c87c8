package workflows

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
)

// ledgerChange versions the ledger facts: histories from before it replay without.
const ledgerChange = "ledger"

// maxFactsPerBatch bounds one append activity's input.
const maxFactsPerBatch = 200

// fact queues one fact for the ledger. Keys are prefixed with the opening time of
// this incident, so a later incident about the same credential (same ID) never
// collides with this one's facts.
func (r *run) fact(ctx workflow.Context, f contract.LedgerFact) {
	if !r.ledgerOn {
		return
	}
	if f.At.IsZero() {
		f.At = workflow.Now(ctx).UTC()
	}
	f.Key = strconv.FormatInt(r.inc.OpenedAt.UnixNano(), 10) + "/" + f.Key
	r.facts = append(r.facts, f)
}

// startLedger writes queued facts in batches, in order, until the run ends. A batch
// that fails after its retries stays queued and is tried again a minute later:
// nothing the incident recorded is dropped.
func (r *run) startLedger(ctx workflow.Context) {
	if !r.ledgerOn {
		return
	}
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
		MaximumInterval: 30 * time.Second, MaximumAttempts: 10, NonRetryableErrorTypes: contract.NonRetryableErrorTypes}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// A batch takes well under a second locally, but with the S3 copy each fact is
		// also a HeadObject and a PutObject; the heartbeat (one per fact) still finds a
		// dead worker in seconds.
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    5 * time.Second,
		RetryPolicy:         retry,
	})
	// Without the S3 copy a batch is one database transaction of a few
	// milliseconds: run inside the workflow task, it costs no activity task, no
	// workflow task to take its result and three fewer server transactions (a
	// fifth more incidents per second on 2 cores). A local activity cannot
	// heartbeat and holds the workflow task while it runs, which is why the S3
	// copy, with two calls per fact, keeps the activity. A worker that dies mid
	// batch leaves the workflow task to time out; the next attempt appends the
	// batch again and the ledger's idempotency keys keep each fact once.
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: time.Minute, RetryPolicy: retry,
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, r.ledgerDue); err != nil {
				return
			}
			if r.bounded && r.parkedBatch() {
				// Parked on a person: let a burst of signals gather into one batch
				// rather than starting an append for each.
				if _, err := workflow.AwaitWithTimeout(ctx, ledgerBatchWindow, func() bool { return !r.parkedBatch() }); err != nil {
					return
				}
				if !r.ledgerDue() {
					continue
				}
			}
			n := min(len(r.facts), maxFactsPerBatch)
			in := contract.LedgerAppendInput{IncidentID: r.inc.ID, Drill: r.in.Drill, Facts: append([]contract.LedgerFact(nil), r.facts[:n]...)}
			r.flushing = true
			var res contract.LedgerAppendResult
			var err error
			if r.ledgerLocal {
				err = workflow.ExecuteLocalActivity(lctx, contract.ActivityLedgerAppend, in).Get(ctx, &res)
			} else {
				err = workflow.ExecuteActivity(actx, contract.ActivityLedgerAppend, in).Get(ctx, &res)
			}
			r.flushing = false
			if err != nil {
				r.logger.Info("ledger append failed; retrying in a minute", "incident", r.inc.ID, "facts", n, "err", errorText(err))
				if workflow.Sleep(ctx, time.Minute) != nil {
					return
				}
				continue
			}
			r.facts = r.facts[n:]
		}
	})
}

// ledgerDue says when the queued facts should be written. The facts are durable in
// the workflow's state from the moment they happen, so writing them later loses
// nothing; while steps are running, facts wait for a quiet moment (the runbook has
// ended, or every step left is parked on a person) or a full batch, so the ledger
// costs one activity per incident rather than one per fact.
func (r *run) ledgerDue() bool {
	if len(r.facts) == 0 {
		return false
	}
	if r.canning {
		return r.forceLedger // continue-as-new writes only what it will not carry
	}
	if !r.ledgerLazy || r.forceLedger || len(r.facts) >= maxFactsPerBatch || r.phase != phaseRunning {
		return true
	}
	return r.parked > 0 && r.parked == r.inflight
}

// ledgerBatchWindow is how long facts queued while every step waits for a person
// gather before they are written (bounded-state runs).
const ledgerBatchWindow = 5 * time.Second

// parkedBatch reports whether queued facts should wait for the batch window: every
// step left is parked on a person and nothing forces or fills a batch.
func (r *run) parkedBatch() bool {
	return r.phase == phaseRunning && r.parked > 0 && r.parked == r.inflight &&
		!r.forceLedger && !r.canning && len(r.facts) < maxFactsPerBatch
}

// flushLedger waits until every queued fact is written: before the run completes or
// continues as new.
func (r *run) flushLedger(ctx workflow.Context) error {
	if !r.ledgerOn {
		return nil
	}
	r.forceLedger = true
	return workflow.Await(ctx, func() bool { return len(r.facts) == 0 && !r.flushing })
}

func (r *run) signalFact(ctx workflow.Context, s sever.Signal, delay float64) {
	enf := sever.EnforcementNone
	if s.Origin == sever.OriginVendor {
		enf = sever.VendorNotified
	}
	r.fact(ctx, contract.LedgerFact{
		Kind: contract.FactSignal, Actor: cmp.Or(s.Reporter, s.Source), Enforcement: enf,
		Result: fmt.Sprintf("%s %s from %s", s.Origin, s.Kind, s.Source),
		Detail: map[string]string{"signal_id": s.ID, "source": s.Source, "source_event_id": s.SourceEventID,
			"origin": string(s.Origin), "kind": string(s.Kind), "severity": s.Severity,
			"observed_at": s.ObservedAt.UTC().Format(time.RFC3339Nano), "payload_sha256": s.PayloadSHA256,
			"delay_seconds": strconv.FormatFloat(delay, 'f', 3, 64)},
		Key: "signal/" + s.ID,
	})
}

func (r *run) duplicateFact(ctx workflow.Context, s sever.Signal) {
	r.fact(ctx, contract.LedgerFact{
		Kind: contract.FactDuplicateSignal, Actor: cmp.Or(s.Reporter, s.Source), Result: "resent " + s.Source + " event, recorded once",
		Detail: map[string]string{"signal_id": s.ID, "source_event_id": s.SourceEventID},
		Key:    "duplicate/" + s.ID + "/" + s.Receipt,
	})
}

func (r *run) policyFact(ctx workflow.Context, st *sever.Step, d sever.PolicyDecision) {
	r.fact(ctx, contract.LedgerFact{
		Kind: contract.FactPolicyDecision, Actor: ServiceActor, PolicyRule: d.Rule, Step: st.ID, Action: st.Action,
		ArgsSHA256: st.ArgsSHA256, Result: d.Mode,
		Detail: map[string]string{"policy": r.in.Policy.Name + "@" + r.in.Policy.Version, "policy_sha256": r.in.Policy.SHA256},
		Key:    "policy/" + r.attemptKey(st.ID),
	})
}

func (r *run) approvalFact(ctx workflow.Context, st *sever.Step, d sever.Decision, g *Gate) {
	enf, key := sever.HumanApproved, "approval/"+r.attemptKey(st.ID)+"/"+d.Approver
	if !d.Approve {
		enf = sever.HumanDenied
	}
	r.fact(ctx, contract.LedgerFact{
		Kind: contract.FactApprovalDecision, Actor: d.Approver, Enforcement: enf, PolicyRule: g.Rule, Step: st.ID,
		Action: st.Action, ArgsSHA256: d.ArgsSHA256, Result: d.Reason,
		Detail: map[string]string{"channel": d.Channel}, Key: key,
	})
}

func (r *run) expiryFact(ctx workflow.Context, st *sever.Step, g *Gate) {
	r.fact(ctx, contract.LedgerFact{
		Kind: contract.FactApprovalDecision, Actor: "nobody", Enforcement: sever.ApprovalExpired, PolicyRule: g.Rule,
		Step: st.ID, Action: st.Action, ArgsSHA256: g.ArgsSHA256, Result: "approval expired; on_timeout " + g.OnTimeout,
		Detail: map[string]string{"approvals": strconv.Itoa(g.approvals()), "quorum": strconv.Itoa(g.Quorum)},
		Key:    "approval/" + r.attemptKey(st.ID) + "/expired",
	})
}

func (r *run) outcomeFact(ctx workflow.Context, st *sever.Step) {
	result := string(st.Status)
	if st.Verified {
		result += ", verified"
	}
	if st.Error != "" {
		result += ": " + st.Error
	} else if st.Summary != "" {
		result += ": " + st.Summary
	}
	r.fact(ctx, contract.LedgerFact{
		Kind: contract.FactStepOutcome, Actor: st.Actor, Enforcement: st.Enforcement, PolicyRule: st.PolicyRule,
		Step: st.ID, Action: st.Action, ArgsSHA256: st.ArgsSHA256, Evidence: st.Evidence, Result: result,
		Detail: map[string]string{"status": string(st.Status), "verified": strconv.FormatBool(st.Verified)},
		Key:    "step/" + r.attemptKey(st.ID) + "/outcome",
	})
}

func (r *run) statusFact(ctx workflow.Context) {
	r.fact(ctx, contract.LedgerFact{
		Kind: contract.FactIncidentStatus, Actor: ServiceActor, Result: cmp.Or(r.inc.Reason, string(r.inc.Status)),
		Detail: map[string]string{"status": string(r.inc.Status), "runbook": r.inc.Runbook.Name + "@" + r.inc.Runbook.Version,
			"runbook_sha256": r.inc.Runbook.SHA256},
		Key: r.statusKey(),
	})
}

// statusKey keys a status fact: after a retry the incident may reach a status it
// had before (failed again), which is a new fact.
func (r *run) statusKey() string {
	if r.retries > 0 {
		return "status/" + string(r.inc.Status) + "/retry/" + strconv.Itoa(r.retries)
	}
	return "status/" + string(r.inc.Status)
}
