package slackapp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
)

// TestMessagesRedactSecrets: issue 12 item 3. Whatever text reaches a Slack
// message (a notice's text, a step name, arguments, blast radius) is redacted by
// the one detector, hidden keys included; the message still renders.
func TestMessagesRedactSecrets(t *testing.T) {
	slackBot := "xox" + "b-" + "123456789012-1234567890123-" + "Q3vK9pLm2XrT8wYz4NbC6dFh"
	glpat := "gl" + "pat-" + "Zx8Kq2Lm9Rt4Vb7Np3Wd"
	hidden := slackBot[:9] + "\u200b" + slackBot[9:] // a zero-width space inside
	google := "AI" + "za" + "SyQ3vK9pLm2XrT8wYz4NbC6dFh0Jk5Ps1Gu"
	secrets := []string{slackBot, glpat, google, slackBot[12:], glpat[8:], google[6:]}
	check := func(t *testing.T, what, fallback string, blocks []slack.Block) {
		t.Helper()
		b, err := json.Marshal(blocks)
		if err != nil {
			t.Fatal(err)
		}
		out := fallback + "\n" + string(b)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows secret material %q:\n%s", what, s, out)
			}
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s does not show where it redacted", what)
		}
	}

	fallback, blocks, err := NoticeMessage(Notice{IncidentID: "inc-1", Kind: "step_failed", StepID: "s1", Action: "aws.iam.disable_key",
		Credential: sever.Credential{Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"},
		Text:       "provider said: bad token " + hidden + " and " + glpat})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "notice", fallback, blocks)
	if !strings.Contains(fallback, "AKIAIOSFODNN7EXAMPLE") {
		t.Errorf("notice lost the credential's identifier: %s", fallback)
	}

	r := testRequest()
	r.StepName = "rotate " + google
	r.Args = map[string]any{"note": "old key " + slackBot}
	r.BlastRadius = []string{"held in secret " + glpat}
	fallback, blocks = ApprovalMessage(r)
	check(t, "approval request", fallback, blocks)
}
