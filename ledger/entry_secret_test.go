package ledger

import (
	"errors"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan/secrettest"
)

// fakeKey builds key-shaped values at run time (see secrettest).
var fakeKey = secrettest.Fake

// TestPrepareRefusesHiddenSecrets: issue 12 item 3. The ledger uses the same
// detector as intake, so a key hidden by a space or an invisible character, and
// the shapes the old filter did not know, are refused by rule, never echoed.
func TestPrepareRefusesHiddenSecrets(t *testing.T) {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	anthropic := fakeKey("sk-ant-"+"api03-", alnum+"_-", 93) + "AA"
	glpat := fakeKey("gl"+"pat-", alnum, 20)
	google := fakeKey("AI"+"za", alnum+"_-", 35)
	stripe := fakeKey("sk"+"_live_", alnum, 24)
	tests := []struct {
		name, value, rule string
	}{
		{"anthropic key split by a space", "sk-ant- " + anthropic[len("sk-ant-"):], "anthropic-api-key"},
		{"anthropic key with a zero-width space", anthropic[:14] + "\u200b" + anthropic[14:], "anthropic-api-key"},
		{"anthropic key with a byte-order mark", anthropic[:9] + "\ufeff" + anthropic[9:], "anthropic-api-key"},
		{"gitlab token", glpat, "gitlab-pat"},
		{"google api key", google, "gcp-api-key"},
		{"stripe live key", stripe, "stripe-access-token"},
		{"stripe key with a soft hyphen", stripe[:8] + "\u00ad" + stripe[8:], "stripe-access-token"},
	}
	for _, tc := range tests {
		for _, f := range []struct {
			field string
			set   func(e *Entry, v string)
		}{
			{"result", func(e *Entry, v string) { e.Result = "rotated " + v }},
			{"detail.note", func(e *Entry, v string) { e.Detail = map[string]string{"note": v} }},
			{"actor", func(e *Entry, v string) { e.Actor = v }},
		} {
			t.Run(tc.name+"/"+f.field, func(t *testing.T) {
				e := fact("inc-a", 3)
				f.set(&e, tc.value)
				err := prepare(&e, day1)
				var se *sever.Error
				if !errors.As(err, &se) || se.Code != sever.EINVALID || se.Field != f.field || !strings.Contains(se.Message, tc.rule) {
					t.Fatalf("prepare = %v; want invalid %s naming rule %s", err, f.field, tc.rule)
				}
				if strings.Contains(err.Error(), tc.value) || strings.Contains(err.Error(), tc.value[10:]) {
					t.Fatalf("error repeats the secret: %v", err)
				}
			})
		}
	}
}
