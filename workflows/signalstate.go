package workflows

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sever-ir/sever"
)

// Bounds of the state an incident carries. A flood of distinct signals about one
// credential must not grow the workflow's state, its query answer or its
// continue-as-new input towards Temporal's 2 MB payload limit: past that limit every
// workflow task fails and the incident is wedged for good. Every signal is still
// written whole to the ledger by its own fact.
const (
	// keepFirstSignals and keepLatestSignals are the signals kept whole in
	// Incident.Signals: the first (what opened the incident) and the latest.
	keepFirstSignals  = 8
	keepLatestSignals = 8
	// maxSummaryKeys bounds each count map of the signal summary; further values
	// are counted under sever.OtherKey (sources and reporters are free text).
	maxSummaryKeys = 32
	// maxReporters bounds the reporter list (see sever.SignalSummary.Reported).
	maxReporters = 64
	// maxDedupKeys bounds the dedup set: 8 bytes a key, 128 KB at most. An event
	// redelivered after more than this many newer distinct signals is counted
	// again, but the ledger still holds it once: its fact key is the signal ID.
	maxDedupKeys = 16384
	// maxRecentReceipts bounds the receipts kept to answer signal_status. The
	// engine asks right after its own submission is processed, so only a flood
	// can push a submission out first; the answer is then "queued", which is true.
	// It bounds the duplicate submissions kept as well: the engine resends one
	// within seconds, so only a flood can push it out before its resend arrives,
	// which then counts one duplicate too many (the ledger still holds it once).
	maxRecentReceipts = 512
	// maxCarriedFacts bounds the ledger facts a continue-as-new carries; more are
	// written first.
	maxCarriedFacts = maxFactsPerBatch
	// maxQueuedNotices bounds the notices waiting to be posted; more are dropped
	// (notices tell people, the ledger is the record).
	maxQueuedNotices = 32
	// evictedReceipt stands for the receipt of a recorded signal that was not kept:
	// it equals no real receipt, so a later submission of it answers "duplicate".
	evictedReceipt = "\x00evicted"
)

// dedupSet is the set of dedup keys an incident has seen, kept as 8-byte prefixes
// of their SHA-256 in arrival order, and capped: the oldest leave first. It travels
// through continue-as-new as base64 of the packed prefixes, about 11 bytes a key.
type dedupSet struct {
	order []uint64
	index map[uint64]struct{}
}

func newDedupSet() *dedupSet { return &dedupSet{index: map[uint64]struct{}{}} }

func dedupHash(key string) uint64 {
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(sum[:8])
}

// add records key and reports whether it was new.
func (d *dedupSet) add(key string) bool {
	h := dedupHash(key)
	if _, ok := d.index[h]; ok {
		return false
	}
	d.index[h] = struct{}{}
	d.order = append(d.order, h)
	if len(d.order) > maxDedupKeys {
		delete(d.index, d.order[0])
		d.order = slices.Delete(d.order, 0, 1)
	}
	return true
}

func (d *dedupSet) has(key string) bool {
	_, ok := d.index[dedupHash(key)]
	return ok
}

func (d *dedupSet) len() int { return len(d.order) }

