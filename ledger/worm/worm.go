// Package worm keeps a write-once copy of the ledger in S3 under Object Lock, so that
// the SQLite file on the worker host is no longer the only copy of the record: whoever
// can rewrite that file (an attacker on the host, or an insider with it) cannot also
// rewrite or remove what was already copied.
//
// Each entry becomes one object, <prefix><incident>/<seq, 10 digits>.json, holding the
// entry's JSON exactly as ledger.Entry.MarshalJSON writes it (the canonical encoding
// followed by its hash, so `jq -cj 'del(.hash)' | sha256sum` of an object is its
// hash), put with a retention date, a SHA-256 checksum, If-None-Match: * and the
// entry hash in the user metadata x-amz-meta-sever-hash. Only GetObject, HeadObject
// and PutObject are used, so the mirror's role needs no list or delete permission.
//
// Object Lock protects object versions, not keys: a principal allowed s3:PutObject can
// still add a newer version, and one allowed s3:DeleteObject a delete marker that hides
// the object. Neither removes what sever wrote, which stays retrievable by version, and
// Verify reports both; a bucket policy that requires If-None-Match on every put (the
// s3:if-none-match condition key) refuses the newer version outright. See README.md.
package worm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/awserr"
	"github.com/sever-ir/sever/ledger"
)

// Defaults and bounds, the same as sever.yaml's ledger.s3 section.
const (
	DefaultPrefix    = config.DefaultLedgerS3Prefix
	DefaultRetention = config.DefaultLedgerS3Retention
	DefaultLockMode  = config.DefaultLedgerS3LockMode
	// MinRetention: Object Lock retains whole days, and a shorter copy protects little.
	MinRetention = config.MinLedgerS3Retention
	// MetaHash is the user metadata key (x-amz-meta-sever-hash) holding the entry hash,
	// so a retry compares hashes with a HeadObject instead of reading the object.
	MetaHash = "sever-hash"
)

// maxObjectBytes bounds an object read back; an entry Append accepts is far smaller.
const maxObjectBytes = 1 << 20

// probeWindow is how far past the first missing object Verify and Compare look for
// later ones: without ListObjectsV2 a gap in the middle of an incident looks like its
// end. sever never leaves gaps (an entry is copied before the next one is appended),
// so anything found there was hidden or removed.
const probeWindow = 16

// ErrConflict means the S3 copy already holds a different entry under the key: the
// copy or the local file was tampered with, or two ledgers write one prefix. Put never
// overwrites it.
var ErrConflict = errors.New("ledger/worm: the S3 copy holds a different entry")

// Client is the part of *s3.Client the mirror uses.
type Client interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ Client = (*s3.Client)(nil)

// Options configure a Mirror.
type Options struct {
	Bucket string // Object Lock must be enabled on it
	// Prefix starts every key and is used as given ("" puts incidents at the bucket's
	// root); sever.yaml defaults it to DefaultPrefix.
	Prefix string
	// Retention is how long Object Lock keeps each object, from its upload
	// (0 = DefaultRetention, at least MinRetention).
	Retention time.Duration
	// LockMode is COMPLIANCE (nobody, not even the account root, can shorten the
	// retention or delete the version) or GOVERNANCE (principals allowed
	// s3:BypassGovernanceRetention can); "" = COMPLIANCE.
	LockMode string
	// Now is the clock retention dates are computed from (nil = time.Now).
	Now func() time.Time
}

// Mirror writes ledger entries to S3 and checks them there. It is safe for concurrent
// use.
type Mirror struct {
	c    Client
	o    Options
	mode s3types.ObjectLockMode

	anchorMu   sync.Mutex
	nextAnchor int64 // number of the next checkpoint object; 0 = not looked up yet
}

