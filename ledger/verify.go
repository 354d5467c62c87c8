package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sever-ir/sever"
)

// Reason says how a link is broken.
type Reason string

const (
	// ReasonEdited: an entry's stored content does not match its hash, is not the
	// canonical encoding of itself, is not in the form Append writes, or a column
	// disagrees with the hashed content.
	ReasonEdited Reason = "edited"
	// ReasonDeleted: a seq is missing (a gap, or fewer entries than the incident head
	// or the day head records).
	ReasonDeleted Reason = "deleted"
	// ReasonReordered: the entry stored at a seq is another seq's entry (seqs swapped).
	ReasonReordered Reason = "reordered"
	// ReasonInserted: an entry that sever did not append in that place: its prev does not
	// link to the entry before it, two entries claim one seq, or it lies beyond the
	// incident head or the day head.
	ReasonInserted Reason = "inserted"
	// ReasonDayHead: the day chain disagrees: an entry's hash is not the one sealed into
	// the day chain when it was appended (content rewritten together with its hash), or a
	// day head does not match its entries or the previous day's head.
	ReasonDayHead Reason = "day_head_mismatch"
)

// Break is the first broken link found. Seq is the entry where the link breaks (for a
// deletion, the first missing seq when it is known); it is 0 only for a break in a
// bundle's day head that covers none of the incident's entries.
type Break struct {
	Incident string `json:"incident"`
	Seq      int64  `json:"seq"`
	Reason   Reason `json:"reason"`
	Detail   string `json:"detail"`
}

func (b *Break) String() string {
	return fmt.Sprintf("%s seq %d: %s: %s", b.Incident, b.Seq, b.Reason, b.Detail)
}

// Verify recomputes every hash and link of an incident, in seq order, then the day
// chain of every day the incident has entries in, then, with anchors configured
// (Anchors), compares the incident with the signed checkpoints: an incident deleted
// whole is reported as truncated rather than unknown. It returns the first broken link, or
// nil when everything verifies; an error only when the ledger cannot be read (a
// *sever.Error with code not_found for an unknown incident).
func (s *Store) Verify(ctx context.Context, incident string) (*Break, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	defer tx.Rollback()
	rows, brk, err := verifyIncident(ctx, tx, incident)
	if se := (*sever.Error)(nil); errors.As(err, &se) && se.Code == sever.ENOTFOUND {
		// Unknown here; a checkpoint may say it existed (the whole incident deleted).
		if brks, aerr := s.anchorBreaks(ctx, tx, incident); aerr != nil || len(brks) > 0 {
			return first(brks), aerr
		}
	}
	if err != nil || brk != nil {
		return brk, err
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.day] {
			continue
		}
		seen[r.day] = true
		if brk, err := verifyDay(ctx, tx, r.day); err != nil || brk != nil {
			return brk, err
		}
	}
	brks, err := s.anchorBreaks(ctx, tx, incident)
	return first(brks), err
}

// first returns the first break, nil for none.
func first(brks []Break) *Break {
	if len(brks) == 0 {
		return nil
	}
	return &brks[0]
}

