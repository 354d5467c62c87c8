package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// Every JSON reader must see the values the signature covers. encoding/json alone
// would take a key in any case and the last of duplicates, so a forged value placed
// where jq, Python or a browser read it, next to the signed one, would verify.
func TestVerifyBundleRefusesKeysOtherReadersReadDifferently(t *testing.T) {
	key := testKey(t)
	b := exported(t, key)
	pub := key.Public().(ed25519.PublicKey)
	if _, err := VerifyBundle(b, pub); err != nil {
		t.Fatalf("untouched bundle: %v", err)
	}
	tests := []struct {
		name, old, new string
		want           string // in the error: where and which key
	}{
		{"exact duplicate at the top", `"incident": "inc-a"`, `"incident": "inc-forged", "incident": "inc-a"`,
			`.: duplicate key "incident"`},
		{"case variant after a forged value", `"actor": "aws-health"`, `"actor": "human:ciso@example.com", "ACTOR": "aws-health"`,
			`.entries[0]: key "ACTOR" differs from "actor" only in case`},
		{"case variant alone", `"actor": "aws-health"`, `"Actor": "aws-health"`,
			`.entries[0]: key "Actor" differs from "actor" only in case`},
		{"Kelvin sign folding to k", `"kind": "signal"`, `"\u212aind": "signal"`,
			".entries[0]: key \"\u212aind\" differs from \"kind\" only in case"},
		{"exact duplicate in an entry", `"result": "recorded"`, `"result": "denied", "result": "recorded"`,
			`.entries[0]: duplicate key "result"`},
		{"exact duplicate in a detail map", `"source": "aws-health"`, `"source": "forged", "source": "aws-health"`,
			`.entries[0].detail: duplicate key "source"`},
		{"case variant in a day", `"head": `, `"Head": `,
			`.days[0]: key "Head" differs from "head" only in case`},
		{"case variant of the signature", `"signature": `, `"SIGNATURE": `,
			`.: key "SIGNATURE" differs from "signature" only in case`},
		{"unknown key", `"incident": "inc-a"`, `"incident": "inc-a", "note": "x"`,
			`.: unknown key "note"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := string(b)
			if !strings.Contains(s, tt.old) {
				t.Fatalf("precondition: the bundle has no %s", tt.old)
			}
			rep, err := VerifyBundle([]byte(strings.Replace(s, tt.old, tt.new, 1)), pub)
			if !errors.Is(err, ErrMalformedBundle) || rep != nil {
				t.Fatalf("VerifyBundle = %+v, %v; want ErrMalformedBundle", rep, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// Detail keys are the caller's; keys that differ only in case are distinct keys to
// every reader, all signed, and a bundle holding them verifies.
func TestVerifyBundleKeepsCaseDistinctDetailKeys(t *testing.T) {
	s, _ := newStore(t)
	e := fact("inc-a", 0)
	e.Detail = map[string]string{"ID": "upper", "id": "lower"}
	if _, _, err := s.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	key := testKey(t)
	b, err := s.Export(context.Background(), "inc-a", key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBundle(b, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
}

// A checkpoint from a sink is read the same way: a forged reason in front of the
// signed one under another case is refused, not accepted as the signed one.
func TestParseCheckpointRefusesKeysOtherReadersReadDifferently(t *testing.T) {
	s, _ := newStore(t)
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	fill(t, s, 2, "inc-a", "inc-b")
	c, err := s.Checkpoint(context.Background(), key, "", "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	b := string(c.Marshal())
	if _, err := ParseCheckpoint([]byte(b), pub); err != nil {
		t.Fatalf("untouched checkpoint: %v", err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"case variant after a forged value", `"reason":"fuzz"`, `"reason":"forged","REASON":"fuzz"`,
			`.: key "REASON" differs from "reason" only in case`},
		{"exact duplicate", `"reason":"fuzz"`, `"reason":"forged","reason":"fuzz"`, `.: duplicate key "reason"`},
		{"case variant in a head", `"incident":"inc-a"`, `"Incident":"inc-a"`,
			`.heads[0]: key "Incident" differs from "incident" only in case`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(b, tt.old) {
				t.Fatalf("precondition: the checkpoint has no %s", tt.old)
			}
			_, err := ParseCheckpoint([]byte(strings.Replace(b, tt.old, tt.new, 1)), pub)
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("ParseCheckpoint = %v; want ErrBadCheckpoint", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
