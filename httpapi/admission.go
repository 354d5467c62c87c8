package httpapi

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

// ETOOMANY is the code of a refusal by admission control (HTTP 429): a rate or a
// quota was exceeded. The answer carries Retry-After.
const ETOOMANY = "too_many_requests"

// Limits is admission control at intake. A zero rate or count turns that limit off.
type Limits struct {
	// CredentialRate and CredentialBurst limit signals about one credential (one
	// incident identity: provider, type and id), in signals per second.
	CredentialRate  float64
	CredentialBurst int
	// TokenRate and TokenBurst limit signals from one token (or the GitHub webhook).
	TokenRate  float64
	TokenBurst int
	// IncidentsPerToken is how many new incidents one token may open per
	// IncidentWindow; signals that join an open incident are not counted.
	IncidentsPerToken int
	IncidentWindow    time.Duration
	// MaxTracked caps how many credentials (and, separately, tokens) have limiter
	// state at once; the least recently seen is dropped first. 0 means DefaultMaxTracked.
	MaxTracked int
}

// Defaults of Limits, sized so a real sender never meets them while a flood about
// one credential is cut to a rate an incident can record.
const (
	DefaultCredentialRate    = 50
	DefaultCredentialBurst   = 200
	DefaultTokenRate         = 200
	DefaultTokenBurst        = 1000
	DefaultIncidentsPerToken = 100
	DefaultIncidentWindow    = time.Hour
	DefaultMaxTracked        = 10000
)

// DefaultLimits returns the limits New applies when Options.Limits is nil.
func DefaultLimits() Limits {
	return Limits{
		CredentialRate: DefaultCredentialRate, CredentialBurst: DefaultCredentialBurst,
		TokenRate: DefaultTokenRate, TokenBurst: DefaultTokenBurst,
		IncidentsPerToken: DefaultIncidentsPerToken, IncidentWindow: DefaultIncidentWindow,
		MaxTracked: DefaultMaxTracked,
	}
}

func (l Limits) check() error {
	switch {
	case l.CredentialRate < 0 || l.CredentialBurst < 0 || l.TokenRate < 0 || l.TokenBurst < 0:
		return fmt.Errorf("Options.Limits: rates and bursts must not be negative")
	case l.CredentialRate > 0 && l.CredentialBurst == 0, l.TokenRate > 0 && l.TokenBurst == 0:
		return fmt.Errorf("Options.Limits: a rate needs a burst of at least 1")
	case l.IncidentsPerToken < 0 || l.IncidentWindow < 0 || l.MaxTracked < 0:
		return fmt.Errorf("Options.Limits: quota, window and MaxTracked must not be negative")
	case l.IncidentsPerToken > 0 && l.IncidentWindow == 0:
		return fmt.Errorf("Options.Limits: IncidentsPerToken needs an IncidentWindow")
	}
	return nil
}

// LimitError is a refusal by admission control: the error JSON to send and how long
// the client should wait before it tries again.
type LimitError struct {
	Err        *sever.Error
	RetryAfter time.Duration
}

func (e *LimitError) Error() string { return e.Err.Error() }
func (e *LimitError) Unwrap() error { return e.Err }

// retryAfterSeconds rounds up, and never answers 0: a client told "retry after 0"
// retries at once, which is what a flood already does.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// admission holds the limiter state of one Server.
type admission struct {
	limits Limits
	now    func() time.Time
	creds  *keyedLimiters // by incident identity
	tokens *keyedLimiters // by token name
	mu     sync.Mutex
	opens  map[string][]opening // token name → incidents it opened in the window, oldest first
}

func newAdmission(l Limits, now func() time.Time) *admission {
	if l.MaxTracked == 0 {
		l.MaxTracked = DefaultMaxTracked
	}
	return &admission{
		limits: l, now: now,
		creds:  newKeyedLimiters(rate.Limit(l.CredentialRate), l.CredentialBurst, l.MaxTracked),
		tokens: newKeyedLimiters(rate.Limit(l.TokenRate), l.TokenBurst, l.MaxTracked),
		opens:  map[string][]opening{},
	}
}

