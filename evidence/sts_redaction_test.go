package evidence

import (
	"os"
	"strings"
	"testing"
)

// TestPutRedactsWholeSTSSessionToken: a CloudTrail record of sts:AssumeRole or
// sts:GetSessionToken carries the new session's token in responseElements (real
// tokens are several hundred to over a thousand characters). Evidence must not keep
// any of it; the redactor stops after 300 bytes and stores the rest verbatim.
func TestPutRedactsWholeSTSSessionToken(t *testing.T) {
	// A session token as STS issues it: the IQoJb3JpZ2luX2Vj prefix, then base64.
	tok := "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" +
		strings.Repeat("q8Zt3Lm9Xv2Rk7Wp4Nc6Hy1Jd5Gs0Ba", 24) + "Q=="
	record := `{"eventSource":"sts.amazonaws.com","eventName":"GetSessionToken",` +
		`"responseElements":{"credentials":{"accessKeyId":"ASIAQWERTYUIOPASDFGH","sessionToken":"` + tok + `","expiration":"Dec 8, 2026, 1:00:00 AM"}}}`
	// As store_evidence and the trail document keep it: the record as a JSON string.
	doc := `{"cloudtrail":{"events":[{"event_name":"GetSessionToken","record":` + quote(record) + `}]}}`
	s := NewStore(t.TempDir())
	a, err := s.Put("inc-x", "cloudtrail", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(strings.TrimPrefix(a.URI, "file://"))
	if err != nil {
		t.Fatal(err)
	}
	tail := tok[len(tok)-200:]
	if strings.Contains(string(b), tail) {
		rest := string(b)[strings.Index(string(b), "[redacted]")+len("[redacted]"):]
		kept := rest[:strings.Index(rest, `\"`)]
		t.Fatalf("stored evidence keeps the last %d of the session token's %d characters after the redaction mark: [redacted]%s...",
			len(kept), len(tok), kept[:80])
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
