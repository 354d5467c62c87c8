package secretscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// Redaction never keeps a tail of a token: a token longer than its rule's window
// (an STS session token, a long value after "password=") goes whole, in plain text
// and in a JSON document quoted inside a JSON string (a CloudTrail record as the
// trail evidence keeps it).
func TestRedactKeepsNoTail(t *testing.T) {
	long := fake("", alnum, 900) // past generic-api-key's 300-byte window
	record := func(tok string) string {
		b, err := json.Marshal(map[string]any{"responseElements": map[string]any{
			"credentials": map[string]any{"accessKeyId": "ASIAQWERTYUIOPASDFGH", "sessionToken": tok}}})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	nested := func(tok string) string {
		b, err := json.Marshal(map[string]any{"events": []any{map[string]any{"record": record(tok)}}})
		if err != nil {
			t.Fatal(err)
		}
		return string(RedactJSON(b))
	}
	tests := []struct {
		name, secret, got string
		keep              []string // what must survive
	}{
		{name: "sts token in text", secret: stsToken, got: Redact("aws_session_token = " + stsToken + " end"),
			keep: []string{"aws_session_", " end"}},
		{name: "sts token in a record", secret: stsToken, got: Redact(record(stsToken)),
			keep: []string{"ASIAQWERTYUIOPASDFGH", `"session[redacted]"`}},
		{name: "sts token in a JSON string in JSON", secret: stsToken, got: nested(stsToken),
			keep: []string{"ASIAQWERTYUIOPASDFGH", `\"session[redacted]\"`}},
		{name: "long generic value", secret: long, got: Redact("password=" + long + " end"),
			keep: []string{" end"}},
		{name: "long generic value in a JSON string in JSON", secret: long, got: nested(long),
			keep: []string{"ASIAQWERTYUIOPASDFGH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Any 16 characters of the secret, from its end back, would be a tail kept.
			for i := len(tt.secret) - 16; i >= 0; i -= 16 {
				if strings.Contains(tt.got, tt.secret[i:i+16]) {
					t.Fatalf("redacted text keeps the secret's bytes %d..%d: %.200s", i, i+16, tt.got)
				}
			}
			for _, k := range tt.keep {
				if !strings.Contains(tt.got, k) {
					t.Errorf("redacted text lost %q: %.300s", k, tt.got)
				}
			}
		})
	}
}
