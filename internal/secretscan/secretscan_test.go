package secretscan

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sever-ir/sever/internal/secretscan/secrettest"
	"golang.org/x/text/unicode/norm"
)

// fake builds key-shaped values at run time (see secrettest).
var fake = secrettest.Fake

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64    = alnum + "+/"
	urlb64 = alnum + "_-"
	digits = "0123456789"
	lowerd = "abcdefghijklmnopqrstuvwxyz0123456789"
	hexd   = "0123456789abcdef"
)

// Keys of every shape the rule set knows, by the rule that must find them.
var (
	anthropicKey = fake("sk-ant-"+"api03-", urlb64, 93) + "AA"
	openaiKey    = fake("sk-"+"proj-", urlb64, 40)
	awsSecret    = fake("", alnum, 30) + "/" + fake("", alnum, 9)
	slackBot     = "xox" + "b-" + fake("", digits, 12) + "-" + fake("", digits, 12) + "-" + fake("", alnum, 24)
	gitlabPAT    = fake("gl"+"pat-", urlb64, 20)
	googleKey    = fake("AI"+"za", urlb64, 35)
	stripeKey    = fake("sk"+"_live_", alnum, 24)
	githubPAT    = fake("gh"+"p_", alnum, 36)
	sha          = sha256Hex("artifact")
	// An STS session token as long as a role session's with tags: over 2,000 characters.
	stsToken = fake("IQo"+"Jb3JpZ2lu", b64, 2400) + "=="
)

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