// admit decides whether a signal from token about the credential whose incident
// identity is key may go on. On refusal the shed signal is counted against key, so
// the next accepted signal about it reports the count (see take).
//
// The token's bucket is asked first. Tokens are a small configured set; credentials
// are whatever a caller names. A signal its token's rate refuses therefore never
// spends its credential's budget (other tokens' signals about that credential would
// be shed for it) nor makes or refreshes the credential's limiter state (a refused
// flood about distinct credentials would push every other credential's state out of
// the LRU, an empty bucket coming back full and its shed count lost). When the
// credential refuses after the token allowed, the token gets its reservation back:
// the signal went no further.
func (a *admission) admit(token, key string) (reason string, _ *LimitError) {
	now := a.now()
	release, wait, ok := a.tokens.allow(token, now)
	if !ok {
		a.creds.shed(key)
		return ShedTokenRate, &LimitError{RetryAfter: wait, Err: sever.Errorf(ETOOMANY, "",
			"too many signals from token %q: at most %g per second (burst %d); retry after %d s",
			token, a.limits.TokenRate, a.limits.TokenBurst, retryAfterSeconds(wait))}
	}
	if _, wait, ok := a.creds.allow(key, now); !ok {
		release()
		a.creds.shed(key)
		return ShedCredentialRate, &LimitError{RetryAfter: wait, Err: sever.Errorf(ETOOMANY, "credential",
			"too many signals about this credential: at most %g per second (burst %d); retry after %d s",
			a.limits.CredentialRate, a.limits.CredentialBurst, retryAfterSeconds(wait))}
	}
	return "", nil
}

// opening is one incident a token opened, and when.
type opening struct {
	at  time.Time
	key string
}

// reserveOpen takes one of token's incident openings for the incident whose identity
// is key, or says when one frees up. The returned release gives the opening back (the
// incident was not opened after all). An incident the token already opened in the
// window is not charged again: first signals about one credential racing each other
// (a storm's first burst) find no incident yet and would otherwise each pay.
func (a *admission) reserveOpen(token, key string) (release func(), err error) {
	n, window := a.limits.IncidentsPerToken, a.limits.IncidentWindow
	if n == 0 {
		return func() {}, nil
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	times := a.opens[token]
	// Drop openings that left the window; the slice is oldest first.
	i := 0
	for i < len(times) && !times[i].at.After(now.Add(-window)) {
		i++
	}
	times = times[i:]
	a.opens[token] = times
	for _, o := range times {
		if o.key == key {
			return func() {}, nil
		}
	}
	if len(times) >= n {
		wait := times[0].at.Add(window).Sub(now)
		return nil, &LimitError{RetryAfter: wait, Err: sever.Errorf(ETOOMANY, "",
			"token %q reached its incident quota: at most %d new incidents per %s (intake.limits.incidents); retry after %d s",
			token, n, window, retryAfterSeconds(wait))}
	}
	mine := opening{at: now, key: key}
	a.opens[token] = append(times, mine)
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		ts := a.opens[token]
		for j := len(ts) - 1; j >= 0; j-- {
			if ts[j] == mine {
				a.opens[token] = append(ts[:j:j], ts[j+1:]...)
				return
			}
		}
	}, nil
}

// keyedLimiters is a token bucket per key with a cap on the number of keys: the
// least recently admitted key is evicted first. An idle key's bucket has refilled, so
// evicting it loses nothing but its count of shed signals not yet reported. Only an
// admitted signal makes a key's state or moves it to the front; a refusal leaves
// the order alone, so what a caller cannot get admitted cannot evict anyone.
type keyedLimiters struct {
	limit rate.Limit
	burst int
	max   int
	mu    sync.Mutex
	lru   *list.List // of *keyedEntry, most recent at the front
	byKey map[string]*list.Element
}

type keyedEntry struct {
	key  string
	lim  *rate.Limiter
	shed int
}

// maxShedCount bounds the shed count kept per key; a flood past it is still
// refused and counted by the metric, only the per-incident number saturates.
const maxShedCount = 1 << 30

func newKeyedLimiters(limit rate.Limit, burst, max int) *keyedLimiters {
	return &keyedLimiters{limit: limit, burst: burst, max: max, lru: list.New(), byKey: map[string]*list.Element{}}
}

// entry returns key's entry, making it (and evicting the oldest) as needed. The
// caller holds k.mu.
func (k *keyedLimiters) entry(key string) *keyedEntry {
	if el, ok := k.byKey[key]; ok {
		k.lru.MoveToFront(el)
		return el.Value.(*keyedEntry)
	}
	return k.push(&keyedEntry{key: key, lim: rate.NewLimiter(k.limit, k.burst)})
}

// push puts e, a key without state, at the front, evicting the oldest as needed.
// The caller holds k.mu.
func (k *keyedLimiters) push(e *keyedEntry) *keyedEntry {
	for k.lru.Len() >= k.max {
		old := k.lru.Back()
		k.lru.Remove(old)
		delete(k.byKey, old.Value.(*keyedEntry).key)
	}
	k.byKey[e.key] = k.lru.PushFront(e)
	return e
}

