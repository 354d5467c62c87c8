package evidence

import (
	"os"
	"strings"
	"testing"
)

// TestPutRedactsSecrets: issue 12 item 3. An artifact never holds secret material,
// even when a signal carried a key hidden from the old filter; its recorded hash is
// of what was written, so Verify still holds.
func TestPutRedactsSecrets(t *testing.T) {
	glpat := "gl" + "pat-" + "Zx8Kq2Lm9Rt4Vb7Np3Wd"
	slackBot := "xox" + "b-" + "123456789012-1234567890123-" + "Q3vK9pLm2XrT8wYz4NbC6dFh"
	for _, tc := range []struct{ name, doc, secret string }{
		{"gitlab token in a summary", `{"signals":[{"summary":"leaked ` + glpat + `"}]}`, glpat},
		{"slack token split by a zero-width space", `{"note":"` + slackBot[:10] + "\u200b" + slackBot[10:] + `"}`, slackBot[10:]},
		{"not JSON", "raw " + glpat, glpat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(t.TempDir())
			a, err := s.Put("inc-x", "signals", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(strings.TrimPrefix(a.URI, "file://"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), tc.secret) || !strings.Contains(string(b), "[redacted]") {
				t.Errorf("artifact = %s; want the secret redacted", b)
			}
			if err := s.Verify(a); err != nil {
				t.Error(err)
			}
		})
	}
}