// VerifyAll verifies every incident (sorted by ID), then every day head in day order,
// then, with anchors configured (Anchors), compares the ledger with every signed
// checkpoint, and returns the first broken link.
func (s *Store) VerifyAll(ctx context.Context) (*Break, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	defer tx.Rollback()
	ids, err := incidents(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, brk, err := verifyIncident(ctx, tx, id); err != nil || brk != nil {
			return brk, err
		}
	}
	days, err := queryStrings(ctx, tx, `SELECT day FROM days UNION SELECT day FROM entries ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	for _, d := range days {
		if brk, err := verifyDay(ctx, tx, d); err != nil || brk != nil {
			return brk, err
		}
	}
	// A file consistent in itself may still have been cut at its end, with its heads
	// patched: only checkpoints kept elsewhere show that.
	brks, err := s.anchorBreaks(ctx, tx, "")
	return first(brks), err
}

// VerifyChain checks one incident's entries as given, in position order (the first is
// seq 1), away from any store: each entry's hash, its form, its seq and its prev link.
// It is the check a bundle's entries and the S3 copy (package worm) get; it knows
// nothing of day heads, and entries missing after the last one given go unnoticed.
// It returns the first broken link, nil for an unbroken chain (also an empty one).
func VerifyChain(incident string, entries []Entry) *Break {
	brk := func(seq int64, reason Reason, format string, args ...any) *Break {
		return &Break{Incident: incident, Seq: seq, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	claimed, seen := map[int64]bool{}, map[int64]bool{}
	for _, e := range entries {
		claimed[e.Seq] = true
	}
	prev := ""
	for i, e := range entries {
		pos := int64(i + 1)
		switch {
		case e.Incident != incident:
			return brk(pos, ReasonInserted, "the entry at position %d belongs to incident %s", pos, quote(e.Incident))
		case e.ComputeHash() != e.Hash:
			return brk(pos, ReasonEdited, "entry %d hashes to %s, recorded hash is %s", e.Seq, e.ComputeHash(), quote(e.Hash))
		}
		if err := checkForm(e); err != nil {
			return brk(pos, ReasonEdited, "the entry is not one sever writes: %v", err)
		}
		switch {
		case e.Seq < pos && seen[e.Seq]:
			return brk(e.Seq, ReasonInserted, "two entries claim seq %d", e.Seq)
		case e.Seq > pos && !claimed[pos]:
			return brk(pos, ReasonDeleted, "entry %d is missing", pos)
		case e.Seq != pos:
			return brk(pos, ReasonReordered, "entry %d is at position %d", e.Seq, pos)
		case e.Prev != prev:
			return brk(pos, ReasonInserted, "prev is %s but the entry before it hashes to %s: this entry does not follow it", orNone(e.Prev), orNone(prev))
		}
		seen[e.Seq], prev = true, e.Hash
	}
	return nil
}

// row is one entries row as stored.
type row struct {
	gseq                                        int64
	incident                                    string
	seq                                         int64
	key, kind, at, day, prev, hash, chain, body string
}

const rowCols = `gseq, incident, seq, key, kind, at, day, prev, hash, chain, body`

func queryRows(ctx context.Context, q querier, where string, args ...any) ([]row, error) {
	rs, err := q.QueryContext(ctx, `SELECT `+rowCols+` FROM entries WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.gseq, &r.incident, &r.seq, &r.key, &r.kind, &r.at, &r.day, &r.prev, &r.hash, &r.chain, &r.body); err != nil {
			return nil, fmt.Errorf("ledger: verify: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	return out, nil
}

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			return nil, fmt.Errorf("ledger: verify: %w", err)
		}
		out = append(out, s)
	}
	return out, rs.Err()
}

