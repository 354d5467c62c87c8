package slackapp

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"
)

// Poster posts approval requests to one channel and keeps them current. Client holds
// the bot token (chat:write); errors never include it.
type Poster struct {
	Client  *slack.Client
	Channel string
}

func (p *Poster) check(op, channel string) error {
	switch {
	case p == nil || p.Client == nil:
		return fmt.Errorf("slack: %s: no Slack client configured", op)
	case channel == "":
		return fmt.Errorf("slack: %s: no channel configured", op)
	}
	return nil
}

// RequestApproval posts the approval message for r and returns where it landed; keep
// channel and ts to update the message when the step is decided or expires.
func (p *Poster) RequestApproval(ctx context.Context, r ApprovalRequest) (channel, ts string, err error) {
	const op = "chat.postMessage"
	if err := p.check(op, p.Channel); err != nil {
		return "", "", err
	}
	if err := r.Validate(); err != nil {
		return "", "", fmt.Errorf("slack: %s to %s: %w", op, p.Channel, err)
	}
	fallback, blocks := ApprovalMessage(r)
	channel, ts, err = p.Client.PostMessageContext(ctx, p.Channel,
		slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return "", "", fmt.Errorf("slack: %s to %s (incident %s, step %s): %w", op, p.Channel, r.IncidentID, r.StepID, err)
	}
	if ts == "" {
		return "", "", fmt.Errorf("slack: %s to %s (incident %s, step %s): Slack returned no message timestamp", op, p.Channel, r.IncidentID, r.StepID)
	}
	return channel, ts, nil
}

// MarkDecided replaces the approval message at (channel, ts) with its outcome; the
// buttons are removed so nobody clicks a request that is already decided.
func (p *Poster) MarkDecided(ctx context.Context, channel, ts string, r ApprovalRequest, d Decided) error {
	fallback, blocks := DecidedMessage(r, d)
	return p.update(ctx, channel, ts, r, fallback, blocks)
}

// MarkExpired replaces the approval message at (channel, ts) with the expiry notice.
func (p *Poster) MarkExpired(ctx context.Context, channel, ts string, r ApprovalRequest, e Expired) error {
	fallback, blocks := ExpiredMessage(r, e)
	return p.update(ctx, channel, ts, r, fallback, blocks)
}

// MarkSuperseded replaces the approval message at (channel, ts) with a notice that
// it no longer takes clicks: escalated, or the incident closed.
func (p *Poster) MarkSuperseded(ctx context.Context, channel, ts string, r ApprovalRequest, s Superseded) error {
	fallback, blocks := SupersededMessage(r, s)
	return p.update(ctx, channel, ts, r, fallback, blocks)
}

func (p *Poster) update(ctx context.Context, channel, ts string, r ApprovalRequest, fallback string, blocks []slack.Block) error {
	const op = "chat.update"
	if err := p.check(op, channel); err != nil {
		return err
	}
	if ts == "" {
		return fmt.Errorf("slack: %s in %s: message timestamp is required", op, channel)
	}
	if _, _, _, err := p.Client.UpdateMessageContext(ctx, channel, ts,
		slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		return fmt.Errorf("slack: %s of message %s in %s (incident %s, step %s): %w", op, ts, channel, r.IncidentID, r.StepID, err)
	}
	return nil
}
