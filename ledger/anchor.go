package ledger

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/sever-ir/sever"
)

// CheckpointFormat names the checkpoint layout; ParseCheckpoint accepts only this one.
const CheckpointFormat = "sever-ledger-checkpoint/v1"

// Checkpoint scopes.
const (
	// ScopeLedger: the checkpoint holds the head of every incident.
	ScopeLedger = "ledger"
	// ScopeIncident: the checkpoint holds the head of one incident (written at its close).
	ScopeIncident = "incident"
)

// maxClosedRemembered bounds the incidents an Anchorer remembers having anchored.
const maxClosedRemembered = 4096

// DefaultAnchorEvery is how many appends may pass between two ledger-wide checkpoints.
const DefaultAnchorEvery = 100

// Errors about anchors; test with errors.Is.
var (
	// ErrBadCheckpoint: a checkpoint read from an anchor sink does not parse, or its
	// signature does not verify. Someone wrote to the sink who is not sever.
	ErrBadCheckpoint = errors.New("ledger: bad checkpoint")
	// ErrBehindAnchor: the ledger holds less, or other, than a signed checkpoint says
	// it held: it was truncated or rewritten after the checkpoint was written.
	ErrBehindAnchor = errors.New("ledger: the ledger is behind its signed checkpoints")
	// ErrNoTrustedKey: a signature was checked with no trusted public key, so nothing
	// says who signed.
	ErrNoTrustedKey = errors.New("ledger: no trusted public key: the signer is not verified")
)

// Reasons an anchor comparison reports (see Reason).
const (
	// ReasonTruncated: an incident (or the day chain) ends before the seq (append)
	// a signed checkpoint recorded: entries were deleted from its end, or the whole
	// incident was.
	ReasonTruncated Reason = "truncated"
	// ReasonAnchorMismatch: the entry at a seq (append) a signed checkpoint recorded
	// has another hash (day-chain value): it was rewritten after the checkpoint.
	ReasonAnchorMismatch Reason = "anchor_mismatch"
)

// IncidentHead is one incident's last entry as a checkpoint records it.
type IncidentHead struct {
	Incident string `json:"incident"`
	Seq      int64  `json:"seq"`
	Hash     string `json:"hash"`
}

// checkpointBody is what a checkpoint's signature covers, with its keys in this order.
type checkpointBody struct {
	Format string `json:"format"`
	Scope  string `json:"scope"`  // ScopeLedger or ScopeIncident
	Reason string `json:"reason"` // why it was written (close, every N appends, new day, start)
	MadeAt string `json:"made_at"`
	// Entries is the number of appends covered (#1 to #Entries); Day and Head are the
	// UTC day and the day-chain value of append #Entries, LastIncident and LastSeq the
	// entry it is. The head is a running hash over every entry appended before it.
	Entries      int64  `json:"entries"`
	Day          string `json:"day"`
	Head         string `json:"head"`
	LastIncident string `json:"last_incident"`
	LastSeq      int64  `json:"last_seq"`
	// Incidents counts Heads; Root is HeadsRoot(Heads), so a checkpoint can be
	// published as its root alone.
	Incidents int            `json:"incidents"`
	Root      string         `json:"root"`
	Heads     []IncidentHead `json:"heads"`
	PublicKey string         `json:"public_key"` // hex ed25519 public key
}

// Checkpoint is a signed statement of how far the ledger reached when it was made:
// the day-chain head and, for every incident in scope, its last seq and hash. Written
// to sinks the ledger's host cannot rewrite (the S3 Object Lock copy, an append-only
// file elsewhere), it turns a truncation of the file into a visible break. Signature
// is the hex ed25519 signature of the compact JSON encoding of every other key, in
// the order above (the bytes `jq -cj 'del(.signature)'` prints for one checkpoint).
type Checkpoint struct {
	checkpointBody
	Signature string `json:"signature"`
	// Where says which sink it was read from (not encoded).
	Where string `json:"-"`
}

// HeadsRoot is the hex SHA-256 of the lines "<incident> <seq> <hash>\n" of heads, in
// the order given (a checkpoint sorts them by incident).
func HeadsRoot(heads []IncidentHead) string {
	var b strings.Builder
	for _, h := range heads {
		fmt.Fprintf(&b, "%s %d %s\n", h.Incident, h.Seq, h.Hash)
	}
	return sever.SHA256Hex([]byte(b.String()))
}