// verifyIncident checks one incident's chain and each entry's own link in the day
// chain. It returns the rows it read.
func verifyIncident(ctx context.Context, q querier, incident string) ([]row, *Break, error) {
	rows, err := queryRows(ctx, q, `incident = ? ORDER BY seq, gseq`, incident)
	if err != nil {
		return nil, nil, err
	}
	var head struct {
		seq  int64
		hash string
	}
	err = q.QueryRowContext(ctx, `SELECT seq, hash FROM incidents WHERE incident = ?`, incident).Scan(&head.seq, &head.hash)
	hasHead := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("ledger: verify: %w", err)
	}
	if len(rows) == 0 && !hasHead {
		return nil, nil, sever.Errorf(sever.ENOTFOUND, "incident", "ledger: no entries for incident %q", incident)
	}
	brk := func(seq int64, reason Reason, format string, args ...any) *Break {
		return &Break{Incident: incident, Seq: seq, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}

	// Decode every body first: telling a swap from a deletion needs the seqs the
	// bodies claim further on.
	decoded := make([]*Entry, len(rows))
	claimed := map[int64]bool{}
	for i, r := range rows {
		if e, err := decodeEntry([]byte(r.body)); err == nil {
			decoded[i] = &e
			claimed[e.Seq] = true
		}
	}

	expect, prevHash := int64(1), ""
	var lastSeq int64
	seen := map[int64]bool{}
	for i, r := range rows {
		e := decoded[i]
		if e == nil {
			return rows, brk(r.seq, ReasonEdited, "the stored entry is not a valid ledger entry"), nil
		}
		if got := sever.SHA256Hex([]byte(r.body)); got != r.hash {
			return rows, brk(r.seq, ReasonEdited, "content hashes to %s, recorded hash is %s", got, r.hash), nil
		}
		if string(e.Canonical()) != r.body {
			return rows, brk(r.seq, ReasonEdited, "the stored entry is not in canonical form"), nil
		}
		if err := checkForm(*e); err != nil {
			return rows, brk(r.seq, ReasonEdited, "the stored entry is not one sever writes: %v", err), nil
		}
		if e.Incident != r.incident {
			return rows, brk(r.seq, ReasonInserted, "the entry stored here belongs to incident %q", e.Incident), nil
		}
		for _, c := range []struct{ col, got, want string }{
			{"key", r.key, e.Key}, {"kind", r.kind, string(e.Kind)}, {"at", r.at, formatTime(e.At)}, {"prev", r.prev, e.Prev},
		} {
			if c.got != c.want {
				return rows, brk(r.seq, ReasonEdited, "column %s is %q but the hashed entry says %q", c.col, c.got, c.want), nil
			}
		}
		switch {
		case i > 0 && r.seq == lastSeq:
			return rows, brk(r.seq, ReasonInserted, "two entries are stored at seq %d", r.seq), nil
		case e.Seq < r.seq && seen[e.Seq]:
			return rows, brk(e.Seq, ReasonInserted, "two entries claim seq %d: an entry was inserted and the entries after it renumbered", e.Seq), nil
		case e.Seq != r.seq && e.Seq > r.seq && r.seq == expect && !claimed[r.seq]:
			return rows, brk(r.seq, ReasonDeleted, "entry %d is missing: entry %d was renumbered to take its place", r.seq, e.Seq), nil
		case e.Seq != r.seq:
			return rows, brk(r.seq, ReasonReordered, "entry %d is stored at seq %d", e.Seq, r.seq), nil
		case r.seq > expect:
			return rows, brk(expect, ReasonDeleted, "%s missing: the next entry stored is seq %d", span("entry", expect, r.seq-1), r.seq), nil
		case r.seq < expect:
			return rows, brk(r.seq, ReasonInserted, "seq %d is out of order", r.seq), nil
		case hasHead && r.seq > head.seq:
			return rows, brk(r.seq, ReasonInserted, "the incident head records %d entries: this entry was added outside sever", head.seq), nil
		case e.Prev != prevHash:
			if i > 0 {
				// Was the entry before rewritten, its hash and day-chain value recomputed?
				// Then the entry after it in the day chain was built on the original.
				p := rows[i-1]
				var sHash, sChain string
				err := q.QueryRowContext(ctx, `SELECT hash, chain FROM entries WHERE gseq > ? ORDER BY gseq LIMIT 1`, p.gseq).Scan(&sHash, &sChain)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return nil, nil, fmt.Errorf("ledger: verify: %w", err)
				}
				if err == nil && sChain != chainHash(p.chain, sHash) {
					return rows, brk(p.seq, ReasonDayHead, "day chain of %s broken after append #%d: the entry was rewritten with a recomputed hash and day-chain value (entry %d still links to the original)", p.day, p.gseq, r.seq), nil
				}
			}
			return rows, brk(r.seq, ReasonInserted, "prev is %s but the entry before it hashes to %s: this entry does not follow it", orNone(e.Prev), orNone(prevHash)), nil
		}
		// The entry's own link in the day chain: its hash as sealed when appended.
		var predChain string
		var predGseq int64
		err := q.QueryRowContext(ctx, `SELECT gseq, chain FROM entries WHERE gseq < ? ORDER BY gseq DESC LIMIT 1`, r.gseq).Scan(&predGseq, &predChain)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, nil, fmt.Errorf("ledger: verify: %w", err)
		}
		if want := chainHash(predChain, r.hash); want != r.chain {
			why := "the entry's hash is not the one sealed when it was appended (rewritten with a recomputed hash, or added outside sever)"
			if predGseq != r.gseq-1 {
				why = fmt.Sprintf("%s before it is missing", span("append", predGseq+1, r.gseq-1))
			}
			return rows, brk(r.seq, ReasonDayHead, "day chain of %s broken at append #%d: %s", r.day, r.gseq, why), nil
		}
		seen[e.Seq] = true
		expect, prevHash, lastSeq = r.seq+1, r.hash, r.seq
	}
	switch {
	case !hasHead:
		return rows, brk(rows[0].seq, ReasonInserted, "the incident has entries but no head: it was added outside sever"), nil
	case lastSeq < head.seq:
		return rows, brk(lastSeq+1, ReasonDeleted, "the incident head records %d entries: %s missing", head.seq, span("entry", lastSeq+1, head.seq)), nil
	case prevHash != head.hash:
		return rows, brk(lastSeq, ReasonEdited, "the incident head records hash %s for seq %d, the entry hashes to %s", head.hash, head.seq, prevHash), nil
	}
	return rows, nil, nil
}

