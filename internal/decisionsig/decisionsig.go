// Package decisionsig signs approval decisions, closes and retries so that only the
// engine, which authenticated the person asking, can hand one to an incident.
//
// The engine signs each workflows.DecisionInput with a key the workers also hold;
// a worker interceptor (package worker) checks the signature before the workflow's
// validator sees the decision. A client that reaches the Temporal frontend directly
// but does not hold the key cannot forge an approval, because the signature covers
// every field that makes the decision: the incident, the step, approve or deny, the
// approver, the channel, the arguments' hash and the request's nonce.
//
// Closes and retries are signed the same way, each with its own canonical form.
// Both are bound to one lifetime of the incident ID (its opening time), and a retry
// to the attempt that failed, because a signed update stays readable in the
// workflow's history: the workflow's validator refuses one made for another.
//
// The workflow never sees the key, and the signature is not a secret: it is kept
// in the update's input like the rest of the decision.
package decisionsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sever-ir/sever/workflows"
)

// MinKeyBytes is the shortest key New accepts: an HMAC-SHA256 key shorter than its
// output weakens it.
const MinKeyBytes = 32

// ErrUnsigned and ErrBadSignature are the stable refusals; the interceptor wraps them
// with the incident and step.
var (
	ErrUnsigned     = errors.New("decision is not signed by the engine")
	ErrBadSignature = errors.New("decision signature does not match")
	// ErrUnbound refuses a signed close or retry that names no incident lifetime
	// (or no attempt): the workflow could not tell it from one captured earlier.
	ErrUnbound = errors.New("request does not name the incident lifetime (and, for a retry, the attempt) it was made for")
)

// Key signs and checks decisions. The zero value is not usable; use New.
type Key struct {
	k []byte
}

// New returns a Key over secret, which must be at least MinKeyBytes long.
func New(secret []byte) (*Key, error) {
	if len(secret) < MinKeyBytes {
		return nil, fmt.Errorf("decision key: %d bytes, want at least %d", len(secret), MinKeyBytes)
	}
	return &Key{k: append([]byte(nil), secret...)}, nil
}

// Sign returns the signature of d for incidentID (the workflow ID), hex-encoded.
func (k *Key) Sign(incidentID string, d workflows.DecisionInput) string {
	return hex.EncodeToString(k.mac(Canonical(incidentID, d)))
}

// Verify checks d.Signature against the decision for incidentID in constant time.
func (k *Key) Verify(incidentID string, d workflows.DecisionInput) error {
	return k.verify(d.Signature, Canonical(incidentID, d))
}

// SignClose returns the signature of a close of incidentID, hex-encoded. A
// false-positive close decides gated compensations as c.Approver, so a close is
// signed like a decision.
func (k *Key) SignClose(incidentID string, c workflows.CloseInput) string {
	return hex.EncodeToString(k.mac(CanonicalClose(incidentID, c)))
}

// VerifyClose checks c.Signature against the close of incidentID, and that the
// close is bound to a lifetime of the incident for the workflow to compare.
func (k *Key) VerifyClose(incidentID string, c workflows.CloseInput) error {
	if err := k.verify(c.Signature, CanonicalClose(incidentID, c)); err != nil {
		return err
	}
	if c.OpenedAt.IsZero() {
		return ErrUnbound
	}
	return nil
}

// SignRetry returns the signature of a retry of a step of incidentID, hex-encoded.
// A retry runs a mutating step again and names who asked in the ledger.
func (k *Key) SignRetry(incidentID string, r workflows.RetryInput) string {
	return hex.EncodeToString(k.mac(CanonicalRetry(incidentID, r)))
}

// VerifyRetry checks r.Signature against the retry for incidentID, and that the
// retry is bound to a lifetime of the incident and an attempt of the step.
func (k *Key) VerifyRetry(incidentID string, r workflows.RetryInput) error {
	if err := k.verify(r.Signature, CanonicalRetry(incidentID, r)); err != nil {
		return err
	}
	if r.OpenedAt.IsZero() || r.Attempt < 1 {
		return ErrUnbound
	}
	return nil
}

func (k *Key) verify(sig string, msg []byte) error {
	if sig == "" {
		return ErrUnsigned
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrBadSignature
	}
	if !hmac.Equal(got, k.mac(msg)) {
		return ErrBadSignature
	}
	return nil
}

// mac is the HMAC-SHA256 of msg under the key: what every signature is.
func (k *Key) mac(msg []byte) []byte {
	m := hmac.New(sha256.New, k.k)
	m.Write(msg)
	return m.Sum(nil)
}

// canonicalVersion starts every signed message, so a future encoding cannot be
// confused with this one.
const canonicalVersion = "sever-decision-v1"

// Canonical is the byte string a signature covers: each field length-prefixed, so
// no two different decisions encode the same (an approver "a|b" cannot shift into
// the channel). Reason is not covered: it is the person's comment, not what they
// decided.
func Canonical(incidentID string, d workflows.DecisionInput) []byte {
	approve := "deny"
	if d.Approve {
		approve = "approve"
	}
	return encode(canonicalVersion, incidentID, d.StepID, approve, d.Approver, d.Channel, d.ArgsSHA256, d.Nonce)
}

// CanonicalClose is the byte string a close's signature covers: the incident and
// the lifetime it was made for, the reason, who closed it, as which approver, and
// whether as a false positive.
func CanonicalClose(incidentID string, c workflows.CloseInput) []byte {
	fp := "close"
	if c.FalsePositive {
		fp = "false-positive"
	}
	return encode(canonicalCloseVersion, incidentID, lifetime(c.OpenedAt), c.Reason, c.By, c.Approver, fp)
}

// canonicalCloseVersion is v2 since closes are bound to a lifetime: a v1 signature,
// which any closed run's history shows, verifies under no v2 form.
const canonicalCloseVersion = "sever-close-v2"

// CanonicalRetry is the byte string a retry's signature covers: the incident and
// the lifetime it was made for, the step and the attempt being retried, who asked
// and why (the ledger records the reason as what was asked).
func CanonicalRetry(incidentID string, r workflows.RetryInput) []byte {
	return encode(canonicalRetryVersion, incidentID, lifetime(r.OpenedAt), r.StepID, strconv.Itoa(r.Attempt), r.By, r.Reason)
}

const canonicalRetryVersion = "sever-retry-v1"

// lifetime names an incident's lifetime by its opening time in Unix nanoseconds,
// exact across JSON and time zones; "" when there is none.
func lifetime(openedAt time.Time) string {
	if openedAt.IsZero() {
		return ""
	}
	return strconv.FormatInt(openedAt.UnixNano(), 10)
}

func encode(fields ...string) []byte {
	var b []byte
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, '\n')
	}
	return b
}
