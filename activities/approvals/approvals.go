// Package approvals posts approval requests where people decide them (Slack) and
// replaces each request with its outcome. It is called by the workflow itself, not
// named by runbooks: telling people about a step changes nothing outside sever.
package approvals

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/inventory"
	"github.com/sever-ir/sever/slackapp"
)

// Poster is the part of slackapp.Poster the activities use.
type Poster interface {
	RequestApproval(ctx context.Context, r slackapp.ApprovalRequest) (channel, ts string, err error)
	MarkDecided(ctx context.Context, channel, ts string, r slackapp.ApprovalRequest, d slackapp.Decided) error
	MarkExpired(ctx context.Context, channel, ts string, r slackapp.ApprovalRequest, e slackapp.Expired) error
	MarkSuperseded(ctx context.Context, channel, ts string, r slackapp.ApprovalRequest, s slackapp.Superseded) error
	PostNotice(ctx context.Context, channel, threadTS string, n slackapp.Notice) (string, string, error)
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
}

// Activities holds the Slack poster; nil means Slack is not configured, and the
// approval is decided over the CLI or API only.
type Activities struct {
	Slack Poster
	// Escalation posts escalations (deadline passed once) to another channel's poster.
	Escalation Poster
	// Inventory, when set, gives each request its blast radius: who owns the
	// credential, which secrets hold it and which services depend on it.
	Inventory *inventory.Inventory
}

// blastRadius lists what a decision on c touches, one line per owner, secret and
// service; nil without an inventory.
func (a *Activities) blastRadius(c sever.Credential) []string {
	if a.Inventory == nil {
		return nil
	}
	e, ok := a.Inventory.Lookup(c)
	if !ok {
		return []string{"not in the inventory: owner, dependent secrets and services are unknown"}
	}
	owner := "owner " + e.Owner
	if e.Team != "" {
		owner += " (team " + e.Team + ")"
	}
	out := []string{owner}
	for _, sec := range e.Secrets {
		line := "held in secret " + sec.ID
		if sec.Region != "" {
			line += " (" + sec.Region + ")"
		}
		out = append(out, line)
	}
	for _, svc := range e.Services {
		line := "service " + svc.Name
		if svc.Criticality != "" {
			line += " (" + svc.Criticality + ")"
		}
		if svc.Notes != "" {
			line += ": " + svc.Notes
		}
		out = append(out, line)
	}
	return out
}

// Register registers the internal approval activities.
func (a *Activities) Register(r activities.Registrar) {
	r.RegisterActivityWithOptions(a.RequestApproval, activity.RegisterOptions{Name: contract.ActivityRequestApproval})
	r.RegisterActivityWithOptions(a.ApprovalOutcome, activity.RegisterOptions{Name: contract.ActivityApprovalOutcome})
	r.RegisterActivityWithOptions(a.Notice, activity.RegisterOptions{Name: contract.ActivityNotice})
}

// Notice posts a short notice about an incident: the first one of an incident is the
// parent message, the rest go into its thread.
func (a *Activities) Notice(ctx context.Context, in contract.NoticeInput) (contract.NoticeResult, error) {
	if a.Slack == nil {
		return contract.NoticeResult{}, nil
	}
	n := slackapp.Notice{IncidentID: in.IncidentID, Kind: in.Kind, Credential: in.Credential, Status: in.Status,
		Runbook: in.Runbook, StepID: in.StepID, Action: in.Action, Text: in.Text, At: in.At, Drill: in.Drill}
	if _, _, err := slackapp.NoticeMessage(n); err != nil {
		return contract.NoticeResult{}, activities.Permanent(activities.ErrInvalidArgument, "notice", err)
	}
	channel, ts, err := a.Slack.PostNotice(ctx, in.Channel, in.ThreadTS, n)
	if err != nil {
		return contract.NoticeResult{}, err
	}
	return contract.NoticeResult{Posted: true, Channel: channel, TS: ts}, nil
}

// SlackGroupPrefix marks an approver entry that names a Slack user group (S…); its
// members are looked up when the request is posted.
const SlackGroupPrefix = "slack-group:"

// resolve replaces Slack user groups in approvers by their current members, keeping
// order and dropping repeats. It reports whether any group was resolved.
func (a *Activities) resolve(ctx context.Context, p Poster, approvers []string) ([]string, bool, error) {
	var out []string
	resolved := false
	add := func(id string) {
		for _, x := range out {
			if x == id {
				return
			}
		}
		out = append(out, id)
	}
	for _, ap := range approvers {
		group, ok := strings.CutPrefix(ap, SlackGroupPrefix)
		if !ok {
			add(ap)
			continue
		}
		members, err := p.GroupMembers(ctx, group)
		if err != nil {
			return nil, false, err
		}
		resolved = true
		for _, m := range members {
			add(m)
		}
	}
	return out, resolved, nil
}