// New returns a mirror writing through c.
func New(c Client, o Options) (*Mirror, error) {
	if c == nil {
		return nil, errors.New("ledger/worm: new mirror: no S3 client")
	}
	if o.Bucket == "" {
		return nil, errors.New("ledger/worm: new mirror: no bucket")
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < MinRetention {
		return nil, fmt.Errorf("ledger/worm: new mirror: retention %s is shorter than %s", o.Retention, MinRetention)
	}
	if o.LockMode == "" {
		o.LockMode = DefaultLockMode
	}
	mode := s3types.ObjectLockMode(o.LockMode)
	if mode != s3types.ObjectLockModeCompliance && mode != s3types.ObjectLockModeGovernance {
		return nil, fmt.Errorf("ledger/worm: new mirror: lock mode %q: want COMPLIANCE or GOVERNANCE", o.LockMode)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Mirror{c: c, o: o, mode: mode}, nil
}

// FromConfig returns a mirror for sever.yaml's ledger.s3 section, writing through c
// (a client for ledger.s3.region). It fails when no bucket is configured: the caller
// decides whether there is a mirror at all, so that no nil *Mirror ever ends up in an
// interface.
func FromConfig(c Client, s config.LedgerS3Config) (*Mirror, error) {
	return New(c, Options{Bucket: s.Bucket, Prefix: s.Prefix, Retention: s.Retention, LockMode: s.LockMode})
}

// Bucket returns the bucket the mirror writes to.
func (m *Mirror) Bucket() string { return m.o.Bucket }

// incidentRE keeps incident IDs to one plain key segment: sever's own IDs
// (inc-<provider>-<hex>) always are, and nothing else could collide, climb out of the
// prefix (..) or be rewritten by a client's path handling.
var incidentRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,255}$`)

// Key returns the object key of an incident's entry seq.
func (m *Mirror) Key(incident string, seq int64) (string, error) {
	if !incidentRE.MatchString(incident) {
		return "", fmt.Errorf("ledger/worm: incident %q cannot name an S3 object: want letters, digits and . _ - (at most 256)", incident)
	}
	if seq < 1 || seq > 9_999_999_999 {
		return "", fmt.Errorf("ledger/worm: %s seq %d cannot name an S3 object: want 1 to 9999999999", incident, seq)
	}
	return fmt.Sprintf("%s%s/%010d.json", m.o.Prefix, incident, seq), nil
}

func (m *Mirror) uri(key string) string { return "s3://" + m.o.Bucket + "/" + key }

// Put copies an entry as the store returned it (Seq, Prev and Hash assigned). It is
// idempotent: when the object exists with the entry's hash it writes nothing, so a
// retry after a crash, a timeout or a lost response never adds a version. When the
// object exists with another hash Put returns an error wrapping ErrConflict that names
// the incident, the seq and both hashes, and leaves the object alone.
func (m *Mirror) Put(ctx context.Context, e ledger.Entry) error {
	if e.Hash == "" {
		return fmt.Errorf("ledger/worm: put %s seq %d: the entry has no hash: copy the entry the store returned", e.Incident, e.Seq)
	}
	key, err := m.Key(e.Incident, e.Seq)
	if err != nil {
		return err
	}
	head, err := m.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.o.Bucket), Key: aws.String(key)})
	switch {
	case err == nil:
		return m.same(e, key, head.Metadata[MetaHash])
	case !isMissing(err):
		return fmt.Errorf("ledger/worm: put %s seq %d: s3:HeadObject %s: %w", e.Incident, e.Seq, m.uri(key), err)
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("ledger/worm: put %s seq %d: encode: %w", e.Incident, e.Seq, err)
	}
	sum := sha256.Sum256(body)
	_, err = m.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(m.o.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json"),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ObjectLockMode: m.mode, ObjectLockRetainUntilDate: aws.Time(m.o.Now().Add(m.o.Retention).Truncate(time.Second)),
		// Closes the race between the HeadObject above and this put (another worker
		// copying the same entry, or a different one under the same key).
		IfNoneMatch: aws.String("*"),
		Metadata:    map[string]string{MetaHash: e.Hash},
	}, putOnce)
	if err == nil {
		return nil
	}
	if code, _ := awserr.Code(err); code == "PreconditionFailed" {
		head, herr := m.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.o.Bucket), Key: aws.String(key)})
		if herr == nil {
			return m.same(e, key, head.Metadata[MetaHash])
		}
	}
	return fmt.Errorf("ledger/worm: put %s seq %d: s3:PutObject %s: %w", e.Incident, e.Seq, m.uri(key), err)
}

// putOnce keeps the SDK from resending a put: a lost response is settled by the next
// attempt's HeadObject, which sees the object that was written.
func putOnce(o *s3.Options) { o.RetryMaxAttempts = 1 }

func (m *Mirror) same(e ledger.Entry, key, stored string) error {
	if stored == e.Hash {
		return nil
	}
	if stored == "" {
		stored = "none (no " + MetaHash + " metadata: sever did not write it)"
	}
	return fmt.Errorf("%w: incident %s seq %d: %s holds hash %s, the local ledger has %s; tampering, or two ledgers writing one prefix; the object is left as it is",
		ErrConflict, e.Incident, e.Seq, m.uri(key), stored, e.Hash)
}

// object is one entry object as read back.
type object struct {
	key   string
	found bool
	// deleteMarker: the key's latest version is a delete marker (markerID), which hides
	// the entry without removing it.
	deleteMarker bool
	markerID     string
	entry        ledger.Entry
	// bad says why the object is not an entry sever wrote ("" when it is one, as far as
	// the object alone can tell).
	bad string
}

// get reads the object of an incident's entry seq.
func (m *Mirror) get(ctx context.Context, incident string, seq int64) (object, error) {
	key, err := m.Key(incident, seq)
	if err != nil {
		return object{}, err
	}
	o := object{key: key}
	out, err := m.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.o.Bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		if code, _ := awserr.Code(err); code == "NoSuchKey" || code == "NotFound" {
			o.deleteMarker, o.markerID = deleteMarker(err)
			return o, nil
		}
		return object{}, fmt.Errorf("ledger/worm: read %s seq %d: s3:GetObject %s: %w", incident, seq, m.uri(key), err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, maxObjectBytes+1))
	if err != nil {
		return object{}, fmt.Errorf("ledger/worm: read %s seq %d: %s: %w", incident, seq, m.uri(key), err)
	}
	o.found = true
	if len(body) > maxObjectBytes {
		o.bad = fmt.Sprintf("the object is larger than %d bytes: not a ledger entry", maxObjectBytes)
		return o, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o.entry); err != nil {
		o.bad = "the object is not a ledger entry: " + err.Error()
		return o, nil
	}
	if dec.More() {
		o.bad = "the object holds data after the entry"
		return o, nil
	}
	if canon, err := json.Marshal(o.entry); err != nil || !bytes.Equal(canon, body) {
		o.bad = "the object is not the entry's JSON as sever writes it (keys, order, spacing or escapes differ)"
		return o, nil
	}
	switch meta := out.Metadata[MetaHash]; {
	case meta == "":
		o.bad = "the object has no " + MetaHash + " metadata: sever did not write it"
	case meta != o.entry.Hash:
		o.bad = fmt.Sprintf("the object's %s metadata is %s but the entry says %s", MetaHash, meta, o.entry.Hash)
	}
	return o, nil
}

// next looks for an object within probeWindow after seq; 0 when there is none.
func (m *Mirror) next(ctx context.Context, incident string, seq int64) (int64, error) {
	for s := seq + 1; s <= seq+probeWindow; s++ {
		key, err := m.Key(incident, s)
		if err != nil {
			return 0, err
		}
		_, err = m.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.o.Bucket), Key: aws.String(key)})
		switch {
		case err == nil:
			return s, nil
		case !isMissing(err):
			return 0, fmt.Errorf("ledger/worm: read %s seq %d: s3:HeadObject %s: %w", incident, s, m.uri(key), err)
		}
	}
	return 0, nil
}

// Verify reads an incident's objects from seq 1 until one is missing, checks that each
// is an entry sever wrote (its JSON as sever writes it, its metadata hash), recomputes
// every hash and prev link with ledger.VerifyChain, and returns the first broken link
// in the same shape Store.Verify reports. A missing object is a deletion when a delete
// marker hides it or a later object exists (up to 16 further seqs are probed). The
// error is for S3 trouble only; a *sever.Error with code not_found when the incident
// has no objects at all.
//
// Alone the S3 copy cannot show that its last entries were rewritten with recomputed
// hashes, nor that entries the local ledger holds were never copied: Compare does.
func (m *Mirror) Verify(ctx context.Context, incident string) (*ledger.Break, error) {
	brk := func(seq int64, reason ledger.Reason, format string, args ...any) *ledger.Break {
		return &ledger.Break{Incident: incident, Seq: seq, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	var entries []ledger.Entry
	var stop *ledger.Break // at the first object that breaks on its own, if any
	for seq := int64(1); ; seq++ {
		o, err := m.get(ctx, incident, seq)
		if err != nil {
			return nil, err
		}
		if o.found && o.bad == "" {
			entries = append(entries, o.entry)
			continue
		}
		if o.bad != "" {
			stop = brk(seq, ledger.ReasonEdited, "%s: %s", m.uri(o.key), o.bad)
			break
		}
		if o.deleteMarker {
			stop = brk(seq, ledger.ReasonDeleted, "%s is hidden by a delete marker (version %s); Object Lock keeps the entry's own version, which deleting the marker restores",
				m.uri(o.key), o.markerID)
			break
		}
		later, err := m.next(ctx, incident, seq)
		if err != nil {
			return nil, err
		}
		if later > 0 {
			stop = brk(seq, ledger.ReasonDeleted, "%s missing from the S3 copy: the next object is seq %d", span(seq, later-1), later)
		} else if seq == 1 {
			return nil, sever.Errorf(sever.ENOTFOUND, "incident", "ledger/worm: no S3 copy of incident %q at %s", incident, m.uri(m.o.Prefix+incident+"/"))
		}
		break
	}
	// A broken link before the object that stopped the read is the first break.
	if b := ledger.VerifyChain(incident, entries); b != nil {
		return b, nil
	}
	return stop, nil
}

func span(from, to int64) string {
	if from == to {
		return fmt.Sprintf("entry %d is", from)
	}
	return fmt.Sprintf("entries %d to %d are", from, to)
}

// Local is where Compare reads the local copy; *ledger.Store is one.
type Local interface {
	Entries(ctx context.Context, incident string) ([]ledger.Entry, error)
}

var _ Local = (*ledger.Store)(nil)

// DiffKind says how the two copies of an entry differ.
type DiffKind string

const (
	MissingInS3    DiffKind = "missing_in_s3"   // the local ledger has the entry, the S3 copy does not
	MissingLocally DiffKind = "missing_locally" // the S3 copy has an entry the local ledger lacks
	Different      DiffKind = "different"       // both have the seq, with different content or hash
)

// Difference is one seq where the local ledger and the S3 copy disagree.
type Difference struct {
	Incident  string   `json:"incident"`
	Seq       int64    `json:"seq"`
	Kind      DiffKind `json:"kind"`
	LocalHash string   `json:"local_hash,omitempty"`
	S3Hash    string   `json:"s3_hash,omitempty"`
	Detail    string   `json:"detail"`
}

func (d Difference) String() string {
	return fmt.Sprintf("%s seq %d: %s: %s", d.Incident, d.Seq, d.Kind, d.Detail)
}

// Compare reads an incident from the local ledger and from S3 and returns, in seq
// order, every seq present in one and missing or different in the other; none when
// the copies agree. An entry is different when its hash or its canonical content
// differs (a rewrite that kept the old hash counts). Entries the local ledger holds
// beyond the S3 copy's last one show as missing_in_s3: a copy still catching up, or
// one that stopped.
func (m *Mirror) Compare(ctx context.Context, local Local, incident string) ([]Difference, error) {
	have, err := local.Entries(ctx, incident)
	if err != nil {
		return nil, fmt.Errorf("ledger/worm: compare %s: %w", incident, err)
	}
	bySeq := make(map[int64]ledger.Entry, len(have))
	var last int64
	for _, e := range have {
		bySeq[e.Seq] = e
		last = max(last, e.Seq)
	}
	var out []Difference
	diff := func(seq int64, kind DiffKind, lh, sh, format string, args ...any) {
		out = append(out, Difference{Incident: incident, Seq: seq, Kind: kind, LocalHash: lh, S3Hash: sh, Detail: fmt.Sprintf(format, args...)})
	}
	for seq := int64(1); ; seq++ {
		o, err := m.get(ctx, incident, seq)
		if err != nil {
			return nil, err
		}
		l, isLocal := bySeq[seq]
		switch {
		case !o.found && !isLocal && seq > last:
			later, err := m.next(ctx, incident, seq)
			if err != nil {
				return nil, err
			}
			if later == 0 {
				return out, nil
			}
			seq = later - 1 // neither copy has the seqs in between
		case !o.found && !isLocal:
			// A gap in both copies: the local verify reports the local one.
		case !o.found:
			why := "not copied to S3"
			if o.deleteMarker {
				why = "hidden in S3 by a delete marker (version " + o.markerID + ")"
			}
			diff(seq, MissingInS3, l.Hash, "", "%s: %s", m.uri(o.key), why)
		case o.bad != "" && isLocal:
			diff(seq, Different, l.Hash, "", "%s: %s", m.uri(o.key), o.bad)
		case o.bad != "":
			diff(seq, MissingLocally, "", "", "%s: %s", m.uri(o.key), o.bad)
		case !isLocal:
			diff(seq, MissingLocally, "", o.entry.Hash, "%s holds an entry the local ledger lacks (key %q)", m.uri(o.key), o.entry.Key)
		case l.Hash != o.entry.Hash:
			diff(seq, Different, l.Hash, o.entry.Hash, "%s holds hash %s, the local ledger %s", m.uri(o.key), o.entry.Hash, l.Hash)
		case !bytes.Equal(l.Canonical(), o.entry.Canonical()):
			diff(seq, Different, l.Hash, o.entry.Hash, "%s and the local ledger record hash %s for different content: one was rewritten without recomputing it", m.uri(o.key), l.Hash)
		}
	}
}

// isMissing tells a missing object from other failures. HeadObject has no error body,
// so its 404 carries no code beyond NotFound; callers only ask about buckets known to
// exist, or learn otherwise from the PutObject that follows.
func isMissing(err error) bool {
	code, status := awserr.Code(err)
	return code == "NotFound" || code == "NoSuchKey" || (code == "" && status == http.StatusNotFound)
}

// deleteMarker reports whether a 404 came from a delete marker, and its version id.
func deleteMarker(err error) (bool, string) {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return false, ""
	}
	h := re.Response.Header
	return h.Get("X-Amz-Delete-Marker") == "true", h.Get("X-Amz-Version-Id")
}