var positives = []struct {
	name, in, rule string
}{
	{"private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + fake("", b64, 80) + "\n-----END RSA PRIVATE KEY-----", "private-key"},
	{"private key header alone", "pasted -----BEGIN OPENSSH PRIVATE KEY----- by mistake", "private-key"},
	{"anthropic", "leaked " + anthropicKey, "anthropic-api-key"},
	{"anthropic short", "sk-ant-" + "api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0", "anthropic-api-key"},
	{"anthropic admin", fake("sk-ant-"+"admin01-", urlb64, 60), "anthropic-api-key"},
	{"openai", "key=" + openaiKey, "openai-api-key"},
	{"bedrock long-lived", fake("AB"+"SK", b64, 120), "aws-amazon-bedrock-api-key-long-lived"},
	{"bedrock short-lived", fake("bedrock-api-key-", b64, 40), "aws-amazon-bedrock-api-key-short-lived"},
	{"github pat", githubPAT, "github-pat"},
	{"github fine-grained", fake("github"+"_pat_", alnum+"_", 82), "github-fine-grained-pat"},
	{"github oauth", fake("gh"+"o_", alnum, 36), "github-oauth"},
	{"github app", fake("gh"+"s_", alnum, 36), "github-app-token"},
	{"gitlab pat", "token " + gitlabPAT + " leaked", "gitlab-pat"},
	{"gitlab runner", fake("gl"+"rt-", alnum, 20), "gitlab-token"},
	{"slack bot", "bot token " + slackBot, "slack-bot-token"},
	{"slack user", "xox" + "p-" + fake("", digits, 12) + "-" + fake("", digits, 12) + "-" + fake("", alnum, 30), "slack-user-token"},
	{"slack config", "xox" + "e.xoxp-1-" + fake("", alnum, 150), "slack-config-token"},
	{"slack app", "xa" + "pp-1-" + fake("A", alnum, 12) + "-" + fake("", digits, 13), "slack-app-token"},
	{"slack webhook", "https://hooks.slack.com/services/" + fake("T", alnum, 8) + "/" + fake("B", alnum, 8) + "/" + fake("", alnum, 24), "slack-webhook-url"},
	{"google", "maps key " + googleKey, "gcp-api-key"},
	{"stripe", stripeKey, "stripe-access-token"},
	{"stripe restricted", fake("rk"+"_live_", alnum, 24), "stripe-access-token"},
	{"hugging face", fake("h"+"f_", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 34), "huggingface-access-token"},
	{"vault", fake("hv"+"s.", urlb64, 95), "vault-token"},
	{"azure client secret", "secret " + fake("", alnum, 3) + "8Q~" + fake("", alnum, 34), "azure-ad-client-secret"},
	{"jwt", "Authorization " + fake("ey"+"J", alnum, 30) + "." + fake("ey"+"J", alnum, 40) + "." + fake("", urlb64, 43), "jwt"},
	{"aws secret alone", awsSecret, "aws-secret-access-key"},
	{"aws secret in summary", "aws key AKIAIOSFODNN7EXAMPLE secret " + awsSecret + " leaked", "aws-secret-access-key"},
	{"sts session token", "token " + stsToken, "aws-sts-session-token"},
	{"sts session token, older", fake("Fwo"+"GZXIvYXdz", b64, 300) + "==", "aws-sts-session-token"},
	{"sts session token, percent-encoded", "X-Amz-Security-Token=" + fake("IQo"+"Jb3JpZ2lu", alnum, 20) + "%2F%2F" + fake("", alnum, 200) + "&X-Amz-Date=x", "aws-sts-session-token"},
	{"generic password", "db password: " + fake("", alnum, 20), "generic-api-key"},
	{"generic client_secret", `client_secret="` + fake("", alnum+"~.", 32) + `"`, "generic-api-key"},

	// Hidden keys: the bypasses.
	{"space after the prefix", "key sk-ant- " + anthropicKey[len("sk-ant-"):], "anthropic-api-key"},
	{"space inside the body", "key " + anthropicKey[:30] + " " + anthropicKey[30:] + " end", "anthropic-api-key"},
	{"two spaces in three places", "x " + slackBot[:8] + "  " + slackBot[8:20] + "\t" + slackBot[20:30] + "\n" + slackBot[30:], "slack-bot-token"},
	{"zero-width space", anthropicKey[:12] + "\u200b" + anthropicKey[12:], "anthropic-api-key"},
	{"zero-width joiner and BOM", gitlabPAT[:3] + "\u200d" + gitlabPAT[3:9] + "\ufeff" + gitlabPAT[9:], "gitlab-pat"},
	{"soft hyphen", googleKey[:4] + "\u00ad" + googleKey[4:], "gcp-api-key"},
	{"word joiner", stripeKey[:8] + "\u2060" + stripeKey[8:], "stripe-access-token"},
	{"control character", slackBot[:5] + "\x00" + slackBot[5:], "slack-bot-token"},
	{"invalid UTF-8", githubPAT[:4] + "\xff" + githubPAT[4:], "github-pat"},
	{"full-width", "ｓｋ－ａｎｔ－" + anthropicKey[len("sk-ant-"):], "anthropic-api-key"},
	{"no-break space", "sk-ant-\u00a0" + anthropicKey[len("sk-ant-"):], "anthropic-api-key"},
	{"aws secret with zero-width", awsSecret[:20] + "\u200b" + awsSecret[20:], "aws-secret-access-key"},
	{"glpat with a space", "glpat- " + gitlabPAT[len("glpat-"):], "gitlab-pat"},
	{"AIza with a space", "AIza " + googleKey[4:], "gcp-api-key"},
	{"sk_live_ with a space", "sk_live_ " + stripeKey[len("sk_live_"):], "stripe-access-token"},
}

// negatives must pass: sever records these as identifiers, digests and prose.
var negatives = []struct{ name, in string }{
	{"empty", ""},
	{"sha256 of an artifact", sha},
	{"sha256 in prose", "evidence sha256 " + sha + " stored"},
	{"args_sha256", "args_sha256=" + sha},
	{"sha1 commit", sha256Hex("x")[:40]},
	{"base64 sha256", "digest n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
	{"uuid", "9a8b7c6d-5e4f-3a2b-1c0d-ef9876543210"},
	{"aws access key id", "AKIAIOSFODNN7EXAMPLE"},
	{"aws temporary key id", "ASIAY34FZKBOKMUTVV7A"},
	{"aws key id in prose", "access key AKIAIOSFODNN7EXAMPLE for user ci-deployer was exposed"},
	{"aws key id assigned", "access_key_id: AKIAIOSFODNN7EXAMPLE"},
	{"token assigned an aws key id", "token: AKIAIOSFODNN7EXAMPLE"},
	{"arn", "arn:aws:iam::123456789012:user/ci-deployer"},
	{"s3 uri", "s3://sever-evidence/incidents/inc-acme-3ca65e263a0b970153cf/collect-1a2b3c4d5e6f.json"},
	{"redacted anthropic", "redacted sk-ant-...abcd stays"},
	{"redacted openai", "key sk-...Xy9Z rotated"},
	{"anthropic key id", "apikey_01Rj2N8SVvo6BePZj99NhEXA"},
	{"token assigned a key id", "token: apikey_01Rj2N8SVvo6BePZj99NhEXA"},
	{"credential ids", "svc-ci-deploy-1 key_abc123EXAMPLE tok-1 drill-inc-aws-89f2f95392b8fd3d55a4"},
	{"summary", "CI deploy token pushed to a public repository"},
	{"task-", "task-force-for-the-quarterly-review-of-everything"},
	{"disk-", "disk-usage-was-high-on-the-build-runner-machines"},
	{"sk- in prose", "the sk- prefix is used by several providers for their secret keys"},
	{"joined prose stays prose", "sk- Prefix used by 2 providers and 3 gateways today"},
	{"key words", "they keyed the monkey; survey results: 12 keys rotated"},
	{"secret without value", "secret scanning alert #42 for repo acme/infra: token revoked"},
	{"password word", "password: hunter2"},
	{"low-entropy token", "token: aaaaaaaaaaaaaaaaaaaa1"},
	{"token placeholder", "token: EXAMPLE1234567890abcdef"},
	{"long path", "repo/path/to/some/file/in/the/repository/README.md"},
	{"40 lower and digits", "abcdefghij0123456789abcdefghij0123456789"},
	{"40 letters", "ThisIsAVeryLongIdentifierWithoutAnyDigit"},
	{"41 chars", fake("", alnum, 41)},
	{"40 chars then =", awsSecret + "="},
	{"slack ids", "channel C0APPROVALS user U0123ABCD team T0ACME"},
	{"unicode prose", "Schlüssel wurde widerrufen — ключ отозван — 鍵は無効化されました"},
	{"json", `{"incident":"inc-1","sha256":"` + sha + `"}`},
	{"url", "https://github.com/acme/infra/security/secret-scanning/42"},
}

func TestFind(t *testing.T) {
	for _, tc := range positives {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := Find(tc.in)
			if !ok {
				t.Fatalf("Find(%q) found nothing, want rule %s", tc.in, tc.rule)
			}
			if m.Rule != tc.rule {
				t.Errorf("Find(%q) = rule %s, want %s", tc.in, m.Rule, tc.rule)
			}
			if m.Description == "" || !strings.Contains(m.String(), m.Rule) {
				t.Errorf("match %+v does not describe itself", m)
			}
		})
	}
	for _, tc := range negatives {
		t.Run("not/"+tc.name, func(t *testing.T) {
			if m, ok := Find(tc.in); ok {
				t.Errorf("Find(%q) = %s, want nothing", tc.in, m)
			}
		})
	}
}