func request(in contract.ApprovalRequestInput) slackapp.ApprovalRequest {
	name := in.StepName
	if in.Escalation {
		name = "ESCALATED: " + cmp.Or(name, in.StepID)
	}
	return slackapp.ApprovalRequest{
		IncidentID: in.IncidentID, StepID: in.StepID, StepName: name, Action: in.Action, Args: in.Args,
		ArgsSHA256: in.ArgsSHA256, Credential: in.Credential, Approvers: in.Approvers, Quorum: in.Quorum,
		Deadline: in.Deadline, Destructive: in.Destructive, Requester: in.Requester, Nonce: in.Nonce, Drill: in.Drill,
	}
}

// RequestApproval posts the Block Kit request with Approve and Deny buttons.
func (a *Activities) RequestApproval(ctx context.Context, in contract.ApprovalRequestInput) (contract.ApprovalRequestResult, error) {
	p := a.Slack
	if in.Escalation && a.Escalation != nil {
		p = a.Escalation
	}
	if p == nil {
		return contract.ApprovalRequestResult{Summary: "waiting for approval via `sever approve` or the API (Slack is not configured)"}, nil
	}
	approvers, resolved, err := a.resolve(ctx, p, in.Approvers)
	if err != nil {
		return contract.ApprovalRequestResult{}, fmt.Errorf("request approval for %s/%s: resolve approvers: %w", in.IncidentID, in.StepID, err)
	}
	if resolved && len(approvers) == 0 {
		return contract.ApprovalRequestResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("request approval for %s/%s: the approver groups %s have no members", in.IncidentID, in.StepID, strings.Join(in.Approvers, ", ")), nil)
	}
	in.Approvers = approvers
	r := request(in)
	r.BlastRadius = a.blastRadius(in.Credential)
	if err := r.Validate(); err != nil {
		return contract.ApprovalRequestResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("request approval for %s/%s", in.IncidentID, in.StepID), err)
	}
	channel, ts, err := p.RequestApproval(ctx, r)
	if err != nil {
		return contract.ApprovalRequestResult{}, fmt.Errorf("request approval for %s/%s: %w", in.IncidentID, in.StepID, err)
	}
	res := contract.ApprovalRequestResult{Posted: true, Channel: channel, TS: ts, Summary: "approval requested in Slack"}
	if resolved {
		res.Approvers = approvers
	}
	return res, nil
}

// ApprovalOutcome replaces the request with who decided what, or with a notice that
// it no longer takes clicks (escalated or closed), buttons removed either way.
func (a *Activities) ApprovalOutcome(ctx context.Context, in contract.ApprovalOutcomeInput) (contract.ApprovalOutcomeResult, error) {
	if a.Slack == nil || in.TS == "" {
		return contract.ApprovalOutcomeResult{}, nil
	}
	r := request(in.Request)
	r.BlastRadius = a.blastRadius(in.Request.Credential)
	var err error
	switch in.Outcome {
	case sever.HumanApproved, sever.HumanDenied:
		err = a.Slack.MarkDecided(ctx, in.Channel, in.TS, r,
			slackapp.Decided{Approved: in.Outcome == sever.HumanApproved, Decisions: in.Decisions, At: in.At})
	case sever.ApprovalExpired:
		err = a.Slack.MarkExpired(ctx, in.Channel, in.TS, r, slackapp.Expired{OnTimeout: in.OnTimeout, Decisions: in.Decisions, At: in.At})
	case contract.OutcomeSuperseded, contract.OutcomeCanceled:
		// The request's buttons stop working (its nonce is no longer current); the
		// message says so instead of inviting clicks that will be refused.
		err = a.Slack.MarkSuperseded(ctx, in.Channel, in.TS, r,
			slackapp.Superseded{Canceled: in.Outcome == contract.OutcomeCanceled, At: in.At})
	default:
		return contract.ApprovalOutcomeResult{}, activities.Permanent(activities.ErrInvalidArgument,
			"approval outcome", errors.New("unknown outcome "+string(in.Outcome)))
	}
	if err != nil {
		return contract.ApprovalOutcomeResult{}, fmt.Errorf("approval outcome for %s/%s: %w", in.Request.IncidentID, in.Request.StepID, err)
	}
	return contract.ApprovalOutcomeResult{Updated: true}, nil
}