// Marshal encodes the checkpoint compactly on one line (without a newline).
func (c Checkpoint) Marshal() []byte {
	return mustMarshal(struct {
		checkpointBody
		Signature string `json:"signature"`
	}{c.checkpointBody, c.Signature})
}

// Checkpoint makes and signs a checkpoint of the ledger as it is now: of every
// incident (incident "") or of one incident, whose chain it verifies first so that a
// broken chain is never anchored. It writes it nowhere; see Anchorer.
func (s *Store) Checkpoint(ctx context.Context, key ed25519.PrivateKey, incident, reason string) (Checkpoint, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Checkpoint{}, errors.New("ledger: checkpoint: the signing key is not an ed25519 private key")
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	defer tx.Rollback()
	body := checkpointBody{Format: CheckpointFormat, Scope: ScopeLedger, Reason: reason, MadeAt: formatTime(s.now()),
		Heads: []IncidentHead{}, PublicKey: hex.EncodeToString(key.Public().(ed25519.PublicKey))}
	err = tx.QueryRowContext(ctx, `SELECT gseq, day, chain, incident, seq FROM entries ORDER BY gseq DESC LIMIT 1`).
		Scan(&body.Entries, &body.Day, &body.Head, &body.LastIncident, &body.LastSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{}, errors.New("ledger: checkpoint: the ledger is empty: nothing to anchor")
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	if incident != "" {
		body.Scope = ScopeIncident
		rows, brk, err := verifyIncident(ctx, tx, incident)
		if err != nil {
			return Checkpoint{}, err
		}
		if brk != nil {
			return Checkpoint{}, fmt.Errorf("ledger: checkpoint %s: %w: %s", incident, ErrBroken, brk)
		}
		last := rows[len(rows)-1]
		body.Heads = append(body.Heads, IncidentHead{Incident: incident, Seq: last.seq, Hash: last.hash})
	} else {
		rs, err := tx.QueryContext(ctx, `SELECT e.incident, e.seq, e.hash FROM entries e
			JOIN (SELECT incident, MAX(seq) AS seq FROM entries GROUP BY incident) m
			ON e.incident = m.incident AND e.seq = m.seq ORDER BY e.incident`)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
		}
		for rs.Next() {
			var h IncidentHead
			if err := rs.Scan(&h.Incident, &h.Seq, &h.Hash); err != nil {
				rs.Close()
				return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
			}
			body.Heads = append(body.Heads, h)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
		}
	}
	body.Incidents, body.Root = len(body.Heads), HeadsRoot(body.Heads)
	return Checkpoint{checkpointBody: body, Signature: hex.EncodeToString(ed25519.Sign(key, mustMarshal(body)))}, nil
}

// ParseCheckpoint reads one checkpoint and checks its form, its root and its
// signature, which must be by trusted: a checkpoint anyone could have signed anchors
// nothing. Errors wrap ErrBadCheckpoint, and ErrNoTrustedKey when trusted is nil.
func ParseCheckpoint(b []byte, trusted ed25519.PublicKey) (Checkpoint, error) {
	if len(trusted) != ed25519.PublicKeySize {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrBadCheckpoint, ErrNoTrustedKey)
	}
	if err := checkKeys(b, reflect.TypeFor[Checkpoint]()); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	var c Checkpoint
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Checkpoint{}, fmt.Errorf("%w: trailing data after the checkpoint", ErrBadCheckpoint)
	}
	bad := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrBadCheckpoint, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Format != CheckpointFormat:
		return bad("format %s, want %q", quote(c.Format), CheckpointFormat)
	case c.Scope != ScopeLedger && c.Scope != ScopeIncident:
		return bad("scope %s", quote(c.Scope))
	case c.Entries < 1 || !hex64.MatchString(c.Head) || !dayPattern.MatchString(c.Day):
		return bad("no day-chain head")
	case c.Heads == nil || c.Incidents != len(c.Heads) || c.Root != HeadsRoot(c.Heads):
		return bad("the incident heads do not match their count and root")
	case c.Scope == ScopeIncident && len(c.Heads) != 1:
		return bad("an incident checkpoint holds %d heads", len(c.Heads))
	}
	for _, h := range c.Heads {
		if h.Incident == "" || h.Seq < 1 || !hex64.MatchString(h.Hash) {
			return bad("incident head %s seq %d is not a head", quote(h.Incident), h.Seq)
		}
	}
	pub, err := hex.DecodeString(c.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return bad("public_key is not a hex ed25519 public key")
	}
	sig, err := hex.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return bad("signature is not a hex ed25519 signature")
	}
	if !bytes.Equal(pub, trusted) {
		return bad("signed by %s, not by the trusted key %s", c.PublicKey, hex.EncodeToString(trusted))
	}
	if !ed25519.Verify(trusted, mustMarshal(c.checkpointBody), sig) {
		return bad("the signature does not verify")
	}
	return c, nil
}

