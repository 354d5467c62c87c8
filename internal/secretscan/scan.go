// Package secretscan is sever's one secret detector. Intake refuses, the ledger
// refuses, and evidence, reports and Slack notices redact whatever it finds.
//
// It normalizes text first (see Normalize), then matches a rule set of provider
// token shapes kept as data (rules.yaml, derived from gitleaks), plus an entropy
// check for high-entropy values assigned to key-like names. A key split by a
// space ("sk-ant- api03-…") is found too: prefix rules are also tried on the text
// with up to three spaces inside the token removed, where the joined token must
// mix letters and digits and look random.
//
// A Match names the rule, never the matched text, so it can go into an error
// message or a log.
package secretscan

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Match says which rule found secret material. It never holds the value.
type Match struct {
	// Rule is the rule's stable id, such as "slack-bot-token".
	Rule string
	// Description completes "… looks like": "a Slack bot token".
	Description string
}

// String reads "a Slack bot token (rule slack-bot-token)".
func (m Match) String() string { return m.Description + " (rule " + m.Rule + ")" }

// Redacted replaces every secret Redact finds.
const Redacted = "[redacted]"

// Find reports the first rule, in the rule set's order, that finds secret material
// in s.
func Find(s string) (Match, bool) {
	if s == "" {
		return Match{}, false
	}
	t := newText(s, false)
	for i := range rules {
		r := &rules[i]
		if t.scan(i, func(int, int) bool { return false }) {
			return Match{Rule: r.id, Description: r.description}, true
		}
	}
	return Match{}, false
}

// Redact returns s with everything Find would find replaced by Redacted; text
// without secrets comes back unchanged. The replaced range may be wider than the
// key (a split key takes the spaces and invisible characters inside it along).
func Redact(s string) string {
	for range 4 {
		if _, found := Find(s); !found {
			return s
		}
		s = redactOnce(s)
	}
	if _, found := Find(s); found {
		// Redaction kept exposing new matches; give nothing away.
		return Redacted
	}
	return s
}

func redactOnce(s string) string {
	t := newText(s, true)
	var cuts []span
	for i := range rules {
		t.scan(i, func(lo, hi int) bool {
			cuts = append(cuts, span{t.spans[lo].lo, t.spans[hi-1].hi})
			return true
		})
	}
	if len(cuts) == 0 {
		return s
	}
	slices.SortFunc(cuts, func(a, b span) int { return int(a.lo - b.lo) })
	var out strings.Builder
	out.Grow(len(s))
	at := int32(0)
	for i := 0; i < len(cuts); {
		lo, hi := cuts[i].lo, cuts[i].hi
		for i++; i < len(cuts) && cuts[i].lo <= hi; i++ {
			hi = max(hi, cuts[i].hi)
		}
		out.WriteString(s[at:lo])
		out.WriteString(Redacted)
		at = hi
	}
	out.WriteString(s[at:])
	return out.String()
}

// RedactJSON redacts every string (and object key) in the JSON text b. Text
// without secrets is returned as it is; otherwise the document is re-encoded
// (indented by two spaces, object keys sorted, numbers kept exactly). b that is not
// JSON is redacted as plain text.
func RedactJSON(b []byte) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []byte(Redact(string(b)))
	}
	if !hasSecret(v) {
		if _, found := Find(string(b)); !found {
			return b
		}
	}
	out, err := json.MarshalIndent(redactValue(v), "", "  ")
	if err != nil {
		return []byte(Redacted)
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		out = append(out, '\n')
	}
	return out
}

func hasSecret(v any) bool {
	switch t := v.(type) {
	case string:
		_, found := Find(t)
		return found
	case []any:
		return slices.ContainsFunc(t, hasSecret)
	case map[string]any:
		for k, e := range t {
			if _, found := Find(k); found || hasSecret(e) {
				return true
			}
		}
	}
	return false
}

func redactValue(v any) any {
	switch t := v.(type) {
	case string:
		return Redact(t)
	case []any:
		for i := range t {
			t[i] = redactValue(t[i])
		}
		return t
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[Redact(k)] = redactValue(e)
		}
		return m
	}
	return v
}

// text holds the two views the rules run on: norm, the normalized text, and sq,
// the same without its spaces, where gap[i] says a space was removed before sq[i].
// sq is built only when a joinable rule needs it, which clean text rarely does.
type text struct {
	norm  string
	spans []span // spans[i]: the input bytes norm[i] came from (Redact only)

	hits     []hit // keyword occurrences, found on first use
	hitsDone bool

	sqDone bool
	sq     []byte
	sq2n   []int32 // sq2n[i]: the index in norm of sq[i]
	n2sq   []int32 // n2sq[i]: the index in sq of norm[i], or of the next non-space
	gap    []bool  // len(sq)+1 entries
}

func newText(s string, track bool) *text {
	n, sp := normalize(s, track)
	return &text{norm: n, spans: sp}
}

