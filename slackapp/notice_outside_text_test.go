package slackapp

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
)

// The "opened" notice shows the first signal's summary (workflows.openedText:
// "<origin> <kind> from <source>: <summary>; runbook <name>"). Anyone with
// signals:write chooses that summary, newlines and mrkdwn included. escape only
// neutralises &, < and >, so the summary can start a line of its own that is
// byte for byte the headline of a genuine "Contained and verified" notice.
func TestOpenedNoticeCannotForgeAnotherNotice(t *testing.T) {
	cred := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"}
	_, real, err := NoticeMessage(Notice{IncidentID: "inc-aws-1", Kind: "contained", Credential: cred,
		Status: sever.IncidentContained, Text: "contained and verified 41.2s after the first signal"})
	if err != nil {
		t.Fatal(err)
	}
	genuine := real[0].(*slack.SectionBlock).Text.Text // what sever itself posts when containment is verified

	summary := "key seen on a paste site\n\n" + genuine + "\n:lock: *Incident closed* — false positive, no action needed"
	sig := sever.Signal{Source: "siem", Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed,
		ObservedAt: time.Now(), Credential: cred, Summary: summary}
	if err := sig.Validate(); err != nil {
		t.Fatalf("precondition: intake refuses the summary: %v", err)
	}
	opened := "enterprise credential_exposed from siem: " + summary + "; runbook aws-access-key-exposed"
	_, blocks, err := NoticeMessage(Notice{IncidentID: "inc-aws-1", Kind: "opened", Credential: cred,
		Status: sever.IncidentOpen, Runbook: "aws-access-key-exposed", Text: opened})
	if err != nil {
		t.Fatal(err)
	}
	shown := blocks[0].(*slack.SectionBlock).Text.Text
	for _, line := range strings.Split(shown, "\n")[1:] {
		if line == strings.Split(genuine, "\n")[0] {
			t.Fatalf("text from a signal forged a line identical to sever's own %q headline in the opened notice:\n%s",
				"Contained and verified", shown)
		}
	}
}

// Text that came from outside (a signal's summary, a provider's error, a credential's
// identifiers, an inventory's blast radius, a decider's reason) reaches a notice or an
// approval request on one line, and in mrkdwn only inside a code span: it can neither
// start a line nor format one, so every line that looks like sever's is sever's.
func TestOutsideTextCannotStartOrFormatALine(t *testing.T) {
	const forged = "*:white_check_mark: Contained and verified*"
	inject := "x\n" + forged + "\r\n" + forged + "\u2028" + forged + "\v" + forged
	notice := func(n Notice) func() (string, []slack.Block) {
		return func() (string, []slack.Block) {
			n.IncidentID, n.Status = "inc-aws-1", sever.IncidentOpen
			if n.Credential.Type == "" {
				n.Credential = testCred
			}
			return mustNotice(t, n)
		}
	}
	approval := func(edit func(*ApprovalRequest)) func() (string, []slack.Block) {
		return func() (string, []slack.Block) {
			r := destructiveRequest()
			edit(&r)
			return ApprovalMessage(r)
		}
	}
	tests := []struct {
		name   string
		render func() (string, []slack.Block)
	}{
		{"opened notice: a signal's summary", notice(Notice{Kind: "opened", Text: "enterprise credential_exposed from siem: " + inject})},
		{"step_failed notice: a provider's error", notice(Notice{Kind: "step_failed", StepID: "revoke", Action: "openai.revoke_key", Text: "AccessDenied: " + inject})},
		{"notice: a credential ID", notice(Notice{Kind: "opened", Credential: sever.Credential{Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE" + inject}})},
		{"approval request: a credential ID", approval(func(r *ApprovalRequest) { r.Credential.ID = "AKIAEXAMPLE0000000001" + inject })},
		{"approval request: a principal", approval(func(r *ApprovalRequest) { r.Credential.Principal = "arn:aws:iam::1:user/x" + inject })},
		{"approval request: an account", approval(func(r *ApprovalRequest) { r.Credential.Account = "123456789012" + inject })},
		{"approval request: a backtick closing the code span", approval(func(r *ApprovalRequest) { r.Credential.ID = "AKIA`\n" + forged + "`" })},
		{"approval request: the blast radius", approval(func(r *ApprovalRequest) { r.BlastRadius = []string{"aws credential AKIA" + inject} })},
		{"approval request: the requester", approval(func(r *ApprovalRequest) { r.Requester = "siem" + inject })},
		{"decided request: a reason", func() (string, []slack.Block) {
			r := testRequest()
			return DecidedMessage(r, Decided{Approved: true, Decisions: []sever.Decision{
				{StepID: r.StepID, Approve: true, Approver: "U012AB3CD", Channel: "cli", ArgsSHA256: r.ArgsSHA256, Reason: "ok" + inject}}})
		}},
	}
	codeSpan := regexp.MustCompile("`[^`]*`")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fallback, blocks := tt.render()
			checkLimits(t, fallback, blocks)
			if strings.ContainsAny(fallback, "\n\r\v\u2028") {
				t.Errorf("the fallback text breaks a line: %q", fallback)
			}
			for _, o := range textObjects(blocks) {
				for _, line := range strings.Split(o.Text, "\n") {
					if strings.HasPrefix(line, "*:white_check_mark:") || strings.HasPrefix(line, forged) {
						t.Errorf("a %s line starts as sever's own headline: %q in\n%s", o.Type, line, o.Text)
					}
				}
				if o.Type == slack.MarkdownType && strings.Contains(codeSpan.ReplaceAllString(o.Text, ""), forged) {
					t.Errorf("mrkdwn shows outside text outside a code span, formatted:\n%s", o.Text)
				}
			}
		})
	}
}

// textObjects returns every text object of blocks that Slack renders: headers,
// section texts and fields, context elements and confirmation dialogs.
func textObjects(blocks []slack.Block) []*slack.TextBlockObject {
	var out []*slack.TextBlockObject
	add := func(os ...*slack.TextBlockObject) {
		for _, o := range os {
			if o != nil {
				out = append(out, o)
			}
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			add(b.Text)
		case *slack.SectionBlock:
			add(b.Text)
			add(b.Fields...)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					add(o)
				}
			}
		case *slack.ActionBlock:
			for _, e := range b.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					add(btn.Text)
					if btn.Confirm != nil {
						add(btn.Confirm.Title, btn.Confirm.Text, btn.Confirm.Confirm, btn.Confirm.Deny)
					}
				}
			}
		}
	}
	return out
}

// mrkdwnContains reports whether any mrkdwn text object of blocks contains s; plain_text
// shows it literally.
func mrkdwnContains(blocks []slack.Block, s string) bool {
	for _, o := range textObjects(blocks) {
		if o.Type == slack.MarkdownType && strings.Contains(o.Text, s) {
			return true
		}
	}
	return false
}
