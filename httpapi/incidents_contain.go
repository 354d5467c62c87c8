package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
	"github.com/sever-ir/sever/service"
)

// Channels an on-demand containment can come through; each is a label on its signal.
const (
	ContainChannelAPI   = "api"
	ContainChannelSlack = "slack"
	ContainChannelWeb   = "web"
)

// ContainSourcePrefix starts the source of every on-demand containment signal; the
// operator's name follows it, so the incident says who asked.
const ContainSourcePrefix = "operator:"

// ContainLabel marks the signal of an on-demand containment.
const ContainLabel = "contain-on-demand"

// maxRunbookNameLength bounds a requested runbook name; real names are short.
const maxRunbookNameLength = 128

// ContainRequest asks to contain one credential now: an operator who knows it is
// stolen opens (or joins) its incident without writing a signal.
type ContainRequest struct {
	Credential sever.Credential
	// Runbook, when set, pins the new incident to this runbook instead of the one
	// the library would choose; it must match the credential's type.
	Runbook string
	// Reason says why; it becomes the signal's summary.
	Reason string
	// Operator names who asked (a token or operator name). Reporter is that person's
	// approval identity, recorded so they cannot approve their own request. Both come
	// from authentication, never from a request body.
	Operator string
	Reporter string
	// Channel is one of the ContainChannel values.
	Channel string
	// IdempotencyKey, when set, makes a retry of the same request one signal: it is
	// the signal's source event ID. Scope it to the operator (ScopedIdempotencyKey).
	IdempotencyKey string
	// RespondAsync asks not to wait for the incident's answer, for front ends with a
	// deadline of their own such as Slack's three seconds: the answer is "queued"
	// once the signal is durable (service.SubmitRequest.RespondAsync). It never comes
	// from a request body; the API takes it from "Prefer: respond-async".
	RespondAsync bool
}

// containWire is the body of POST /v1/incidents.
type containWire struct {
	Credential credentialWire `json:"credential"`
	Runbook    string         `json:"runbook"`
	Reason     string         `json:"reason"`
}

var containSchema = schemaOf(reflect.TypeFor[containWire]())

// DecodeContain parses the body of POST /v1/incidents with the rules of POST
// /v1/signals (strict JSON, no secret material anywhere) and checks the request as
// CheckContain does. Every error is a *sever.Error naming the field.
func DecodeContain(body []byte) (ContainRequest, error) {
	var w containWire
	if err := decodeStrict(body, containSchema, nil, &w); err != nil {
		return ContainRequest{}, err
	}
	r := ContainRequest{
		Credential: sever.Credential{Provider: w.Credential.Provider, Type: w.Credential.Type, ID: w.Credential.ID,
			Principal: w.Credential.Principal, Account: w.Credential.Account},
		Runbook: w.Runbook, Reason: w.Reason,
	}
	return r, CheckContain(&r)
}

// defaultProviders is the provider of credential types that have only one, so an
// operator can leave it out.
var defaultProviders = map[sever.CredentialType]string{
	sever.CredAWSAccessKey: "aws", sever.CredAWSTemporaryCredentials: "aws", sever.CredAWSBedrockAPIKey: "aws",
	sever.CredAnthropicAPIKey: "anthropic", sever.CredOpenAIAPIKey: "openai", sever.CredGitHubToken: "github",
	sever.CredGCPServiceAccountKey: "gcp", sever.CredGoogleAPIKey: "gcp",
	sever.CredAzureAppSecret: "azure", sever.CredAzureOpenAIKey: "azure", sever.CredVaultToken: "vault",
}

// CheckContain checks and normalizes a containment request from any front end
// (API, CLI, Slack, web form): trimmed fields, a known credential type (400
// otherwise, unlike a signal's 422: the operator typed it), the provider filled in
// where the type has only one, a reason of at most 1024 characters, and no secret
// material in any field. Errors are *sever.Error naming the field; they never echo a
// value that looks like a secret.
func CheckContain(r *ContainRequest) error {
	c := &r.Credential
	c.Provider, c.ID = strings.TrimSpace(c.Provider), strings.TrimSpace(c.ID)
	c.Principal, c.Account = strings.TrimSpace(c.Principal), strings.TrimSpace(c.Account)
	c.Type = sever.CredentialType(strings.TrimSpace(string(c.Type)))
	r.Runbook, r.Reason = strings.TrimSpace(r.Runbook), strings.TrimSpace(r.Reason)
	// Secrets first: an operator must learn that sever refuses the secret, not that
	// some other field needs fixing before they paste it again.
	for _, f := range []struct{ name, v string }{
		{"credential.id", c.ID}, {"credential.provider", c.Provider}, {"credential.principal", c.Principal},
		{"credential.account", c.Account}, {"runbook", r.Runbook}, {"reason", r.Reason},
	} {
		if m, ok := secretscan.Find(f.v); ok {
			return secretValueError(f.name, m.String())
		}
	}
	if err := checkCredentialID(*c); err != nil {
		return err
	}
	switch {
	case c.Type == "":
		return sever.Errorf(sever.EINVALID, "credential.type", "credential.type is required (one of %s)", credentialTypeList())
	case !c.Type.Valid():
		return sever.Errorf(sever.EINVALID, "credential.type", "unknown credential type %q (one of %s)", shorten(string(c.Type)), credentialTypeList())
	case c.ID == "":
		return sever.Errorf(sever.EINVALID, "credential.id", "credential.id is required")
	case r.Reason == "":
		return sever.Errorf(sever.EINVALID, "reason", "reason is required: say why the credential must be contained")
	case utf8.RuneCountInString(r.Reason) > maxReasonLength:
		return sever.Errorf(sever.EINVALID, "reason", "reason is longer than %d characters", maxReasonLength)
	case len(r.Runbook) > maxRunbookNameLength:
		return sever.Errorf(sever.EINVALID, "runbook", "runbook is longer than %d characters", maxRunbookNameLength)
	case strings.ContainsFunc(r.Runbook, func(c rune) bool { return c < ' ' || c == 0x7f }):
		return sever.Errorf(sever.EINVALID, "runbook", "runbook has control characters")
	}
	if c.Provider == "" {
		p, ok := defaultProviders[c.Type]
		if !ok {
			return sever.Errorf(sever.EINVALID, "credential.provider", "credential.provider is required for a %s", c.Type)
		}
		c.Provider = p
	}
	return nil
}