func (t *text) squeeze() {
	if t.sqDone {
		return
	}
	t.sqDone = true
	n := t.norm
	t.sq = make([]byte, 0, len(n))
	t.sq2n = make([]int32, 0, len(n))
	t.n2sq = make([]int32, len(n))
	t.gap = make([]bool, 0, len(n)+1)
	pending := false
	for i := 0; i < len(n); i++ {
		t.n2sq[i] = int32(len(t.sq))
		if n[i] == ' ' {
			pending = true
			continue
		}
		t.sq = append(t.sq, n[i])
		t.sq2n = append(t.sq2n, int32(i))
		t.gap = append(t.gap, pending)
		pending = false
	}
	t.gap = append(t.gap, pending)
}

// scan runs rules[ri] over t and calls emit with each match's range in t.norm;
// emit returns whether to keep going. scan reports whether it found anything.
func (t *text) scan(ri int, emit func(lo, hi int) bool) bool {
	r := &rules[ri]
	if len(r.keywords) == 0 {
		return t.scanRuns(r, emit)
	}
	found := false
	for _, h := range t.keywordHits() {
		if int(h.rule) != ri {
			continue
		}
		at := int(h.at)
		lo, hi, ok := 0, 0, false
		if !h.split {
			lo, hi, ok = r.matchNorm(t, at)
		}
		if !ok && r.join && r.leftOK(t.norm, at-r.keywordAt) && strings.IndexByte(t.norm[at:min(len(t.norm), at+r.maxLen)], ' ') >= 0 {
			t.squeeze()
			lo, hi, ok = r.matchJoined(t, int(t.n2sq[at]))
		}
		if ok {
			found = true
			if !emit(lo, hi) {
				return true
			}
		}
	}
	return found
}

// leftOK reports whether a match may start at start in the normalized text n: a
// space (possibly about to be removed) or a character outside the rule's boundary
// class comes before it.
func (r *rule) leftOK(n string, start int) bool {
	return start >= 0 && (r.openLeft || start == 0 || !r.boundary[n[start-1]])
}

// hit is a keyword of rules[rule] at t.norm[at:]; split says spaces sit inside it.
type hit struct {
	rule, at int32
	split    bool
}

// keywordHits finds every keyword of every rule in one pass over t.norm, ASCII
// case-insensitively and across single spaces (up to maxJoinedGaps of them): a
// bitmap of keywords' first two bytes rules out almost every position at the cost
// of one load. This is the prefilter that keeps a 5 KB summary cheap.
func (t *text) keywordHits() []hit {
	if t.hitsDone {
		return t.hits
	}
	t.hitsDone = true
	n := t.norm
	for i := 0; i+1 < len(n); i++ {
		c := lowerTab[n[i]]
		if !kwIndex.start[c] {
			continue
		}
		j := i + 1
		if n[j] == ' ' {
			j++
		}
		if j >= len(n) {
			continue
		}
		if pair := uint16(c)<<8 | uint16(lowerTab[n[j]]); kwIndex.pair[pair>>6]&(1<<(pair&63)) == 0 {
			continue
		}
		for _, k := range kwIndex.first[c] {
			if split, ok := hasKeyword(n[i:], k.kw); ok {
				t.hits = append(t.hits, hit{rule: k.rule, at: int32(i), split: split})
			}
		}
	}
	return t.hits
}

// hasKeyword reports whether s starts with kw, ignoring ASCII case and up to
// maxJoinedGaps single spaces inside it, and whether it had to skip any.
func hasKeyword(s string, kw []byte) (split, ok bool) {
	i, gaps := 0, 0
	for _, c := range kw {
		if i < len(s) && s[i] == ' ' && i > 0 {
			if gaps++; gaps > maxJoinedGaps {
				return false, false
			}
			i++
		}
		if i >= len(s) || lower(s[i]) != c {
			return false, false
		}
		i++
	}
	return gaps > 0, true
}

func lower(c byte) byte { return lowerTab[c] }

// lowerTab maps ASCII upper case to lower case and every other byte to itself.
var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

// kwIndex indexes every rule's keywords: start says a keyword begins with the byte,
// pair is a bitset of keywords' first two bytes (8 KiB, so it stays in cache), and
// first lists the keywords by first byte.
var kwIndex = func() (x struct {
	start [256]bool
	pair  [1 << 16 / 64]uint64
	first [256][]kwRef
}) {
	for ri, r := range rules {
		for _, kw := range r.keywords {
			if len(kw) < 2 || strings.Contains(string(kw), " ") {
				panic("secretscan: rule " + r.id + ": keywords need at least two bytes and no space")
			}
			pair := uint16(kw[0])<<8 | uint16(kw[1])
			x.start[kw[0]] = true
			x.pair[pair>>6] |= 1 << (pair & 63)
			x.first[kw[0]] = append(x.first[kw[0]], kwRef{rule: int32(ri), kw: kw})
		}
	}
	return x
}()

type kwRef struct {
	rule int32
	kw   []byte
}

