// Package approvals posts approval requests where people decide them (Slack) and
// replaces each request with its outcome. It is called by the workflow itself, not
// named by runbooks: telling people about a step changes nothing outside sever.
package approvals

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/slackapp"
	"github.com/sever-ir/sever/workflows"
)

// Poster is the part of slackapp.Poster the activities use.
type Poster interface {
	RequestApproval(ctx context.Context, r slackapp.ApprovalRequest) (channel, ts string, err error)
	MarkDecided(ctx context.Context, channel, ts string, r slackapp.ApprovalRequest, d slackapp.Decided) error
	MarkExpired(ctx context.Context, channel, ts string, r slackapp.ApprovalRequest, e slackapp.Expired) error
}

// Activities holds the Slack poster; nil means Slack is not configured, and the
// approval is decided over the CLI or API only.
type Activities struct {
	Slack Poster
	// Escalation posts escalations (deadline passed once) to another channel's poster.
	Escalation Poster
}

// Register registers the internal approval activities.
func (a *Activities) Register(r activities.Registrar) {
	r.RegisterActivityWithOptions(a.RequestApproval, activity.RegisterOptions{Name: workflows.ActivityRequestApproval})
	r.RegisterActivityWithOptions(a.ApprovalOutcome, activity.RegisterOptions{Name: workflows.ActivityApprovalOutcome})
}

func request(in workflows.ApprovalRequestInput) slackapp.ApprovalRequest {
	name := in.StepName
	if in.Escalation {
		name = "ESCALATED: " + cmpOr(name, in.StepID)
	}
	return slackapp.ApprovalRequest{
		IncidentID: in.IncidentID, StepID: in.StepID, StepName: name, Action: in.Action, Args: in.Args,
		ArgsSHA256: in.ArgsSHA256, Credential: in.Credential, Approvers: in.Approvers, Quorum: in.Quorum,
		Deadline: in.Deadline, Destructive: in.Destructive, Requester: in.Requester,
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// RequestApproval posts the Block Kit request with Approve and Deny buttons.
func (a *Activities) RequestApproval(ctx context.Context, in workflows.ApprovalRequestInput) (workflows.ApprovalRequestResult, error) {
	p := a.Slack
	if in.Escalation && a.Escalation != nil {
		p = a.Escalation
	}
	if p == nil {
		return workflows.ApprovalRequestResult{Summary: "waiting for approval via `sever approve` or the API (Slack is not configured)"}, nil
	}
	r := request(in)
	if err := r.Validate(); err != nil {
		return workflows.ApprovalRequestResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("request approval for %s/%s", in.IncidentID, in.StepID), err)
	}
	channel, ts, err := p.RequestApproval(ctx, r)
	if err != nil {
		return workflows.ApprovalRequestResult{}, fmt.Errorf("request approval for %s/%s: %w", in.IncidentID, in.StepID, err)
	}
	return workflows.ApprovalRequestResult{Posted: true, Channel: channel, TS: ts,
		Summary: "approval requested in Slack"}, nil
}

// ApprovalOutcome replaces the request with who decided what, buttons removed.
func (a *Activities) ApprovalOutcome(ctx context.Context, in workflows.ApprovalOutcomeInput) (workflows.ApprovalOutcomeResult, error) {
	if a.Slack == nil || in.TS == "" {
		return workflows.ApprovalOutcomeResult{}, nil
	}
	r := request(in.Request)
	var err error
	switch in.Outcome {
	case sever.HumanApproved, sever.HumanDenied:
		err = a.Slack.MarkDecided(ctx, in.Channel, in.TS, r,
			slackapp.Decided{Approved: in.Outcome == sever.HumanApproved, Decisions: in.Decisions, At: in.At})
	case sever.ApprovalExpired:
		err = a.Slack.MarkExpired(ctx, in.Channel, in.TS, r, slackapp.Expired{OnTimeout: in.OnTimeout, Decisions: in.Decisions, At: in.At})
	default:
		return workflows.ApprovalOutcomeResult{}, activities.Permanent(activities.ErrInvalidArgument,
			"approval outcome", errors.New("unknown outcome "+string(in.Outcome)))
	}
	if err != nil {
		return workflows.ApprovalOutcomeResult{}, fmt.Errorf("approval outcome for %s/%s: %w", in.Request.IncidentID, in.Request.StepID, err)
	}
	return workflows.ApprovalOutcomeResult{Updated: true}, nil
}