func credentialTypeList() string {
	s := make([]string, len(sever.CredentialTypes))
	for i, t := range sever.CredentialTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// containSignal is the enterprise signal an on-demand containment submits: its
// source is the operator, its reporter their approval identity.
func containSignal(r ContainRequest, now time.Time) (sever.Signal, error) {
	source := ContainSourcePrefix + r.Operator
	if len(source) > 128 {
		source = source[:128]
		for !utf8.ValidString(source) {
			source = source[:len(source)-1]
		}
	}
	channel := r.Channel
	if channel == "" {
		channel = ContainChannelAPI
	}
	sig := sever.Signal{
		Source: source, SourceEventID: r.IdempotencyKey, Origin: sever.OriginEnterprise,
		Kind: sever.KindCredentialExposed, ObservedAt: now, ReceivedAt: now, Credential: r.Credential,
		Severity: "high", Summary: fmt.Sprintf("contain on demand by %s via %s: %s", r.Operator, channel, r.Reason),
		Reporter: r.Reporter, Labels: []string{ContainLabel, "channel:" + channel}, Receipt: newReceipt(),
	}
	if r.Runbook != "" {
		sig.Labels = append(sig.Labels, "runbook:"+shorten(r.Runbook))
	}
	if err := sig.Validate(); err != nil {
		return sever.Signal{}, err
	}
	if err := checkLabels(sig.Labels); err != nil {
		return sever.Signal{}, err
	}
	sig.ID = sever.SignalID(sig.Source, sig.SourceEventID, sig.Receipt)
	sig.PayloadSHA256 = sever.SHA256Hex([]byte(sig.Summary))
	return sig, nil
}

// containIncident serves POST /v1/incidents: contain the credential in the body now.
func (s *Server) containIncident(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.containIncident"
	body, err := s.readJSON(w, r)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	req, err := DecodeContain(body)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if len(k) > 128 {
			s.fail(w, r, op, sever.Errorf(sever.EINVALID, "Idempotency-Key", "Idempotency-Key is longer than 128 characters"))
			return
		}
		req.IdempotencyKey = scopedIdempotencyKey(r.Context(), k)
	}
	req.Operator, req.Reporter, req.Channel = Principal(r.Context()), Approver(r.Context()), ContainChannelAPI
	res, err := s.contain(r.Context(), req)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

// Contain contains a credential for an operator who came through another front end
// than the API (a Slack slash command, the web UI's form): the same checks
// (CheckContain), the same admission control with r.Operator as the token, and the
// same answer as POST /v1/incidents. The caller has authenticated the operator.
func (s *Server) Contain(ctx context.Context, r ContainRequest) (service.SubmitResult, error) {
	if strings.TrimSpace(r.Operator) == "" || strings.TrimSpace(r.Reporter) == "" {
		return service.SubmitResult{}, sever.Errorf(EFORBIDDEN, "", "a containment needs an authenticated operator")
	}
	if err := CheckContain(&r); err != nil {
		return service.SubmitResult{}, err
	}
	// Admission control keys on the token in the context; the operator stands in for it.
	ctx = context.WithValue(ctx, principalKey{}, &tokenEntry{name: r.Operator, approver: r.Reporter,
		scopes: []string{ScopeIncidentsWrite}})
	return s.contain(ctx, r)
}

func (s *Server) contain(ctx context.Context, r ContainRequest) (service.SubmitResult, error) {
	sig, err := containSignal(r, s.now().UTC())
	if err != nil {
		return service.SubmitResult{}, err
	}
	runbook := r.Runbook
	res, err := s.submitWith(ctx, sig, r.RespondAsync, func(ctx context.Context, sr service.SubmitRequest) (service.SubmitResult, error) {
		return s.svc.Contain(ctx, sr, runbook)
	})
	if err != nil {
		return service.SubmitResult{}, err
	}
	s.signalAccepted(sig)
	s.log.InfoContext(ctx, "containment requested", "signal_id", sig.ID, "incident_id", res.IncidentID,
		"operator", r.Operator, "channel", r.Channel, "runbook", runbook, "status", res.Status)
	return res, nil
}

// Identity returns the approval identity of the named token (its Approver, else its
// name), when that token carries scope: the reporter a front end records for an
// operator it authenticated with the token.
func (s *TokenSet) Identity(name, scope string) (approver string, ok bool) {
	for i := range s.tokens {
		if t := &s.tokens[i]; t.name == name && t.allows(scope) {
			return t.approver, true
		}
	}
	return "", false
}
