package slackapp

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
	"github.com/sever-ir/sever/internal/secretscan/secrettest"
)

// A notice's text is cut to 2000 characters before it is redacted, so a key that
// straddles the cut reaches Slack as a prefix too short for the detector: here 29
// of a GitHub token's 36 characters (the last 6 are a checksum).
func TestNoticeRedactsBeforeTruncating(t *testing.T) {
	token := secrettest.Fake("ghp_", secrettest.Alnum, 36)
	if got := secretscan.Redact("error: " + token); strings.Contains(got, token[:20]) {
		t.Fatalf("precondition: the detector does not redact the whole token: %q", got)
	}
	// truncate(s, 2000) keeps 1999 runes: the filler, a space and ghp_ + 29 characters.
	filler := strings.Repeat("x", 1999-1-len("ghp_")-29)
	text := filler + " " + token // e.g. a provider's error text quoting the token
	_, blocks, err := NoticeMessage(Notice{IncidentID: "inc-1", Kind: "step_failed", StepID: "revoke",
		Action: "github.revoke_token", Credential: sever.Credential{Type: sever.CredGitHubToken, ID: "alert-7"}, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(blocks)
	if leaked := token[:len("ghp_")+29]; strings.Contains(string(b), leaked) {
		t.Fatalf("the notice posted to Slack shows %d of the token's %d characters unredacted: %q",
			len(leaked), len(token), leaked)
	}
}

// Escaping after the cut would let the text grow past Slack's limit; cutting after
// escaping must stop on an entity's edge, never show "&am" for "&amp;".
func TestNoticeFallbackCutsNoEntityInHalf(t *testing.T) {
	for _, pad := range []int{0, 1, 2, 3, 4} {
		text := strings.Repeat("x", pad) + strings.Repeat("&", 3000)
		fallback, _, err := NoticeMessage(Notice{IncidentID: "inc-1", Kind: "step_failed", StepID: "revoke",
			Action: "github.revoke_token", Credential: sever.Credential{Type: sever.CredGitHubToken, ID: "alert-7"}, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if n := utf8.RuneCountInString(fallback); n > 3000 {
			t.Errorf("pad %d: the fallback is %d characters; the limit is 3000", pad, n)
		}
		body, ok := strings.CutSuffix(fallback, "…")
		if !ok || !strings.HasSuffix(body, "&amp;") {
			t.Errorf("pad %d: the fallback does not end on a whole entity and a cut mark: …%q", pad, fallback[max(0, len(fallback)-12):])
		}
	}
}