// scanRuns runs a rule without keywords over every maximal run of its boundary
// class whose length the regex allows.
func (t *text) scanRuns(r *rule, emit func(lo, hi int) bool) bool {
	n := t.norm
	found := false
	for i := 0; i < len(n); {
		if !r.boundary[n[i]] {
			i++
			continue
		}
		j := i
		for j < len(n) && r.boundary[n[j]] {
			j++
		}
		if j-i >= r.minLen && (r.maxRun < 0 || j-i <= r.maxRun) && (j == len(n) || !r.boundRight[n[j]]) &&
			r.accept(n[i:j]) && r.whole.MatchString(n[i:j]) {
			found = true
			if !emit(i, j) {
				return true
			}
		}
		i = j
	}
	return found
}

// matchNorm tries r at a keyword that starts at k in t.norm.
func (r *rule) matchNorm(t *text, k int) (int, int, bool) {
	n := t.norm
	start := k - r.keywordAt
	if !r.leftOK(n, start) {
		return 0, 0, false
	}
	limit := min(len(n), start+r.maxLen)
	if r.nearWithin > 0 && !strings.ContainsAny(n[k:min(limit, k+r.nearWithin)], r.nearChars) {
		return 0, 0, false
	}
	loc := r.anchored.FindStringSubmatchIndex(n[start:limit])
	if loc == nil {
		return 0, 0, false
	}
	end := start + loc[1]
	// A match cut by the window is a very long token: still a secret, and all of it
	// is, so the match takes the rest of the run; otherwise redaction would keep the
	// token's tail.
	if end == limit {
		end = runEnd(n, end, &r.boundRight)
	} else if end < len(n) && r.boundRight[n[end]] {
		return 0, 0, false
	}
	if !r.accept(secretOf(r, n[start:limit], loc)) {
		return 0, 0, false
	}
	return start, end, true
}

// maxJoinedGaps bounds how many removed spaces a joined token may span, so words
// of prose are not glued into something key-shaped.
const maxJoinedGaps = 3

// matchJoined tries r at a keyword at p in t.sq, for a token that spans between one
// and maxJoinedGaps removed spaces.
func (r *rule) matchJoined(t *text, p int) (int, int, bool) {
	start := p - r.keywordAt
	if start < 0 || !r.openLeft && start > 0 && !t.gap[start] && r.boundary[t.sq[start-1]] {
		return 0, 0, false
	}
	limit := min(len(t.sq), start+r.maxLen)
	var gaps []int
	for j := start + 1; j < limit && len(gaps) <= maxJoinedGaps; j++ {
		if t.gap[j] {
			gaps = append(gaps, j)
		}
	}
	if len(gaps) == 0 {
		return 0, 0, false
	}
	ends := gaps[1:]
	if len(gaps) <= maxJoinedGaps {
		ends = append(ends, limit)
	}
	for _, end := range ends {
		w := string(t.sq[start:end])
		loc := r.anchored.FindStringSubmatchIndex(w)
		if loc == nil {
			continue
		}
		me := start + loc[1]
		if me <= gaps[0] {
			continue // no space inside: the plain view has already decided
		}
		if me < end && !t.gap[me] && r.boundRight[t.sq[me]] {
			continue
		}
		if !r.accept(secretOf(r, w, loc)) || !looksRandom(w[:loc[1]]) {
			continue
		}
		if me == limit {
			// Cut by the window, as in matchNorm: the rest of the run goes too.
			return int(t.sq2n[start]), runEnd(t.norm, int(t.sq2n[me-1])+1, &r.boundRight), true
		}
		return int(t.sq2n[start]), int(t.sq2n[me-1]) + 1, true
	}
	return 0, 0, false
}

// runEnd is where the run of class characters that continues at n[at:] ends.
func runEnd(n string, at int, class *[256]bool) int {
	for at < len(n) && class[n[at]] {
		at++
	}
	return at
}

func secretOf(r *rule, w string, loc []int) string {
	if g := r.secretGroup; g > 0 && loc[2*g] >= 0 {
		return w[loc[2*g]:loc[2*g+1]]
	}
	return w[loc[0]:loc[1]]
}

// looksRandom is the extra evidence a joined token needs: letters and digits
// mixed, and at least 3 bits of entropy per byte.
func looksRandom(s string) bool {
	var letter, digit bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter = letter || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digit = digit || c >= '0' && c <= '9'
	}
	return letter && digit && entropy(s) >= 3
}

// RedactPath is a request path as a log line may carry it. A path is the caller's
// text (a token's value sent where its ID belongs, which the route then refuses),
// so every segment in which Find finds secret material is replaced by Redacted;
// the whole path is checked too, for a secret that spans segments (a webhook URL
// holds slashes).
func RedactPath(p string) string {
	if _, found := Find(p); !found {
		return p
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if _, found := Find(seg); found {
			segs[i] = Redacted
		}
	}
	return Redact(strings.Join(segs, "/"))
}
