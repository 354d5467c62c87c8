package report

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds on text taken from the incident: identifiers and free text. A report is read
// by people; a 100 KiB error message helps nobody and hides the table around it.
const (
	maxIDRunes   = 256
	maxTextRunes = 1024
)

// Redacted replaces anything shaped like a live secret.
const Redacted = "[redacted]"

// secretShapes are the shapes of live secrets (as the intake and ledger checks know
// them). Intake refuses them, so finding one here means it came in some other way;
// the report still must not repeat it. Each needs enough characters after its prefix
// that an already redacted key ("sk-ant-...abcd") is left alone.
var secretShapes = []*regexp.Regexp{
	regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`),
	regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{20,}`),
	regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})`),
	regexp.MustCompile(`\b(?:xox[abpors]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})`),
	regexp.MustCompile(`\b(?:ABSK[A-Za-z0-9+/]{40,}|bedrock-api-key-[A-Za-z0-9+/=]{20,})`),
	regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[^-]*(?:-----END [A-Z0-9 ]*PRIVATE KEY-----)?`),
}

// awsSecretRun finds 40-character base64 runs; redactAWSSecrets keeps those that mix
// upper case, lower case and digits, the shape of an AWS secret access key, and
// leaves hex digests and words alone.
var awsSecretRun = regexp.MustCompile(`[A-Za-z0-9+/]{40,}`)

func redact(s string) string {
	for _, re := range secretShapes {
		s = re.ReplaceAllString(s, Redacted)
	}
	return awsSecretRun.ReplaceAllStringFunc(s, func(run string) string {
		if len(run) != 40 {
			return run
		}
		var up, lo, dig bool
		slashes := 0
		for _, c := range run {
			switch {
			case c >= 'A' && c <= 'Z':
				up = true
			case c >= 'a' && c <= 'z':
				lo = true
			case c >= '0' && c <= '9':
				dig = true
			case c == '/':
				slashes++
			}
		}
		if up && lo && dig && slashes <= 3 {
			return Redacted
		}
		return run
	})
}

// clean prepares an identifier from the incident for a report: no secrets, no
// control characters, bounded.
func clean(s string) string { return bound(redact(s), maxIDRunes) }

// cleanText is clean for free text.
func cleanText(s string) string { return bound(redact(s), maxTextRunes) }

func bound(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// hashOnly keeps a value only if it is a SHA-256 in hex, so nothing else travels in a
// hash column.
func hashOnly(h string) string {
	if hex64.MatchString(h) {
		return h
	}
	return ""
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// seconds prints a duration the way the report's sentences use it: "40.0 s", and
// "205.0 s (3m25s)" once it is long enough that minutes help.
func seconds(f float64) string {
	s := fmt.Sprintf("%.1f s", f)
	if math.Abs(f) >= 60 {
		s += " (" + time.Duration(math.Round(math.Abs(f))*float64(time.Second)).String() + ")"
	}
	return s
}

// stamp prints a time in UTC with milliseconds: containment is measured in seconds.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return "–"
	}
	return stamp(*t)
}

// offsetText prints T+ offsets: "T+2.5 s".
func offsetText(f float64) string { return "T+" + seconds(f) }