// allow takes one token from key's bucket at now, or says how long until one is
// there; release gives a taken token back. Only a taken token makes or refreshes
// key's state. A key without state has a full bucket, so it is asked of a fresh
// limiter that is kept only when it allows.
func (k *keyedLimiters) allow(key string, now time.Time) (release func(), wait time.Duration, ok bool) {
	if k.limit == 0 {
		return func() {}, 0, true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	el, tracked := k.byKey[key]
	var lim *rate.Limiter
	if tracked {
		lim = el.Value.(*keyedEntry).lim
	} else {
		lim = rate.NewLimiter(k.limit, k.burst)
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d, false
	}
	if tracked {
		k.lru.MoveToFront(el)
	} else {
		k.push(&keyedEntry{key: key, lim: lim})
	}
	return func() { r.CancelAt(now) }, 0, true
}

// shed counts a refused signal against key. It neither refreshes key nor evicts
// another: a key without state gets an entry only while there is room, at the back,
// where it is the first to go, so refused signals cannot push out the state of keys
// that were admitted.
func (k *keyedLimiters) shed(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var e *keyedEntry
	if el, ok := k.byKey[key]; ok {
		e = el.Value.(*keyedEntry)
	} else if k.lru.Len() < k.max {
		e = &keyedEntry{key: key, lim: rate.NewLimiter(k.limit, k.burst)}
		k.byKey[key] = k.lru.PushBack(e)
	} else {
		return // the metric still counts it; only this key's shed_before misses it
	}
	if e.shed < maxShedCount {
		e.shed++
	}
}

// take returns and clears key's count of shed signals.
func (k *keyedLimiters) take(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	el, ok := k.byKey[key]
	if !ok {
		return 0
	}
	e := el.Value.(*keyedEntry)
	n := e.shed
	e.shed = 0
	return n
}

// giveBack returns a count taken by take whose signal did not reach the engine.
func (k *keyedLimiters) giveBack(key string, n int) {
	if n == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.entry(key); e.shed < maxShedCount {
		e.shed = min(maxShedCount, e.shed+n)
	}
}

// len reports how many keys have state, for tests of the cap.
func (k *keyedLimiters) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}

// submit hands sig to the engine through admission control: the per-token and
// per-credential rates first (in that order, see admit), then, if the engine is about to open a new incident, the
// token's incident quota. A refused signal is counted (metric and the credential's
// shed count); an accepted one carries the count of those shed before it.
func (s *Server) submit(ctx context.Context, sig sever.Signal) (service.SubmitResult, error) {
	return s.submitWith(ctx, sig, false, s.svc.SubmitSignal)
}

// submitWith is submit with the engine call send (SubmitSignal, or Contain for an
// on-demand containment), so both go through the same admission control. The
// request asks for an asynchronous answer when async is set or the client sent
// "Prefer: respond-async".
func (s *Server) submitWith(ctx context.Context, sig sever.Signal, async bool, send func(context.Context, service.SubmitRequest) (service.SubmitResult, error)) (service.SubmitResult, error) {
	token := Principal(ctx)
	key := sever.IncidentID(sig.Credential)
	if sig.Drill {
		key = "drill-" + key
	}
	if reason, le := s.admission.admit(token, key); le != nil {
		s.countShed(reason)
		return service.SubmitResult{}, le
	}
	sig.ShedBefore = s.admission.creds.take(key)
	quotaRefused := false
	// The engine charges a new incident to the token's quota through ReserveOpen;
	// its error is a *LimitError when the quota is used up.
	reserve := func() (func(), error) {
		release, err := s.admission.reserveOpen(token, key)
		if err != nil {
			quotaRefused = true
			s.countShed(ShedIncidentQuota)
		}
		return release, err
	}
	res, err := send(ctx, service.SubmitRequest{Signal: sig, RespondAsync: async || respondAsync(ctx), ReserveOpen: reserve})
	if err != nil {
		n := sig.ShedBefore
		if quotaRefused {
			n++
		}
		s.admission.creds.giveBack(key, n)
		return service.SubmitResult{}, err
	}
	return res, nil
}

func (s *Server) countShed(reason string) {
	if s.shedCount != nil {
		s.shedCount.SignalShed(reason)
	}
}

// checkDrill refuses a drill signal unless the request's token has ScopeDrillsWrite
// and this server runs drills at all. A drill incident runs under the policy's drill
// rules, so the flag is a capability, never just a field of the body.
func (s *Server) checkDrill(ctx context.Context) error {
	tok, _ := ctx.Value(principalKey{}).(*tokenEntry)
	if tok == nil || !tok.allows(ScopeDrillsWrite) {
		name := ""
		if tok != nil {
			name = tok.name
		}
		return sever.Errorf(EFORBIDDEN, "drill", "token %q lacks scope %q, which a drill signal needs", name, ScopeDrillsWrite)
	}
	if !s.drills {
		return sever.Errorf(EFORBIDDEN, "drill",
			"drill incidents are off on this server: they run only where every action goes to the drill cloud (sever dev with its drill cloud, sever drill run)")
	}
	return nil
}
