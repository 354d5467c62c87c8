// Package decisionsig signs approval decisions so that only the engine, which
// authenticated the person deciding, can hand one to an incident.
//
// The engine signs each workflows.DecisionInput with a key the workers also hold;
// a worker interceptor (package worker) checks the signature before the workflow's
// validator sees the decision. A client that reaches the Temporal frontend directly
// but does not hold the key cannot forge an approval, because the signature covers
// every field that makes the decision: the incident, the step, approve or deny, the
// approver, the channel, the arguments' hash and the request's nonce.
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
	m := hmac.New(sha256.New, k.k)
	m.Write(Canonical(incidentID, d))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks d.Signature against the decision for incidentID in constant time.
func (k *Key) Verify(incidentID string, d workflows.DecisionInput) error {
	return k.verify(d.Signature, Canonical(incidentID, d))
}

// SignClose returns the signature of a close of incidentID, hex-encoded. A
// false-positive close decides gated compensations as c.Approver, so a close is
// signed like a decision.
func (k *Key) SignClose(incidentID string, c workflows.CloseInput) string {
	m := hmac.New(sha256.New, k.k)
	m.Write(CanonicalClose(incidentID, c))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyClose checks c.Signature against the close of incidentID.
func (k *Key) VerifyClose(incidentID string, c workflows.CloseInput) error {
	return k.verify(c.Signature, CanonicalClose(incidentID, c))
}

func (k *Key) verify(sig string, msg []byte) error {
	if sig == "" {
		return ErrUnsigned
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, k.k)
	m.Write(msg)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
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

// CanonicalClose is the byte string a close's signature covers: the incident, the
// reason, who closed it, as which approver, and whether as a false positive.
func CanonicalClose(incidentID string, c workflows.CloseInput) []byte {
	fp := "close"
	if c.FalsePositive {
		fp = "false-positive"
	}
	return encode(canonicalCloseVersion, incidentID, c.Reason, c.By, c.Approver, fp)
}

const canonicalCloseVersion = "sever-close-v1"

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