// TestEveryRuleTested keeps the positive table in step with rules.yaml.
func TestEveryRuleTested(t *testing.T) {
	for _, r := range rules {
		if !slices.ContainsFunc(positives, func(p struct{ name, in, rule string }) bool { return p.rule == r.id }) {
			t.Errorf("rule %s has no positive example", r.id)
		}
	}
}

func TestRulesCompile(t *testing.T) {
	rs, err := compileRules(rulesYAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < 20 {
		t.Fatalf("%d rules; the rule set has lost rules", len(rs))
	}
	for _, bad := range []string{
		"source: {commit: x, license: MIT}\nrules: [{id: a, description: d, regex: '(', keywords: [a]}]",
		"source: {commit: x, license: MIT}\nrules: [{id: a, description: d, regex: 'a', keywords: [A]}]",
		"source: {commit: x, license: MIT}\nrules: [{id: a, description: d, regex: 'a', keywords: [a], colour: red}]",
		"source: {commit: x, license: MIT}\nrules: [{id: a, description: d, regex: 'a', join: true}]",
		"source: {commit: x, license: MIT}\nrules: [{id: a, description: d, regex: 'a', keywords: [a], require: [vowel]}]",
		"source: {commit: x, license: MIT}\nrules: [{id: a, description: d, regex: 'a', keywords: [a]}, {id: a, description: d, regex: 'b', keywords: [b]}]",
		"rules: [{id: a, description: d, regex: 'a', keywords: [a]}]",
	} {
		if _, err := compileRules([]byte(bad)); err == nil {
			t.Errorf("compileRules accepted %q", bad)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"key " + anthropicKey + " end", "key [redacted] end"},
		{"aws " + awsSecret + " x", "aws [redacted] x"},
		{"sha " + sha, "sha " + sha},
		{"id AKIAIOSFODNN7EXAMPLE stays", "id AKIAIOSFODNN7EXAMPLE stays"},
		{"redacted sk-ant-...abcd stays", "redacted sk-ant-...abcd stays"},
		{githubPAT + " token", "[redacted] token"},
		{"two: " + slackBot + ", " + googleKey + ".", "two: [redacted], [redacted]."},
		{"split sk-ant- " + anthropicKey[7:] + " end", "split [redacted] end"},
		{"zw " + anthropicKey[:12] + "\u200b" + anthropicKey[12:] + " end", "zw [redacted] end"},
		{"ｓｋ－ａｎｔ－" + anthropicKey[7:] + "!", "[redacted]!"},
		{"pem -----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY----- after", "pem [redacted] after"},
		{"Grüße " + stripeKey, "Grüße [redacted]"},
		{"sts " + stsToken + " end", "sts [redacted] end"},
		{"url?X-Amz-Security-Token=" + stsToken + "&x=1", "url?X-Amz-Security-[redacted]&x=1"}, // generic-api-key takes the name too
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Redact(tc.want); got != tc.want {
			t.Errorf("Redact is not idempotent on %q: %q", tc.want, got)
		}
	}
}

func TestRedactJSON(t *testing.T) {
	clean := []byte(`{"b": 1.50, "a": "` + sha + `"}` + "\n")
	if got := RedactJSON(clean); string(got) != string(clean) {
		t.Errorf("RedactJSON changed clean JSON: %s", got)
	}
	dirty := []byte(`{"signals":[{"summary":"leaked ` + slackBot + `","n":12345678901234567890}],"` + googleKey + `":true}` + "\n")
	got := string(RedactJSON(dirty))
	for _, bad := range []string{slackBot, googleKey} {
		if strings.Contains(got, bad) {
			t.Errorf("RedactJSON kept a secret: %s", got)
		}
	}
	for _, want := range []string{`"leaked [redacted]"`, "12345678901234567890", `"[redacted]": true`} {
		if !strings.Contains(got, want) {
			t.Errorf("RedactJSON = %s, want it to contain %s", got, want)
		}
	}
	if got := string(RedactJSON([]byte("not json " + githubPAT))); got != "not json [redacted]" {
		t.Errorf("RedactJSON(non-JSON) = %q", got)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a\u200bb\u200cc\u200dd\u2060e\ufeff\u00adf", "abcdef"},
		{"ｓｋ－ａｎｔ", "sk-ant"},
		{"a \t\n b\u00a0\u3000c", "a b c"},
		{"x\x00y\x7fz", "xyz"},
		{"bad\xffbyte", "badbyte"},
		{"e\u200d\u0301", "\u00e9"}, // stripping the joiner lets NFKC compose
		{"ﬁle", "file"},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLenBounds(t *testing.T) {
	for _, r := range rules {
		if r.minLen < 1 {
			t.Errorf("rule %s can match the empty string", r.id)
		}
	}
	i := slices.IndexFunc(rules, func(r rule) bool { return r.id == "aws-secret-access-key" })
	if r := rules[i]; r.minLen != 40 || r.maxRun != 40 {
		t.Errorf("aws-secret-access-key bounds = %d..%d, want 40..40", r.minLen, r.maxRun)
	}
}

// FuzzNormalize: Normalize never panics, is idempotent, leaves nothing invisible
// and no double spaces, and is never longer than NFKC needs.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "plain", "a\u200bb", "ｓｋ－ａｎｔ", "e\u200d\u0301", "\xff\xfe", "a  \t b", "\ufdfa", "\u0344\u200b\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if again := Normalize(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, again)
		}
		if !utf8.ValidString(n) || hasInvisible([]byte(n)) || strings.Contains(n, "  ") {
			t.Fatalf("Normalize(%q) = %q keeps invisible characters or double spaces", s, n)
		}
		if limit := len(nfkcString(strings.ToValidUTF8(s, ""))); len(n) > limit {
			t.Fatalf("Normalize(%q) = %d bytes, NFKC alone gives %d", s, len(n), limit)
		}
		if isASCII(s) {
			if u, _ := normalizeUnicode(s, false); u != n {
				t.Fatalf("ASCII path %q and general path %q differ on %q", n, u, s)
			}
		}
		tn, sp := normalize(s, true)
		if tn != n || len(sp) != len(n) {
			t.Fatalf("tracked normalize differs: %q (%d spans) vs %q", tn, len(sp), n)
		}
		for _, x := range sp {
			if x.lo < 0 || x.lo >= x.hi || int(x.hi) > len(s) {
				t.Fatalf("span %v out of range for %d bytes", x, len(s))
			}
		}
	})
}

