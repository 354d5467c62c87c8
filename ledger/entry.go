package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
)

// Kind says what fact an entry records. The values are wire vocabulary.
type Kind string

const (
	KindSignal           Kind = "signal"            // a signal was received and recorded in the incident
	KindDuplicateSignal  Kind = "duplicate_signal"  // a resent source event, recorded once
	KindPolicyDecision   Kind = "policy_decision"   // the runtime policy allowed, gated or refused a step
	KindApprovalDecision Kind = "approval_decision" // a verified person approved or denied, or nobody did in time
	KindStepOutcome      Kind = "step_outcome"      // a step ended: succeeded, failed, skipped or refused
	KindIncidentStatus   Kind = "incident_status"   // the incident changed status (open, contained, failed, closed)
	KindCompensation     Kind = "compensation"      // an action was undone or compensated
	KindStepRetry        Kind = "step_retry"        // a person asked for a failed step to run again
	// KindRefusedDecision is a security fact: a decision or request that sever refused
	// (outsider, self-approval, stale, forged, replayed), with who, what and why.
	KindRefusedDecision Kind = "refused_decision"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{
	KindSignal, KindDuplicateSignal, KindPolicyDecision, KindApprovalDecision,
	KindStepOutcome, KindIncidentStatus, KindCompensation, KindStepRetry, KindRefusedDecision,
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// enforcements are the classes an entry may carry ("" for none): the classes a step
// declares plus the outcomes of an approval.
var enforcements = []sever.Enforcement{
	sever.VendorNotified, sever.VendorEnforced, sever.EnterpriseEnforced,
	sever.HumanApproved, sever.HumanDenied, sever.ApprovalExpired,
}

// Entry is one fact in the ledger. It never holds secret material: Append refuses any
// value that looks like a live secret.
//
// The caller fills in the fact (Incident, Kind, Key and what applies of the rest);
// Append assigns Seq, Prev and Hash, and At when it is zero. Its JSON form has the keys
// of the canonical encoding (see the package comment) followed by hash.
type Entry struct {
	Incident string    `json:"incident"`
	Seq      int64     `json:"seq"` // 1-based within the incident
	At       time.Time `json:"at"`  // UTC
	Kind     Kind      `json:"kind"`
	// Actor is who did or said it: a vendor name, sever's service principal, or a
	// verified person.
	Actor       string            `json:"actor"`
	Enforcement sever.Enforcement `json:"enforcement"`
	PolicyRule  string            `json:"policy_rule"`
	Step        string            `json:"step"`
	Action      string            `json:"action"`
	ArgsSHA256  string            `json:"args_sha256"`
	Evidence    []sever.Artifact  `json:"evidence"`
	Result      string            `json:"result"` // short text; Append trims it to MaxResultRunes
	Detail      map[string]string `json:"detail"` // small; at most MaxDetailKeys keys
	// Key is the caller's stable id for this fact ("signal/<signal id>",
	// "step/<step id>/outcome"); a second Append with the same incident and key is a
	// no-op.
	Key  string `json:"key"`
	Prev string `json:"prev"` // hash of the previous entry of the incident, "" for seq 1
	Hash string `json:"hash"` // hex SHA-256 of the canonical encoding
}

// Limits Append enforces. Identifiers longer than MaxIDLen are refused; free text
// (result, detail values) is trimmed, ending in "…".
const (
	MaxIDLen            = 256  // bytes: incident, key, actor, policy_rule, step, action, artifact name
	MaxURILen           = 2048 // bytes: artifact uri
	MaxResultRunes      = 1024
	MaxDetailKeys       = 32
	MaxDetailKeyLen     = 64 // bytes
	MaxDetailValueRunes = 512
	MaxEvidence         = 64
	maxArtifactSize     = 1 << 53 // exact in every JSON reader
)

// canonicalArtifact fixes the keys and their order for an artifact.
type canonicalArtifact struct {
	Name   string `json:"name"`
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// canonicalEntry fixes the keys and their order for the canonical encoding. Do not
// reorder, rename or add fields: every stored hash depends on them.
type canonicalEntry struct {
	Incident    string              `json:"incident"`
	Seq         int64               `json:"seq"`
	At          string              `json:"at"`
	Kind        Kind                `json:"kind"`
	Actor       string              `json:"actor"`
	Enforcement sever.Enforcement   `json:"enforcement"`
	PolicyRule  string              `json:"policy_rule"`
	Step        string              `json:"step"`
	Action      string              `json:"action"`
	ArgsSHA256  string              `json:"args_sha256"`
	Evidence    []canonicalArtifact `json:"evidence"`
	Result      string              `json:"result"`
	Detail      map[string]string   `json:"detail"`
	Key         string              `json:"key"`
	Prev        string              `json:"prev"`
}

// wireEntry is the JSON form of an Entry: the canonical keys, then hash.
type wireEntry struct {
	canonicalEntry
	Hash string `json:"hash"`
}

func (e Entry) canonical() canonicalEntry {
	ev := make([]canonicalArtifact, len(e.Evidence))
	for i, a := range e.Evidence {
		ev[i] = canonicalArtifact{Name: a.Name, URI: a.URI, SHA256: a.SHA256, Size: a.Size}
	}
	d := e.Detail
	if d == nil {
		d = map[string]string{}
	}
	return canonicalEntry{
		Incident: e.Incident, Seq: e.Seq, At: formatTime(e.At), Kind: e.Kind, Actor: e.Actor,
		Enforcement: e.Enforcement, PolicyRule: e.PolicyRule, Step: e.Step, Action: e.Action,
		ArgsSHA256: e.ArgsSHA256, Evidence: ev, Result: e.Result, Detail: d, Key: e.Key, Prev: e.Prev,
	}
}

// Canonical returns the canonical encoding of e: every field but Hash, in the fixed
// order documented in the package comment.
func (e Entry) Canonical() []byte { return mustMarshal(e.canonical()) }

// ComputeHash returns the hex SHA-256 of e's canonical encoding.
func (e Entry) ComputeHash() string { return sever.SHA256Hex(e.Canonical()) }

// MarshalJSON writes the canonical keys followed by hash, with evidence and detail
// always present, so `jq -cj 'del(.hash)'` of the output is the canonical encoding.
func (e Entry) MarshalJSON() ([]byte, error) {
	return marshalJSON(wireEntry{canonicalEntry: e.canonical(), Hash: e.Hash})
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// marshalJSON encodes v compactly without HTML escaping and without a trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// mustMarshal encodes values made only of strings, integers, slices and string maps,
// which always encode.
func mustMarshal(v any) []byte {
	b, err := marshalJSON(v)
	if err != nil {
		panic(fmt.Sprintf("ledger: canonical encoding: %v", err))
	}
	return b
}

// decodeEntry parses a stored canonical body (or any JSON entry) strictly.
func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, err
	}
	if dec.More() {
		return Entry{}, fmt.Errorf("trailing data after the entry")
	}
	tidy(&e)
	return e, nil
}

// tidy gives empty collections one representation (nil) and times UTC.
func tidy(e *Entry) {
	if len(e.Evidence) == 0 {
		e.Evidence = nil
	}
	if len(e.Detail) == 0 {
		e.Detail = nil
	}
	e.At = e.At.UTC()
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// prepare checks the caller's part of an entry and normalizes free text. It never
// repeats a rejected value in its error: the message may end up in a log.
func prepare(e *Entry, now time.Time) error {
	secret := func(field, v string) error {
		if m, ok := secretscan.Find(v); ok {
			return secretError(field, m)
		}
		return nil
	}
	tidy(e)
	if e.At.IsZero() {
		if now.IsZero() {
			return invalid("at", "at is required")
		}
		e.At = now.UTC()
	}
	if y := e.At.Year(); y < 1 || y > 9999 {
		return invalid("at", "at must be between years 1 and 9999")
	}
	if strings.TrimSpace(e.Incident) == "" {
		return invalid("incident", "incident is required")
	}
	if e.Kind == "" {
		return invalid("kind", "kind is required (one of %s)", joinKinds())
	}
	if !e.Kind.Valid() {
		return invalid("kind", "unknown kind %s (one of %s)", quote(string(e.Kind)), joinKinds())
	}
	if strings.TrimSpace(e.Key) == "" {
		return invalid("key", "key is required: the caller's stable id for this fact, e.g. signal/<signal id>")
	}
	for _, f := range []struct{ name, v string }{
		{"incident", e.Incident}, {"key", e.Key}, {"actor", e.Actor},
		{"policy_rule", e.PolicyRule}, {"step", e.Step}, {"action", e.Action},
	} {
		if err := checkID(f.name, f.v, MaxIDLen); err != nil {
			return err
		}
		if err := secret(f.name, f.v); err != nil {
			return err
		}
	}
	if e.Enforcement != "" && !slices.Contains(enforcements, e.Enforcement) {
		return invalid("enforcement", "unknown enforcement %s (one of %s)", quote(string(e.Enforcement)), joinEnforcements())
	}
	if e.ArgsSHA256 != "" && !hex64.MatchString(e.ArgsSHA256) {
		return invalid("args_sha256", "args_sha256 must be 64 lowercase hex digits")
	}
	if len(e.Evidence) > MaxEvidence {
		return invalid("evidence", "more than %d evidence artifacts", MaxEvidence)
	}
	for i, a := range e.Evidence {
		p := fmt.Sprintf("evidence[%d]", i)
		if strings.TrimSpace(a.Name) == "" {
			return invalid(p+".name", "%s.name is required", p)
		}
		if err := checkID(p+".name", a.Name, MaxIDLen); err != nil {
			return err
		}
		if err := secret(p+".name", a.Name); err != nil {
			return err
		}
		if err := checkID(p+".uri", a.URI, MaxURILen); err != nil {
			return err
		}
		if err := secret(p+".uri", a.URI); err != nil {
			return err
		}
		if !hex64.MatchString(a.SHA256) {
			return invalid(p+".sha256", "%s.sha256 must be 64 lowercase hex digits", p)
		}
		if a.Size < 0 || a.Size > maxArtifactSize {
			return invalid(p+".size", "%s.size must be between 0 and 2^53", p)
		}
	}
	e.Result = cleanText(e.Result, MaxResultRunes)
	if err := secret("result", e.Result); err != nil {
		return err
	}
	if len(e.Detail) > MaxDetailKeys {
		return invalid("detail", "more than %d detail keys", MaxDetailKeys)
	}
	if e.Detail != nil {
		d := make(map[string]string, len(e.Detail))
		for k, v := range e.Detail {
			if k == "" {
				return invalid("detail", "detail keys must not be empty")
			}
			if secret("detail", k) != nil || !isClean(k) || len(k) > MaxDetailKeyLen {
				return invalid("detail", "detail keys must be at most %d bytes of printable text and hold no secret material", MaxDetailKeyLen)
			}
			v = cleanText(v, MaxDetailValueRunes)
			if err := secret("detail."+k, v); err != nil {
				return err
			}
			d[k] = v
		}
		e.Detail = d
	}
	return nil
}

// checkForm reports whether a stored entry is exactly what Append would have written.
func checkForm(e Entry) error {
	c := e
	if err := prepare(&c, time.Time{}); err != nil {
		return err
	}
	if c.Seq < 1 {
		return invalid("seq", "seq must be at least 1")
	}
	if (c.Seq == 1) != (c.Prev == "") || (c.Prev != "" && !hex64.MatchString(c.Prev)) {
		return invalid("prev", "prev must be empty for seq 1 and 64 hex digits after it")
	}
	if !bytes.Equal(c.Canonical(), e.Canonical()) {
		return invalid("", "free text is not in normal form")
	}
	return nil
}

// checkID accepts printable text up to max bytes; prepare screens it for secrets.
func checkID(field, v string, max int) error {
	switch {
	case len(v) > max:
		return invalid(field, "%s is longer than %d bytes", field, max)
	case !isClean(v):
		return invalid(field, "%s must be valid UTF-8 without control characters", field)
	}
	return nil
}

// isClean reports whether s needs no JSON escape beyond " and \ and reads the same in
// every JSON tool: valid UTF-8, no control characters, no U+2028/U+2029.
func isClean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// cleanText makes free text clean (see isClean): invalid UTF-8 becomes U+FFFD, control
// characters and line separators become spaces, and text longer than max runes is cut
// to max runes ending in "…". cleanText(cleanText(s)) == cleanText(s).
func cleanText(s string, max int) string {
	if isClean(s) && utf8.RuneCountInString(s) <= max {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > max {
		rs := []rune(s)
		s = string(rs[:max-1]) + "…"
	}
	return s
}

func invalid(field, format string, args ...any) *sever.Error {
	return sever.Errorf(sever.EINVALID, field, "ledger: "+format, args...)
}

// secretError names the field and the rule that found secret material in it,
// never the value.
func secretError(field string, m secretscan.Match) *sever.Error {
	return invalid(field, "%s looks like %s; the ledger never stores secret material: record the credential's identifier, never its secret value", field, m)
}

// quote shows a rejected value in an error, bounded, unless it looks like a secret.
func quote(s string) string {
	if _, ok := secretscan.Find(s); ok {
		return "(value withheld: it looks like secret material)"
	}
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}

func joinKinds() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func joinEnforcements() string {
	s := make([]string, len(enforcements))
	for i, k := range enforcements {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
