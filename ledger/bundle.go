package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
)

// BundleFormat names the bundle layout; VerifyBundle accepts only this one.
const BundleFormat = "sever-ledger-bundle/v1"

// Errors VerifyBundle and Export return; test with errors.Is.
var (
	ErrMalformedBundle = errors.New("ledger: malformed bundle")
	ErrBadSignature    = errors.New("ledger: bundle signature does not verify")
	ErrUntrustedKey    = errors.New("ledger: bundle is signed by a key other than the trusted one")
	ErrBroken          = errors.New("ledger: chain broken")
)

// BundleDay is the part of the day chain a bundle needs: the head of one day and the
// hashes of every entry appended that day (of any incident, in append order, starting
// at append number First), so that the head can be recomputed offline without
// revealing other incidents' entries.
type BundleDay struct {
	Day      string   `json:"day"`
	PrevHead string   `json:"prev_head"`
	Head     string   `json:"head"`
	First    int64    `json:"first"`
	Hashes   []string `json:"hashes"`
}

// bundleBody is what the signature covers, with its keys in this order.
type bundleBody struct {
	Format     string      `json:"format"`
	Incident   string      `json:"incident"`
	ExportedAt string      `json:"exported_at"`
	Entries    []Entry     `json:"entries"`
	Days       []BundleDay `json:"days"`
	PublicKey  string      `json:"public_key"` // hex ed25519 public key
}

// Bundle is a signed export of one incident's ledger. Signature is the hex ed25519
// signature of the compact JSON encoding of every other key, in the order above (the
// bytes `jq -cj 'del(.signature)'` prints for an exported bundle).
type Bundle struct {
	bundleBody
	Signature string `json:"signature"`
}

