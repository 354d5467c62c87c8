package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
)

func TestCanonicalEncodingIsPinned(t *testing.T) {
	e := Entry{
		Incident: "inc-aws-1", Seq: 2, At: time.Date(2026, 3, 14, 9, 0, 0, 1_000_000, time.FixedZone("CET", 3600)),
		Kind: KindStepOutcome, Actor: "sever", Enforcement: sever.EnterpriseEnforced, PolicyRule: "aws-auto",
		Step: "deactivate", Action: "aws.deactivate_access_key", ArgsSHA256: sha,
		Evidence: []sever.Artifact{{Name: "key-state", SHA256: sha}},
		Result:   `verified <Inactive> & "done" \ é`, Detail: map[string]string{"z": "1", "a": "2"},
		Key: "step/deactivate/outcome", Prev: strings.Repeat("ab", 32), Hash: "ignored",
	}
	want := `{"incident":"inc-aws-1","seq":2,"at":"2026-03-14T08:00:00.001Z","kind":"step_outcome","actor":"sever",` +
		`"enforcement":"enterprise_enforced","policy_rule":"aws-auto","step":"deactivate","action":"aws.deactivate_access_key",` +
		`"args_sha256":"` + sha + `","evidence":[{"name":"key-state","uri":"","sha256":"` + sha + `","size":0}],` +
		`"result":"verified <Inactive> & \"done\" \\ é","detail":{"a":"2","z":"1"},"key":"step/deactivate/outcome",` +
		`"prev":"` + strings.Repeat("ab", 32) + `"}`
	if got := string(e.Canonical()); got != want {
		t.Fatalf("canonical encoding changed:\n got %s\nwant %s", got, want)
	}
	if got := e.ComputeHash(); got != sever.SHA256Hex([]byte(want)) {
		t.Fatalf("ComputeHash = %s", got)
	}
	// Empty collections are always present.
	empty := string(Entry{Incident: "i", Kind: KindSignal, Key: "k", At: day1}.Canonical())
	if !strings.Contains(empty, `"evidence":[]`) || !strings.Contains(empty, `"detail":{}`) || !strings.Contains(empty, `"prev":""`) {
		t.Fatalf("empty fields missing: %s", empty)
	}
	// The JSON form is the canonical keys, then hash.
	wantJSON := strings.TrimSuffix(want, "}") + `,"hash":"ignored"}`
	b, _ := marshalJSON(e)
	if string(b) != wantJSON {
		t.Fatalf("marshalJSON form:\n got %s\nwant %s", b, wantJSON)
	}
}

// TestCanonicalKeyOrder pins the documented key order.
func TestCanonicalKeyOrder(t *testing.T) {
	want := []string{"incident", "seq", "at", "kind", "actor", "enforcement", "policy_rule", "step", "action",
		"args_sha256", "evidence", "result", "detail", "key", "prev"}
	dec := json.NewDecoder(bytes.NewReader(fact("inc", 3).withAt(day1).Canonical()))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("first token %v, %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %v\nwant %v", keys, want)
	}
}

func (e Entry) withAt(t time.Time) Entry { e.At = t; return e }

// TestCanonicalMatchesJQ checks the claim auditors rely on: jq -cj 'del(.hash)' of an
// entry's JSON prints its canonical encoding, for every string Append lets through.
func TestCanonicalMatchesJQ(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed")
	}
	texts := []string{
		`plain`, `quote " backslash \ slash /`, `<html> & "amp"`, "é 日本語 🙂 …",
		"tab\there\nnewline\r\x00nul\x7fdel\u0085nel", "line\u2028sep\u2029para", "bad\xffutf8", "\u00a0nbsp \ufeff bom",
	}
	for _, text := range texts {
		e := fact("inc-x", 3)
		e.Result = text
		e.Detail = map[string]string{"b": text, "a": "x"}
		if err := prepare(&e, day1); err != nil {
			t.Fatal(err)
		}
		e.Seq, e.Hash = 1, e.ComputeHash()
		j, err := marshalJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("jq", "-cj", "del(.hash)")
		cmd.Stdin = bytes.NewReader(j)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, e.Canonical()) {
			t.Errorf("text %q:\n jq %s\ngo %s", text, out, e.Canonical())
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ok", "ok"},
		{"a\tb\nc\x00d\x7fe\u0085f", "a b c d e f"},
		{"x\u2028y\u2029z", "x y z"},
		{"bad\xff", "bad\uFFFD"},
		{strings.Repeat("é", 10), strings.Repeat("é", 4) + "…"},
	}
	for _, tc := range tests {
		max := 100
		if strings.HasPrefix(tc.in, "é") {
			max = 5
		}
		got := cleanText(tc.in, max)
		if got != tc.want {
			t.Errorf("cleanText(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if again := cleanText(got, max); again != got {
			t.Errorf("cleanText is not idempotent on %q: %q", got, again)
		}
	}
}