// FuzzFind: a known key with invisible characters inserted anywhere, inside any
// surrounding text, is always found, and Redact removes it.
func FuzzFind(f *testing.F) {
	f.Add("leaked: ", " end", uint8(3), uint8(0))
	f.Add("", "", uint8(0), uint8(2))
	f.Add("x", "y", uint8(200), uint8(7))
	keys := []string{anthropicKey, slackBot, gitlabPAT, googleKey, stripeKey, githubPAT, awsSecret}
	invisibles := []string{"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\x00", "\u034f", "\ufe0f", "\u180e"}
	f.Fuzz(func(t *testing.T, before, after string, seed, which uint8) {
		key := keys[int(which)%len(keys)]
		// Text that ends or starts in a key character would extend the key into
		// another token; keep the surroundings separate as any real text would.
		before, after = before+" ", " "+after
		var b strings.Builder
		x := uint32(seed) + 1
		for i := range len(key) {
			b.WriteByte(key[i])
			x = x*1103515245 + 12345
			if x>>28 < 3 {
				b.WriteString(invisibles[(x>>16)%uint32(len(invisibles))])
			}
		}
		in := before + b.String() + after
		if _, ok := Find(in); !ok {
			t.Fatalf("Find missed the key in %q", in)
		}
		if red := Redact(in); strings.Contains(Normalize(red), key) {
			t.Fatalf("Redact(%q) = %q keeps the key", in, red)
		}
	})
}