// verifyDay recomputes one day's part of the day chain against its sealed head and
// the previous day's head.
func verifyDay(ctx context.Context, q querier, day string) (*Break, error) {
	rows, err := queryRows(ctx, q, `day = ? ORDER BY gseq`, day)
	if err != nil {
		return nil, err
	}
	seal, err := dayHead(ctx, q, day)
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	prevSeal, err := latestDay(ctx, q, day)
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	at := func(r row, reason Reason, format string, args ...any) *Break {
		return &Break{Incident: r.incident, Seq: r.seq, Reason: reason, Detail: fmt.Sprintf("day %s: ", day) + fmt.Sprintf(format, args...)}
	}
	atSeal := func(reason Reason, format string, args ...any) *Break {
		return &Break{Incident: seal.LastIncident, Seq: seal.LastSeq, Reason: reason, Detail: fmt.Sprintf("day %s: ", day) + fmt.Sprintf(format, args...)}
	}
	if seal == nil {
		return at(rows[0], ReasonDayHead, "no day head was recorded for this day"), nil
	}
	wantPrev, wantFirst := "", int64(1)
	if prevSeal != nil {
		wantPrev, wantFirst = prevSeal.Head, prevSeal.Last+1
	}
	if seal.PrevHead != wantPrev || seal.First != wantFirst {
		b := atSeal(ReasonDayHead, "the day head does not continue from the previous day's head")
		if len(rows) > 0 {
			b = at(rows[0], ReasonDayHead, "the day head does not continue from the previous day's head")
		}
		return b, nil
	}
	h, g := seal.PrevHead, seal.First
	for _, r := range rows {
		switch {
		case r.gseq > seal.Last:
			return at(r, ReasonInserted, "append #%d lies beyond the day head, which covers #%d to #%d: it was added outside sever", r.gseq, seal.First, seal.Last), nil
		case r.gseq < g:
			return at(r, ReasonDayHead, "append #%d belongs before this day, which starts at #%d", r.gseq, g), nil
		case r.gseq > g:
			return at(r, ReasonDeleted, "%s, appended just before this entry, %s missing (an entry of another incident, or a whole incident, was deleted)",
				span("append", g, r.gseq-1), isAre(r.gseq-g)), nil
		case r.chain != chainHash(h, r.hash):
			return at(r, ReasonDayHead, "the day chain breaks at append #%d: the entry's hash is not the one sealed when it was appended", r.gseq), nil
		}
		h, g = r.chain, r.gseq+1
	}
	if g-1 != seal.Last {
		return atSeal(ReasonDeleted, "the day head covers appends #%d to #%d; %s %s missing", seal.First, seal.Last, span("append", g, seal.Last), isAre(seal.Last-g+1)), nil
	}
	if h != seal.Head {
		return atSeal(ReasonDayHead, "the day head is %s but its entries chain to %s", seal.Head, h), nil
	}
	return nil, nil
}

// span names one or a range of entries ("entry 3", "entries 3 to 5") or appends
// ("append #3", "appends #3 to #5").
func span(what string, from, to int64) string {
	num, plural := "", what+"s"
	switch what {
	case "append":
		num = "#"
	case "entry":
		plural = "entries"
	}
	if from == to {
		return fmt.Sprintf("%s %s%d", what, num, from)
	}
	return fmt.Sprintf("%s %s%d to %s%d", plural, num, from, num, to)
}

func isAre(n int64) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func orNone(h string) string {
	if h == "" {
		return `""`
	}
	return h
}
