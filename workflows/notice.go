package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever/contract"
)

// NoticeThread is the parent message of an incident's notices.
type NoticeThread struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// notice queues a notice; the notifier posts them in order, off the runbook's path,
// so a slow or absent Slack never delays containment.
func (r *run) notice(ctx workflow.Context, kind string, n contract.NoticeInput) {
	if !r.in.Notify {
		return
	}
	n.Kind, n.IncidentID, n.Credential, n.Drill = kind, r.inc.ID, r.in.Credential, r.in.Drill
	n.Status, n.Runbook = r.inc.Status, r.inc.Runbook.Name
	if n.At.IsZero() {
		n.At = workflow.Now(ctx).UTC()
	}
	if r.bounded && len(r.notices) >= maxQueuedNotices {
		// Slack is down or slow and the queue is full; the ledger has the facts.
		r.logger.Info("notice dropped: queue full", "incident", r.inc.ID, "kind", kind, "queued", len(r.notices))
		return
	}
	r.notices = append(r.notices, n)
}

// startNotifier posts queued notices until the run ends. A notice that cannot be
// posted after its retries is logged and dropped: notices tell people, the ledger is
// the record.
func (r *run) startNotifier(ctx workflow.Context) {
	if !r.in.Notify {
		return
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: contract.NonRetryableErrorTypes},
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return len(r.notices) > 0 && !r.canning }); err != nil {
				return
			}
			n := r.notices[0]
			if r.thread != nil {
				n.Channel, n.ThreadTS = r.thread.Channel, r.thread.TS
			}
			r.noticing = true
			var res contract.NoticeResult
			err := workflow.ExecuteActivity(actx, contract.ActivityNotice, n).Get(ctx, &res)
			r.noticing = false
			r.notices = r.notices[1:]
			switch {
			case err != nil:
				r.logger.Info("notice not posted", "incident", r.inc.ID, "kind", n.Kind, "err", errorText(err))
			case res.Posted && r.thread == nil:
				r.thread = &NoticeThread{Channel: res.Channel, TS: res.TS}
			}
		}
	})
}

// flushNotices waits for queued notices before the run completes. It is bounded by
// the activity's retries, so a Slack outage delays the end by a few minutes at most.
func (r *run) flushNotices(ctx workflow.Context) error {
	if !r.in.Notify {
		return nil
	}
	return workflow.Await(ctx, func() bool { return len(r.notices) == 0 && !r.noticing })
}