func TestPrepareRejects(t *testing.T) {
	const (
		anthropic = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
		openai    = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx"
		ghp       = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
		ghpat     = "github_pat_11ABCDEFG0123456789_abcdefghijklmnop"
		slack     = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
		awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		pemKey    = "-----BEGIN OPENSSH PRIVATE KEY-----"
	)
	tests := []struct {
		name  string
		edit  func(e *Entry)
		field string
		msg   string
	}{
		{"no incident", func(e *Entry) { e.Incident = " " }, "incident", "required"},
		{"no kind", func(e *Entry) { e.Kind = "" }, "kind", "required"},
		{"unknown kind", func(e *Entry) { e.Kind = "gossip" }, "kind", `unknown kind "gossip"`},
		{"no key", func(e *Entry) { e.Key = "" }, "key", "required"},
		{"unknown enforcement", func(e *Entry) { e.Enforcement = "vendor_did_it" }, "enforcement", "unknown enforcement"},
		{"bad args hash", func(e *Entry) { e.ArgsSHA256 = "ABC" }, "args_sha256", "64 lowercase hex"},
		{"evidence without name", func(e *Entry) { e.Evidence = []sever.Artifact{{SHA256: sha}} }, "evidence[0].name", "required"},
		{"evidence bad hash", func(e *Entry) { e.Evidence = []sever.Artifact{{Name: "n", SHA256: "x"}} }, "evidence[0].sha256", "64 lowercase hex"},
		{"evidence bad size", func(e *Entry) { e.Evidence = []sever.Artifact{{Name: "n", SHA256: sha, Size: -1}} }, "evidence[0].size", "between"},
		{"too much evidence", func(e *Entry) { e.Evidence = make([]sever.Artifact, MaxEvidence+1) }, "evidence", "more than"},
		{"too many detail keys", func(e *Entry) {
			e.Detail = map[string]string{}
			for i := range MaxDetailKeys + 1 {
				e.Detail[strings.Repeat("k", i+1)] = "v"
			}
		}, "detail", "more than"},
		{"control character in an identifier", func(e *Entry) { e.Step = "a\nb" }, "step", "control characters"},
		{"long identifier", func(e *Entry) { e.Actor = strings.Repeat("a", MaxIDLen+1) }, "actor", "longer than"},
		{"year out of range", func(e *Entry) { e.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "at", "between years"},
		{"anthropic key in actor", func(e *Entry) { e.Actor = anthropic }, "actor", "an Anthropic API key"},
		{"openai key in result", func(e *Entry) { e.Result = "leaked " + openai + " in the wild" }, "result", "an OpenAI API key"},
		{"github token in detail", func(e *Entry) { e.Detail = map[string]string{"token": ghp} }, "detail.token", "a GitHub token"},
		{"github pat in step", func(e *Entry) { e.Step = ghpat }, "step", "a GitHub token"},
		{"slack token in policy rule", func(e *Entry) { e.PolicyRule = slack }, "policy_rule", "a Slack token"},
		{"pem key in evidence uri", func(e *Entry) {
			e.Evidence = []sever.Artifact{{Name: "n", URI: pemKey, SHA256: sha}}
		}, "evidence[0].uri", "a private key"},
		{"aws secret in result", func(e *Entry) { e.Result = "secret=" + awsSecret }, "result", "an AWS secret access key"},
		{"aws key pair in detail", func(e *Entry) {
			e.Detail = map[string]string{"creds": "AKIAIOSFODNN7EXAMPLE:" + awsSecret}
		}, "detail.creds", "an AWS secret access key"},
		{"secret as a detail key", func(e *Entry) { e.Detail = map[string]string{ghp: "x"} }, "detail", "no secret material"},
		{"secret in key", func(e *Entry) { e.Key = "signal/" + ghp }, "key", "a GitHub token"},
		{"secret as an unknown kind", func(e *Entry) { e.Kind = Kind(ghp) }, "kind", "withheld"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := fact("inc-a", 3)
			tc.edit(&e)
			err := prepare(&e, day1)
			var se *sever.Error
			if !errors.As(err, &se) || se.Code != sever.EINVALID || se.Field != tc.field || !strings.Contains(se.Message, tc.msg) {
				t.Fatalf("prepare = %v; want invalid %s ~ %q", err, tc.field, tc.msg)
			}
			for _, secret := range []string{anthropic, openai, ghp, ghpat, slack, awsSecret, pemKey} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error repeats the secret: %v", err)
				}
			}
		})
	}
}

func TestPrepareAllows(t *testing.T) {
	for _, v := range []string{
		"AKIAIOSFODNN7EXAMPLE",                // an access key ID names the credential
		"sk-ant-...abcd",                      // redacted
		"task-0123456789abcdefghijABCDEFGHIJ", // not "sk-"
		sha,                                   // sha256 hex
		"da39a3ee5e6b4b0d3255bfef95601890afd80709", // sha1 hex (40 chars)
		"file:///var/lib/sever/evidence/inc-aws-0123456789abcdef0123/key-state-9f86d081884c.json",
		"arn:aws:iam::123456789012:user/ci/deploy-bot",
		"var/lib/sever/evidence/Incident/Key1/abc", // a path, not a secret
		"ThisIsALongCamelCaseIdentifierWithWords",  // 39 chars, no digit
		"d29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=", // padded base64
		"-----BEGIN PUBLIC KEY-----",
	} {
		e := fact("inc-a", 3)
		e.Result, e.Detail = v, map[string]string{"v": v}
		if err := prepare(&e, day1); err != nil {
			t.Errorf("prepare(%q) = %v", v, err)
		}
	}
}
