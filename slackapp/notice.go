package slackapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
)

// Notice is a short message about an incident. The first one (Kind "opened") is the
// parent message; later ones are posted in its thread.
type Notice struct {
	IncidentID string
	Kind       string // opened, contained, failed, step_failed, closed
	Credential sever.Credential
	Status     sever.IncidentStatus
	Runbook    string
	StepID     string
	Action     string
	Text       string
	At         time.Time
	Drill      bool
}

// noticeTitles gives each kind its headline. Unknown kinds are refused: a typo in
// the workflow would otherwise post a blank-looking line into a SOC channel.
var noticeTitles = map[string]string{
	"opened":      ":rotating_light: Incident opened",
	"contained":   ":white_check_mark: Contained and verified",
	"failed":      ":x: Containment failed",
	"step_failed": ":warning: Step failed",
	"closed":      ":lock: Incident closed",
}

// maxNoticeText bounds a notice's text as shown in its message.
const maxNoticeText = 2000

// NoticeMessage renders a notice. The headline is sever's own; the text (a signal's
// summary, a provider's error) is someone else's, so it is shown on one line as
// plain_text, where Slack renders no markup at all: it cannot mention @channel,
// forge a link, or start a line that reads like another of sever's notices.
func NoticeMessage(n Notice) (fallback string, blocks []slack.Block, err error) {
	title, ok := noticeTitles[n.Kind]
	if !ok {
		return "", nil, fmt.Errorf("notice for %s: unknown kind %q", n.IncidentID, n.Kind)
	}
	if n.IncidentID == "" {
		return "", nil, errors.New("notice: incident id is required")
	}
	if n.Drill {
		title = "[DRILL] " + title
	}
	line := fmt.Sprintf("*%s* %s %s", escape(title), code(string(n.Credential.Type)), code(n.Credential.ID))
	if n.Kind == "step_failed" {
		line += fmt.Sprintf(" step %s (%s)", code(n.StepID), code(n.Action))
	}
	blocks = append(blocks, section(line))
	if n.Text != "" {
		blocks = append(blocks, plainSection(plain(n.Text, maxNoticeText)))
	}
	ctx := fmt.Sprintf("incident %s · status %s", code(n.IncidentID), code(string(n.Status)))
	if n.Runbook != "" {
		ctx += " · runbook " + code(n.Runbook)
	}
	if !n.At.IsZero() {
		ctx += " · " + slackDate(n.At)
	}
	blocks = append(blocks, contextBlock(ctx))
	fallback = fmt.Sprintf("%s: %s %s (incident %s)", title, orNone(string(n.Credential.Type)), orNone(n.Credential.ID), n.IncidentID)
	if n.Text != "" {
		fallback += ": " + n.Text
	}
	return escapeClip(fallback, 3000), blocks, nil
}

// PostNotice posts n in the Poster's channel, or in the thread (channel, threadTS)
// when threadTS is set, and returns where it landed.
func (p *Poster) PostNotice(ctx context.Context, channel, threadTS string, n Notice) (string, string, error) {
	const op = "chat.postMessage"
	if channel == "" {
		channel = p.Channel
	}
	if err := p.check(op, channel); err != nil {
		return "", "", err
	}
	fallback, blocks, err := NoticeMessage(n)
	if err != nil {
		return "", "", fmt.Errorf("slack: %s to %s: %w", op, channel, err)
	}
	opts := []slack.MsgOption{slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	ch, ts, err := p.Client.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", "", fmt.Errorf("slack: %s to %s (incident %s, %s notice, thread %q): %w", op, channel, n.IncidentID, n.Kind, threadTS, err)
	}
	return ch, ts, nil
}

// GroupMembers returns the members of a Slack user group (its id, S…), so that an
// approver entry "slack-group:S…" is resolved when the request is posted: whoever is
// in the on-call group at that moment may approve.
func (p *Poster) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	const op = "usergroups.users.list"
	if p == nil || p.Client == nil {
		return nil, fmt.Errorf("slack: %s of %s: no Slack client configured", op, groupID)
	}
	members, err := p.Client.GetUserGroupMembersContext(ctx, groupID)
	if err != nil {
		return nil, fmt.Errorf("slack: %s of %s: %w", op, groupID, err)
	}
	return members, nil
}