// MarshalJSON writes the packed prefixes in arrival order, so the encoding is a
// pure function of the state (replay needs that).
func (d *dedupSet) MarshalJSON() ([]byte, error) {
	b := make([]byte, 8*len(d.order))
	for i, h := range d.order {
		binary.BigEndian.PutUint64(b[8*i:], h)
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *dedupSet) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("dedup set: %w", err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%8 != 0 {
		return fmt.Errorf("dedup set: %d bytes of base64 are not packed 8-byte keys (err %v)", len(s), err)
	}
	*d = *newDedupSet()
	for i := 0; i+8 <= len(b); i += 8 {
		h := binary.BigEndian.Uint64(b[i:])
		if _, ok := d.index[h]; !ok {
			d.index[h] = struct{}{}
			d.order = append(d.order, h)
		}
	}
	return nil
}

// Receipt pairs a signal ID with the receipt of the submission that was recorded.
type Receipt struct {
	SignalID string `json:"signal_id"`
	Receipt  string `json:"receipt"`
}

// receiptWindow keeps the receipts of the latest signal IDs, capped.
type receiptWindow struct {
	order []Receipt
	index map[string]string
}

func newReceiptWindow(carried []Receipt) *receiptWindow {
	w := &receiptWindow{index: map[string]string{}}
	for _, r := range carried {
		w.put(r.SignalID, r.Receipt)
	}
	return w
}

func (w *receiptWindow) get(id string) (string, bool) {
	r, ok := w.index[id]
	return r, ok
}

// put records id's receipt unless one is already recorded for it.
func (w *receiptWindow) put(id, receipt string) {
	if _, ok := w.index[id]; ok {
		return
	}
	w.index[id] = receipt
	w.order = append(w.order, Receipt{SignalID: id, Receipt: receipt})
	if len(w.order) > maxRecentReceipts {
		delete(w.index, w.order[0].SignalID)
		w.order = slices.Delete(w.order, 0, 1)
	}
}

func (w *receiptWindow) list() []Receipt { return slices.Clone(w.order) }

// submissionSet keeps the latest submissions (signal ID and receipt), capped like
// receiptWindow: the oldest leave first.
type submissionSet struct {
	order []Receipt
	index map[Receipt]struct{}
}

func newSubmissionSet(carried []Receipt) *submissionSet {
	s := &submissionSet{index: map[Receipt]struct{}{}}
	for _, r := range carried {
		s.add(r.SignalID, r.Receipt)
	}
	return s
}

func (s *submissionSet) add(id, receipt string) {
	k := Receipt{SignalID: id, Receipt: receipt}
	if _, ok := s.index[k]; ok {
		return
	}
	s.index[k] = struct{}{}
	s.order = append(s.order, k)
	if len(s.order) > maxRecentReceipts {
		delete(s.index, s.order[0])
		s.order = slices.Delete(s.order, 0, 1)
	}
}

func (s *submissionSet) has(id, receipt string) bool {
	_, ok := s.index[Receipt{SignalID: id, Receipt: receipt}]
	return ok
}

func (s *submissionSet) list() []Receipt { return slices.Clone(s.order) }

// count adds one to m[key], or to m[sever.OtherKey] once m holds maxSummaryKeys keys.
func count(m map[string]int, key string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	if _, ok := m[key]; !ok && len(m) >= maxSummaryKeys {
		key = sever.OtherKey
	}
	m[key]++
	return m
}

// summarize adds one distinct signal to the summary: counts, times, reporters and
// the digest chain.
func summarize(sum *sever.SignalSummary, s sever.Signal) {
	sum.Total++
	sum.BySource = count(sum.BySource, s.Source)
	sum.ByKind = count(sum.ByKind, string(s.Kind))
	sum.ByOrigin = count(sum.ByOrigin, string(s.Origin))
	earliest := func(p **time.Time, t time.Time) {
		if !t.IsZero() && (*p == nil || t.Before(**p)) {
			t = t.UTC()
			*p = &t
		}
	}
	earliest(&sum.FirstObservedAt, s.ObservedAt)
	earliest(&sum.ExposedSince, s.ObservedAt)
	earliest(&sum.ExposedSince, s.ReceivedAt)
	if !s.ReceivedAt.IsZero() && (sum.LastReceivedAt == nil || s.ReceivedAt.After(*sum.LastReceivedAt)) {
		t := s.ReceivedAt.UTC()
		sum.LastReceivedAt = &t
	}
	if s.Reporter != "" && !slices.Contains(sum.Reporters, s.Reporter) {
		if len(sum.Reporters) < maxReporters {
			sum.Reporters = append(sum.Reporters, s.Reporter)
		} else {
			sum.ReportersOmitted = true
		}
	}
	// encoding/json writes struct fields in declaration order: the bytes are a pure
	// function of the signal, so the chain replays and can be recomputed from the
	// ledger's signal facts' sources.
	b, err := json.Marshal(s)
	if err != nil {
		b = []byte(s.ID)
	}
	h := sha256.New()
	h.Write([]byte(sum.Digest))
	h.Write(b)
	sum.Digest = hex.EncodeToString(h.Sum(nil))
}

// keepSignal appends rs to the kept signals and drops the oldest of the latest ones
// past the bound, counting it as omitted.
func keepSignal(inc *sever.Incident, rs sever.RecordedSignal) {
	inc.Signals = append(inc.Signals, rs)
	if len(inc.Signals) > keepFirstSignals+keepLatestSignals {
		inc.Signals = slices.Delete(inc.Signals, keepFirstSignals, keepFirstSignals+1)
		inc.SignalSummary.Omitted++
	}
}

// keptIndex is the index in inc.Signals of the kept signal with dedup key key, or -1.
func keptIndex(inc *sever.Incident, key string) int {
	return slices.IndexFunc(inc.Signals, func(s sever.RecordedSignal) bool { return s.DedupKey() == key })
}

// loadCarriedSignals converts a carried incident from a run that kept every signal
// whole (and a seen map and every receipt) into the bounded form.
func (r *run) loadCarriedSignals(c *Carry) {
	if c.Dedup != nil {
		r.dedup = c.Dedup
	}
	r.recent = newReceiptWindow(c.Recent)
	r.dupSubs = newSubmissionSet(c.Duplicates)
	if c.Seen == nil && c.Receipts == nil {
		return
	}
	for _, k := range sortedKeys(c.Seen) {
		r.dedup.add(k)
	}
	for _, id := range sortedKeys(c.Receipts) {
		r.recent.put(id, c.Receipts[id])
	}
	if r.inc.SignalSummary.Total == 0 {
		all := r.inc.Signals
		r.inc.Signals = nil
		for _, s := range all {
			summarize(&r.inc.SignalSummary, s.Signal)
			keepSignal(&r.inc, s)
		}
	}
}

// sortedKeys lists m's keys in order: map order is random, replay needs a fixed one.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