// RawCheckpoint is one checkpoint as an anchor sink holds it.
type RawCheckpoint struct {
	Where string // the sink and position, for messages
	Data  []byte
}

// AnchorSink takes checkpoints somewhere the ledger's host cannot rewrite. Write must
// not return before the checkpoint is durable there.
type AnchorSink interface {
	WriteCheckpoint(ctx context.Context, data []byte) error
}

// AnchorSource gives back every checkpoint a sink holds, oldest first.
type AnchorSource interface {
	ReadCheckpoints(ctx context.Context) ([]RawCheckpoint, error)
}

// ReadAnchors reads and checks every checkpoint of the sources. Any checkpoint that
// does not parse or is not signed by trusted fails the read (ErrBadCheckpoint): it is
// a write into the sink by someone else than sever.
func ReadAnchors(ctx context.Context, trusted ed25519.PublicKey, sources ...AnchorSource) ([]Checkpoint, error) {
	var out []Checkpoint
	for _, src := range sources {
		raws, err := src.ReadCheckpoints(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range raws {
			c, err := ParseCheckpoint(r.Data, trusted)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.Where, err)
			}
			c.Where = r.Where
			out = append(out, c)
		}
	}
	return out, nil
}

// CompareAnchors compares the ledger with checkpoints and returns every place where it
// is behind them, sorted by incident (the day chain, Incident "", last): an incident
// missing or ending before the seq a checkpoint recorded (ReasonTruncated), an entry
// with another hash than recorded (ReasonAnchorMismatch), and the same for the day
// chain's head. None when the ledger holds everything the checkpoints say it held.
func (s *Store) CompareAnchors(ctx context.Context, cps []Checkpoint) ([]Break, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: compare anchors: %w", err)
	}
	defer tx.Rollback()
	return compareAnchors(ctx, tx, cps, "")
}