// Export verifies an incident and writes it as a signed bundle. It refuses to sign a
// ledger whose chain is broken (the error wraps ErrBroken and names the break), and,
// with anchors configured (Anchors), one that is behind a signed checkpoint or whose
// checkpoints cannot be read and checked (ErrBehindAnchor, ErrBadCheckpoint).
func (s *Store) Export(ctx context.Context, incident string, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("ledger: export: the signing key is not an ed25519 private key")
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: export: %w", err)
	}
	defer tx.Rollback()
	rows, brk, err := verifyIncident(ctx, tx, incident)
	if err != nil {
		return nil, err
	}
	if brk != nil {
		return nil, fmt.Errorf("ledger: export %s: %w: %s", incident, ErrBroken, brk)
	}
	// The bundle carries day heads shared with other incidents: a cut anywhere makes
	// them heads the ledger never had.
	brks, err := s.anchorBreaks(ctx, tx, "")
	if err != nil {
		return nil, fmt.Errorf("ledger: export %s: %w", incident, err)
	}
	if len(brks) > 0 {
		return nil, fmt.Errorf("ledger: export %s: %w: %s", incident, ErrBehindAnchor, &brks[0])
	}
	body := bundleBody{Format: BundleFormat, Incident: incident, ExportedAt: formatTime(s.now()),
		Entries: []Entry{}, Days: []BundleDay{}, PublicKey: hex.EncodeToString(key.Public().(ed25519.PublicKey))}
	seen := map[string]bool{}
	for _, r := range rows {
		e, err := decodeEntry([]byte(r.body))
		if err != nil {
			return nil, fmt.Errorf("ledger: export: %w", err) // verifyIncident has checked it
		}
		e.Hash = r.hash
		body.Entries = append(body.Entries, e)
		if seen[r.day] {
			continue
		}
		seen[r.day] = true
		if brk, err := verifyDay(ctx, tx, r.day); err != nil {
			return nil, err
		} else if brk != nil {
			return nil, fmt.Errorf("ledger: export %s: %w: %s", incident, ErrBroken, brk)
		}
		seal, err := dayHead(ctx, tx, r.day)
		if err != nil || seal == nil {
			return nil, fmt.Errorf("ledger: export: day head of %s: %v", r.day, err)
		}
		hashes, err := queryStrings(ctx, tx, `SELECT hash FROM entries WHERE day = ? ORDER BY gseq`, r.day)
		if err != nil {
			return nil, err
		}
		body.Days = append(body.Days, BundleDay{Day: seal.Day, PrevHead: seal.PrevHead, Head: seal.Head, First: seal.First, Hashes: hashes})
	}
	msg := mustMarshal(body)
	out := mustMarshal(Bundle{bundleBody: body, Signature: hex.EncodeToString(ed25519.Sign(key, msg))})
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return nil, fmt.Errorf("ledger: export: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// BundleReport says what VerifyBundle found.
type BundleReport struct {
	Format     string   `json:"format"`
	Incident   string   `json:"incident"`
	ExportedAt string   `json:"exported_at"`
	Entries    int      `json:"entries"`
	Days       []string `json:"days"`
	PublicKey  string   `json:"public_key"`
	// KeyChecked is true when the caller gave a trusted key, KeyTrusted when the bundle
	// is signed by it. Without one, VerifyBundle checks the signature with the key
	// embedded in the bundle, which proves the bundle is unchanged since it was signed
	// but not who signed it; KeyNote says so.
	KeyChecked  bool   `json:"key_checked"`
	KeyTrusted  bool   `json:"key_trusted"`
	KeyNote     string `json:"key_note"`
	SignatureOK bool   `json:"signature_ok"`
	Break       *Break `json:"break,omitempty"` // first broken link, nil when the chain verifies
}

// OK reports whether the bundle verified: a good signature by the trusted key over an
// unbroken chain. Without a trusted key it is never OK; see IntegrityOK.
func (r *BundleReport) OK() bool {
	return r.IntegrityOK() && r.KeyChecked && r.KeyTrusted
}

// IntegrityOK reports whether the bundle is unchanged since it was signed by the key
// it carries and its chain is unbroken, whoever that key belongs to.
func (r *BundleReport) IntegrityOK() bool {
	return r != nil && r.SignatureOK && r.Break == nil
}

const noTrustedKey = "no trusted key given: the signer is untrusted; the signature was checked with the public key embedded in the bundle, which shows the bundle is unchanged since it was signed but not who signed it"

var dayPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// VerifyBundle checks a bundle offline: its signature, by trusted, every entry hash
// and link of the incident chain, and every day head against the hashes it covers.
// The error is nil only when everything verifies; otherwise it wraps
// ErrMalformedBundle, ErrBadSignature, ErrUntrustedKey, ErrBroken, or, when trusted
// is nil, ErrNoTrustedKey: anyone can sign a bundle with a key of their own, so a
// bundle is only as good as the key it is checked against. The report (nil only for
// a malformed bundle) says what was found.
func VerifyBundle(b []byte, trusted ed25519.PublicKey) (*BundleReport, error) {
	if trusted == nil {
		rep, err := VerifyBundleIntegrity(b)
		if err == nil {
			err = ErrNoTrustedKey
		}
		return rep, err
	}
	return verifyBundle(b, trusted)
}

// VerifyBundleIntegrity checks a bundle with the public key embedded in it: that it is
// unchanged since it was signed, and its chain and day heads, but not who signed it.
// The error is nil when the bundle is intact; the report's KeyNote says the signer
// was not verified.
func VerifyBundleIntegrity(b []byte) (*BundleReport, error) {
	return verifyBundle(b, nil)
}

func verifyBundle(b []byte, trusted ed25519.PublicKey) (*BundleReport, error) {
	if trusted != nil && len(trusted) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("ledger: the trusted key is not an ed25519 public key")
	}
	if err := checkKeys(b, reflect.TypeFor[Bundle]()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	var bun Bundle
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bun); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the bundle", ErrMalformedBundle)
	}
	switch {
	case bun.Format != BundleFormat:
		return nil, fmt.Errorf("%w: format %s, want %q", ErrMalformedBundle, quote(bun.Format), BundleFormat)
	case bun.Incident == "":
		return nil, fmt.Errorf("%w: no incident", ErrMalformedBundle)
	case len(bun.Entries) == 0:
		return nil, fmt.Errorf("%w: no entries", ErrMalformedBundle)
	}
	pub, err := hex.DecodeString(bun.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public_key is not a hex ed25519 public key", ErrMalformedBundle)
	}
	sig, err := hex.DecodeString(bun.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not a hex ed25519 signature", ErrMalformedBundle)
	}
	for i := range bun.Entries {
		tidy(&bun.Entries[i])
	}
	rep := &BundleReport{Format: bun.Format, Incident: bun.Incident, ExportedAt: bun.ExportedAt,
		Entries: len(bun.Entries), PublicKey: bun.PublicKey, KeyNote: noTrustedKey}
	for _, d := range bun.Days {
		rep.Days = append(rep.Days, d.Day)
	}
	if trusted != nil {
		rep.KeyChecked = true
		rep.KeyTrusted = bytes.Equal(pub, trusted)
		rep.KeyNote = "checked against the trusted key"
		if !rep.KeyTrusted {
			rep.KeyNote = "the bundle is signed by " + bun.PublicKey + ", not by the trusted key " + hex.EncodeToString(trusted)
		}
	}
	msg, err := marshalJSON(bun.bundleBody)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	rep.SignatureOK = ed25519.Verify(ed25519.PublicKey(pub), msg, sig)
	rep.Break = verifyBundleChain(&bun)
	switch {
	case !rep.SignatureOK:
		return rep, ErrBadSignature
	case !rep.KeyTrusted && trusted != nil:
		return rep, ErrUntrustedKey
	case rep.Break != nil:
		return rep, fmt.Errorf("%w: %s", ErrBroken, rep.Break)
	}
	return rep, nil
}

