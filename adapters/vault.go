package adapters

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// SourceVaultAudit is the source of signals from HashiCorp Vault audit entries
// that a SIEM flagged (an unknown source address, a path the token never reads).
const SourceVaultAudit = "vault-audit"

// vaultAuditEntry is the part of a Vault audit device entry (the JSON the file,
// socket and syslog devices write, one object per request or response) sever
// reads. The token itself (auth.client_token) and request or response data are
// never read.
type vaultAuditEntry struct {
	Time string `json:"time"`
	Type string `json:"type"`
	Auth *struct {
		Accessor    string   `json:"accessor"`
		DisplayName string   `json:"display_name"`
		EntityID    string   `json:"entity_id"`
		Policies    []string `json:"policies"`
		TokenType   string   `json:"token_type"`
	} `json:"auth"`
	Request *struct {
		ID            string `json:"id"`
		Operation     string `json:"operation"`
		Path          string `json:"path"`
		RemoteAddress string `json:"remote_address"`
		Namespace     *struct {
			Path string `json:"path"`
		} `json:"namespace"`
	} `json:"request"`
	Error string `json:"error"`
}

// vaultAccessor is the shape of a token accessor: 24 base62 characters (and
// ".<namespace id>" in a namespace), or a UUID from older versions.
var vaultAccessor = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}(\.[A-Za-z0-9]{1,32})?$`)

// vaultTokenPrefixes are the prefixes of Vault token values, current and legacy.
var vaultTokenPrefixes = []string{"hvs.", "hvb.", "hvr.", "s.", "b.", "r."}

// ParseVaultAudit reads one Vault audit device entry that a SIEM flagged and
// yields an anomalous_usage signal about the vault_token it names by accessor.
// The accessor must be in the clear: audit devices HMAC it unless the device is
// enabled with hmac_accessor=false, and sever cannot revoke a token by its HMAC.
// The entry's client_token and data are never read; an accessor field that holds
// a token is refused without being quoted.
//
// Ignored: entries without a token (unauthenticated requests), with an HMAC'd
// accessor, and of batch tokens (they have no accessor and cannot be revoked
// before they expire). The source event ID is the request id at the entry's time
// and type, so the request and the response of one call are one signal each.
func ParseVaultAudit(body []byte) (Result, error) {
	var e vaultAuditEntry
	if err := decodeJSON(body, &e); err != nil {
		return Result{}, err
	}
	if e.Type != "request" && e.Type != "response" {
		return Result{}, invalid("type", "type %q is not request or response (a Vault audit entry)", clip(e.Type, 32))
	}
	if e.Request == nil {
		return Result{}, invalid("request", "request is required (a Vault audit entry)")
	}
	if err := checkID("request.id", e.Request.ID); err != nil {
		return Result{}, err
	}
	if err := required("time", e.Time); err != nil {
		return Result{}, err
	}
	observed, err := parseTime("time", e.Time, time.RFC3339Nano)
	if err != nil {
		return Result{}, err
	}
	event := "vault audit " + e.Type
	switch {
	case e.Auth == nil || e.Auth.Accessor == "":
		if e.Auth != nil && e.Auth.TokenType == "batch" {
			return ignored(event, "Vault audit entry %s was made with a batch token, which has no accessor and cannot be revoked; no incident", e.Request.ID), nil
		}
		return ignored(event, "Vault audit entry %s names no token accessor (an unauthenticated request); no incident", e.Request.ID), nil
	case strings.HasPrefix(e.Auth.Accessor, "hmac-sha256:"):
		return ignored(event, "Vault audit entry %s holds the accessor as an HMAC; enable the audit device that feeds sever with hmac_accessor=false so the token can be named; no incident", e.Request.ID), nil
	case e.Auth.TokenType == "batch":
		return ignored(event, "Vault audit entry %s was made with a batch token, which cannot be revoked; no incident", e.Request.ID), nil
	}
	for _, p := range vaultTokenPrefixes {
		if strings.HasPrefix(e.Auth.Accessor, p) {
			return Result{}, invalid("auth.accessor", "auth.accessor has the shape of a Vault token, not of its accessor; the audit device or the relay is misconfigured")
		}
	}
	if !vaultAccessor.MatchString(e.Auth.Accessor) {
		return Result{}, invalid("auth.accessor", "auth.accessor is not a Vault token accessor")
	}
	principal := or(e.Auth.EntityID, e.Auth.DisplayName)
	if len(principal) > 256 {
		return Result{}, invalid("auth.entity_id", "auth.entity_id or auth.display_name is longer than 256 characters")
	}
	account := ""
	if ns := e.Request.Namespace; ns != nil && ns.Path != "" {
		if len(ns.Path) > 128 {
			return Result{}, invalid("request.namespace.path", "request.namespace.path is longer than 128 characters")
		}
		account = ns.Path
	}
	summary := fmt.Sprintf("Vault audit: %s %s with token %s (%s)", clip(or(e.Request.Operation, "request"), 16),
		clip(redactVaultPath(e.Request.Path), 256), e.Auth.Accessor, clip(or(e.Auth.DisplayName, "no display name"), 128))
	if ip := e.Request.RemoteAddress; ip != "" && len(ip) <= 64 {
		summary += " from " + ip
	}
	if e.Error != "" {
		summary += ": " + clip(e.Error, 256)
	}
	// Display names and errors are free text: a token pasted into one stays out.
	summary = redactVaultTokens(summary)
	sig := sever.Signal{
		Source: SourceVaultAudit, SourceEventID: e.Request.ID + "/" + e.Type, Origin: sever.OriginEnterprise,
		Kind: sever.KindAnomalousUsage, ObservedAt: observed, Severity: "high",
		Credential: sever.Credential{Provider: "vault", Type: sever.CredVaultToken, ID: e.Auth.Accessor,
			Principal: principal, Account: account},
		Summary: summary,
		Labels:  labels(SourceVaultAudit, e.Request.Operation),
	}
	return finish(Result{Event: event, Signals: []sever.Signal{sig}}, body, eventKey{version: observed})
}

// redactVaultPath drops the path segments that hold a token: older clients put
// the token in the path (auth/token/lookup/<token>, auth/token/revoke/<token>).
func redactVaultPath(p string) string {
	parts := strings.Split(p, "/")
	for i, seg := range parts {
		if isVaultToken(seg) {
			parts[i] = "(redacted)"
		}
	}
	return strings.Join(parts, "/")
}

// redactVaultTokens replaces every word of s (between spaces, slashes, quotes and
// brackets) that has the shape of a Vault token.
func redactVaultTokens(s string) string {
	var b strings.Builder
	word := 0 // start of the current word in s
	flush := func(end int) {
		if w := s[word:end]; isVaultToken(w) {
			b.WriteString("(redacted)")
		} else {
			b.WriteString(w)
		}
	}
	for i, r := range s {
		if strings.ContainsRune(" /\"'()[]{},;:\t\n", r) {
			flush(i)
			b.WriteRune(r)
			word = i + 1 // every separator is one byte
		}
	}
	flush(len(s))
	return b.String()
}

func isVaultToken(w string) bool {
	for _, pre := range vaultTokenPrefixes {
		if strings.HasPrefix(w, pre) && len(w) > len(pre) {
			return true
		}
	}
	return false
}