// compareAnchors is CompareAnchors, for one incident only when incident is not "".
func compareAnchors(ctx context.Context, q querier, cps []Checkpoint, incident string) ([]Break, error) {
	type anchored struct {
		seq   int64
		hash  string
		where Checkpoint
	}
	// Every distinct (incident, seq) any checkpoint recorded, and each incident's
	// furthest one, so a truncation names the furthest point it cut.
	heads := map[string][]anchored{}
	for _, c := range cps {
		for _, h := range c.Heads {
			if incident != "" && h.Incident != incident {
				continue
			}
			heads[h.Incident] = append(heads[h.Incident], anchored{h.Seq, h.Hash, c})
		}
	}
	ids := make([]string, 0, len(heads))
	for id := range heads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []Break
	for _, id := range ids {
		as := heads[id]
		slices.SortStableFunc(as, func(a, b anchored) int { return int(b.seq - a.seq) }) // furthest first
		var localSeq int64
		var localHash string
		err := q.QueryRowContext(ctx, `SELECT seq, hash FROM entries WHERE incident = ? ORDER BY seq DESC LIMIT 1`, id).Scan(&localSeq, &localHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("ledger: compare anchors: %w", err)
		}
		found := "the ledger holds no entry of it"
		if localSeq > 0 {
			found = fmt.Sprintf("the ledger ends at seq %d (hash %s)", localSeq, localHash)
		}
		if top := as[0]; top.seq > localSeq {
			out = append(out, Break{Incident: id, Seq: top.seq, Reason: ReasonTruncated,
				Detail: fmt.Sprintf("%s recorded seq %d with hash %s; %s", describe(top.where), top.seq, top.hash, found)})
			continue
		}
		seen := map[int64]bool{}
		for _, a := range as {
			if seen[a.seq] {
				continue
			}
			seen[a.seq] = true
			var h string
			if err := q.QueryRowContext(ctx, `SELECT hash FROM entries WHERE incident = ? AND seq = ? ORDER BY gseq LIMIT 1`, id, a.seq).Scan(&h); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("ledger: compare anchors: %w", err)
			}
			if h != a.hash {
				out = append(out, Break{Incident: id, Seq: a.seq, Reason: ReasonAnchorMismatch,
					Detail: fmt.Sprintf("%s recorded seq %d with hash %s; the ledger holds %s there", describe(a.where), a.seq, a.hash, orMissing(h))})
				break
			}
		}
	}
	if incident != "" {
		return out, nil
	}
	// The day chain: the entry at each anchored append number still carries the
	// recorded head, so nothing appended before it was removed or rewritten.
	var total int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(gseq), 0) FROM entries`).Scan(&total); err != nil {
		return nil, fmt.Errorf("ledger: compare anchors: %w", err)
	}
	byAppend := slices.Clone(cps)
	slices.SortStableFunc(byAppend, func(a, b Checkpoint) int { return int(b.Entries - a.Entries) })
	seen := map[int64]bool{}
	for _, c := range byAppend {
		if seen[c.Entries] {
			continue
		}
		seen[c.Entries] = true
		if c.Entries > total {
			out = append(out, Break{Incident: c.LastIncident, Seq: c.LastSeq, Reason: ReasonTruncated,
				Detail: fmt.Sprintf("day chain: %s recorded %d appends ending in head %s (day %s); the ledger holds %d", describe(c), c.Entries, c.Head, c.Day, total)})
			break
		}
		var chain string
		if err := q.QueryRowContext(ctx, `SELECT chain FROM entries WHERE gseq = ?`, c.Entries).Scan(&chain); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("ledger: compare anchors: %w", err)
		}
		if chain != c.Head {
			out = append(out, Break{Incident: c.LastIncident, Seq: c.LastSeq, Reason: ReasonAnchorMismatch,
				Detail: fmt.Sprintf("day chain: %s recorded head %s at append #%d; the ledger holds %s there", describe(c), c.Head, c.Entries, orMissing(chain))})
			break
		}
	}
	return out, nil
}

func describe(c Checkpoint) string {
	s := fmt.Sprintf("the %s checkpoint of %s (%s)", c.Scope, c.MadeAt, c.Reason)
	if c.Where != "" {
		s += " in " + c.Where
	}
	return s
}

func orMissing(h string) string {
	if h == "" {
		return "nothing"
	}
	return h
}

// Anchors configures the store's anchor sources: VerifyAll, Verify and Export then
// also compare the ledger with every checkpoint they hold (signed by trusted), and
// Export refuses to sign a chain that is behind them. Call it before using the store
// from several goroutines.
func (s *Store) Anchors(trusted ed25519.PublicKey, sources ...AnchorSource) {
	s.anchorKey, s.anchorSources = trusted, sources
}

// anchorBreaks compares the ledger with the configured anchors (none without any).
func (s *Store) anchorBreaks(ctx context.Context, q querier, incident string) ([]Break, error) {
	if len(s.anchorSources) == 0 {
		return nil, nil
	}
	cps, err := ReadAnchors(ctx, s.anchorKey, s.anchorSources...)
	if err != nil {
		return nil, err
	}
	return compareAnchors(ctx, q, cps, incident)
}

// FileSink appends checkpoints, one JSON line each, to a file opened O_APPEND: meant
// for a file the ledger's host can append to but not rewrite (a mount of an
// append-only store, a file with the append-only attribute, a log shipper's spool).
type FileSink struct {
	Path string
	mu   sync.Mutex
}

// WriteCheckpoint appends one line and syncs it.
func (f *FileSink) WriteCheckpoint(_ context.Context, data []byte) error {
	if bytes.ContainsAny(data, "\r\n") {
		return fmt.Errorf("ledger: anchor file %s: a checkpoint must be one line", f.Path)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ledger: anchor file: %w", err)
	}
	// One write: O_APPEND places it whole after whatever other writers appended.
	if _, err := fh.Write(append(slices.Clip(data), '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("ledger: anchor file %s: %w", f.Path, err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("ledger: anchor file %s: %w", f.Path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("ledger: anchor file %s: %w", f.Path, err)
	}
	return nil
}

// ReadCheckpoints returns every line of the file (none when it does not exist yet).
func (f *FileSink) ReadCheckpoints(_ context.Context) ([]RawCheckpoint, error) {
	fh, err := os.Open(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: anchor file: %w", err)
	}
	defer fh.Close()
	var out []RawCheckpoint
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, RawCheckpoint{Where: fmt.Sprintf("%s line %d", f.Path, n), Data: bytes.Clone(line)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ledger: anchor file %s: %w", f.Path, err)
	}
	return out, nil
}

// EntryMirror is what the worker's ledger activity calls after each append (with the
// entry as stored, also again on a retry); package worm's Mirror is one.
type EntryMirror interface {
	Put(ctx context.Context, e Entry) error
}

// Anchorer writes signed checkpoints to sinks as the ledger grows: one of the
// incident's head when an entry records its close, and one of every incident's head
// on its first call, every Every appends and on the first append of a new UTC day.
// Before a ledger-wide checkpoint it compares the ledger with the last one it wrote,
// so it never anchors a ledger that was cut behind it. It is an EntryMirror: the
// ledger activity calls Put after each append, and Put first hands the entry to Next.
// A failed write fails Put, so the activity retries it. Safe for concurrent use.
type Anchorer struct {
	Store *Store
	Key   ed25519.PrivateKey
	Sinks []AnchorSink
	Every int64       // 0 = DefaultAnchorEvery
	Next  EntryMirror // called first with each entry (the S3 copy); nil = none

	mu     sync.Mutex
	last   *Checkpoint      // the last ledger-wide checkpoint written
	since  []Checkpoint     // incident checkpoints written since
	closed map[string]int64 // incident → seq of its close checkpoint
}

// Put passes e to Next and then writes whatever checkpoint is due.
func (a *Anchorer) Put(ctx context.Context, e Entry) error {
	if a.Next != nil {
		if err := a.Next.Put(ctx, e); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.Kind == KindIncidentStatus && e.Detail["status"] == "closed" && a.closed[e.Incident] < e.Seq {
		c, err := a.write(ctx, e.Incident, "close")
		if err != nil {
			return err
		}
		if a.closed == nil || len(a.closed) >= maxClosedRemembered {
			// Forgetting only costs a second close checkpoint if a batch is retried.
			a.closed = map[string]int64{}
		}
		a.since = append(a.since, c)
		a.closed[e.Incident] = e.Seq
	}
	var total int64
	var day string
	err := a.Store.db.QueryRowContext(ctx, `SELECT last, day FROM days ORDER BY day DESC LIMIT 1`).Scan(&total, &day)
	if err != nil {
		return fmt.Errorf("ledger: anchor: %w", err)
	}
	every := a.Every
	if every <= 0 {
		every = DefaultAnchorEvery
	}
	reason := ""
	switch {
	case a.last == nil:
		reason = "start"
	case day != a.last.Day:
		reason = "new day"
	case total-a.last.Entries >= every:
		reason = fmt.Sprintf("every %d appends", every)
	default:
		return nil
	}
	_, err = a.anchor(ctx, reason)
	return err
}

// Anchor writes a checkpoint of every incident's head to every sink now.
func (a *Anchorer) Anchor(ctx context.Context, reason string) (Checkpoint, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.anchor(ctx, reason)
}

func (a *Anchorer) anchor(ctx context.Context, reason string) (Checkpoint, error) {
	if prev := a.written(); len(prev) > 0 {
		brks, err := a.Store.CompareAnchors(ctx, prev)
		if err != nil {
			return Checkpoint{}, err
		}
		if len(brks) > 0 {
			return Checkpoint{}, fmt.Errorf("ledger: anchor: %w: %s", ErrBehindAnchor, &brks[0])
		}
	}
	c, err := a.write(ctx, "", reason)
	if err != nil {
		return Checkpoint{}, err
	}
	a.last, a.since = &c, nil
	return c, nil
}

// written returns the checkpoints the ledger must not fall behind: the last
// ledger-wide one and the incident ones written since.
func (a *Anchorer) written() []Checkpoint {
	if a.last == nil {
		return a.since
	}
	return append([]Checkpoint{*a.last}, a.since...)
}

// write makes a checkpoint and writes it to every sink.
func (a *Anchorer) write(ctx context.Context, incident, reason string) (Checkpoint, error) {
	c, err := a.Store.Checkpoint(ctx, a.Key, incident, reason)
	if err != nil {
		return Checkpoint{}, err
	}
	data := c.Marshal()
	for _, s := range a.Sinks {
		if err := s.WriteCheckpoint(ctx, data); err != nil {
			return Checkpoint{}, fmt.Errorf("ledger: anchor (%s): %w", reason, err)
		}
	}
	return c, nil
}