// summary5K is a long, secret-free summary of the kind intake sees, with words
// that trip the keyword prefilter.
var summary5K = func() string {
	var b strings.Builder
	for b.Len() < 5000 {
		b.WriteString("GitHub secret scanning alert: a token for key AKIAIOSFODNN7EXAMPLE (user ci-deployer, " +
			"arn:aws:iam::123456789012:user/ci-deployer) was pushed to acme/infra in commit " + sha[:40] +
			"; evidence sha256 " + sha + ". They say the task-runner's disk-cache keyed it. ")
	}
	return b.String()
}()

func BenchmarkFind(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"clean-5KB", summary5K},
		{"short", "CI deploy token pushed to a public repository"},
		{"secret-at-end-5KB", summary5K + " " + slackBot},
		{"unicode-5KB", strings.ReplaceAll(summary5K, "a", "ä")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				Find(bc.in)
			}
		})
	}
}

func nfkcString(s string) string { return string(norm.NFKC.Bytes([]byte(s))) }

// A path goes into a log line only after the secret detector: a segment that holds
// secret material is replaced by a marker, a secret across segments is redacted
// too, and a path without one is logged as it is.
func TestRedactPath(t *testing.T) {
	t.Parallel()
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	glpat := fake("gl"+"pat-", alnum, 20)
	google := fake("AI"+"za", alnum+"_-", 35)
	// Each segment alone is harmless; together they are a Slack webhook URL.
	webhook := "hooks.slack.com/services/" + fake("T", alnum, 8) + "/" + fake("B", alnum, 8) + "/" + fake("", alnum, 24)
	tests := []struct {
		name, path, want, secret string
	}{
		{name: "no secret", path: "/v1/incidents/inc-aws-73201f21f976b005b18f/report", want: "/v1/incidents/inc-aws-73201f21f976b005b18f/report"},
		{name: "token value as the id", path: "/v1/tokens/" + glpat + "/vendor-status", want: "/v1/tokens/[redacted]/vendor-status", secret: glpat[6:]},
		{name: "key in the last segment", path: "/v1/incidents/" + google, want: "/v1/incidents/[redacted]", secret: google[4:]},
		{name: "secret across segments", path: "/v1/tokens/" + webhook + "/vendor-status", secret: webhook[len("hooks.slack.com/services/"):]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := RedactPath(tt.path)
			if tt.want != "" && got != tt.want {
				t.Errorf("RedactPath = %q, want %q", got, tt.want)
			}
			if tt.secret != "" && strings.Contains(got, tt.secret) {
				t.Errorf("RedactPath = %q still holds the secret", got)
			}
			if m, found := Find(got); found {
				t.Errorf("RedactPath = %q still looks like %s", got, m)
			}
		})
	}
}
