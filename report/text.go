package report

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sever-ir/sever/internal/secretscan"
)

// Bounds on text taken from the incident: identifiers and free text. A report is read
// by people; a 100 KiB error message helps nobody and hides the table around it.
const (
	maxIDRunes   = 256
	maxTextRunes = 1024
)

// Redacted replaces anything shaped like a live secret.
const Redacted = secretscan.Redacted

// redact removes secret material with the one detector intake and the ledger use.
// Intake refuses secrets, so finding one here means it came in some other way (a
// vendor's error text, an older incident); the report still must not repeat it.
func redact(s string) string { return secretscan.Redact(s) }

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