// verifyBundleChain checks the incident chain and the day heads of a bundle.
func verifyBundleChain(bun *Bundle) *Break {
	brk := func(seq int64, reason Reason, format string, args ...any) *Break {
		return &Break{Incident: bun.Incident, Seq: seq, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	if b := VerifyChain(bun.Incident, bun.Entries); b != nil {
		return b
	}

	// Day heads: each recomputes from its hashes; together they cover every entry,
	// in seq order. A break in a day head is reported at the incident's first entry
	// of that day (seq 0 when it has none there).
	seqOf := make(map[string]int64, len(bun.Entries))
	for _, e := range bun.Entries {
		seqOf[e.Hash] = e.Seq
	}
	seqIn := func(d BundleDay) int64 {
		for _, x := range d.Hashes {
			if seq, ok := seqOf[x]; ok {
				return seq
			}
		}
		return 0
	}
	type place struct{ day, pos int }
	where := map[string]place{}
	for i, d := range bun.Days {
		switch {
		case !dayPattern.MatchString(d.Day):
			return brk(seqIn(d), ReasonDayHead, "day %d is not a date", i)
		case i > 0 && d.Day <= bun.Days[i-1].Day:
			return brk(seqIn(d), ReasonDayHead, "day %s is out of order", d.Day)
		case d.First < 1 || len(d.Hashes) == 0:
			return brk(seqIn(d), ReasonDayHead, "day %s covers no appends", d.Day)
		case d.PrevHead != "" && !hex64.MatchString(d.PrevHead):
			return brk(seqIn(d), ReasonDayHead, "day %s: prev_head is not a hash", d.Day)
		}
		if i > 0 {
			p := bun.Days[i-1]
			if p.First+int64(len(p.Hashes)) == d.First && d.PrevHead != p.Head {
				return brk(seqIn(d), ReasonDayHead, "day %s does not continue from day %s's head", d.Day, p.Day)
			}
		}
		h := d.PrevHead
		for j, x := range d.Hashes {
			if !hex64.MatchString(x) {
				return brk(seqIn(d), ReasonDayHead, "day %s: hash %d is not a hash", d.Day, j)
			}
			h = chainHash(h, x)
			if _, dup := where[x]; !dup {
				where[x] = place{i, j}
			}
		}
		if h != d.Head {
			return brk(seqIn(d), ReasonDayHead, "day %s: the day head is %s but its hashes chain to %s", d.Day, quote(d.Head), h)
		}
	}
	last := place{-1, -1}
	for _, e := range bun.Entries {
		p, ok := where[e.Hash]
		switch {
		case !ok:
			return brk(e.Seq, ReasonDayHead, "the entry is not covered by any day head in the bundle")
		case p.day < last.day || p.day == last.day && p.pos <= last.pos:
			return brk(e.Seq, ReasonReordered, "the day chain has this entry before entry %d", e.Seq-1)
		}
		last = p
	}
	return nil
}
