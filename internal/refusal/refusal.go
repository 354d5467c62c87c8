// Package refusal puts refused decisions on the record. A Temporal Update validator
// refuses a forged, self-granted, stale or late approval without a trace in the
// workflow's history, which is how it must be: a refusal must not grow or change an
// incident's history. The refusal is seen where it is observed instead (the engine
// that got the validator's rejection, the Slack handler that refused a signature or
// a replay), and a Recorder appends it to the ledger from there as a security fact:
// who, what, why.
//
// The ledger is sever's shared state (the SQLite file of one host, or PostgreSQL
// with database.url), so the API process records directly, whether or not the worker
// runs in it; no workflow and no activity is involved.
//
// A flood of refusals must not grow the ledger without limit: per window, a source
// (incident, reason and who) gets a few entries of its own, and the whole process a
// bounded number; the rest are counted and written as one summary entry per source
// when the window ends. Every refusal is counted in the metrics either way.
package refusal

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/ledger"
)

// Reasons: the wire vocabulary of refusals, in the ledger (detail "reason") and in
// the sever_decisions_refused_total{reason} metric.
const (
	Outsider        = "outsider"         // not an approver of the step, or not from an allowed workspace or app
	SelfApproval    = "self_approval"    // the person who raised the incident approving its actions
	WrongArguments  = "wrong_arguments"  // a decision bound to other step arguments
	AfterDeadline   = "after_deadline"   // the approval deadline had passed
	AfterQuorum     = "after_quorum"     // the step was already approved (quorum met) or denied
	StaleRequest    = "stale_request"    // an earlier or other approval request (nonce)
	ForgedSignature = "forged_signature" // a bad Slack signature, or a decision the engine did not sign
	Replay          = "replay"           // a request already processed
	AlreadyDecided  = "already_decided"  // the same person deciding twice
	NotWaiting      = "not_waiting"      // the step is not waiting for approval
	UnknownStep     = "unknown_step"     // the incident has no such step
	Invalid         = "invalid"          // no identity, an unknown channel, no approvers configured
)

// Reasons lists every reason.
var Reasons = []string{Outsider, SelfApproval, WrongArguments, AfterDeadline, AfterQuorum, StaleRequest,
	ForgedSignature, Replay, AlreadyDecided, NotWaiting, UnknownStep, Invalid}

// SecurityChain is the ledger chain of refusals that name no incident sever can
// trust (a forged request's body is not read).
const SecurityChain = "sever-security"

// Refusal is one refused decision or request.
type Refusal struct {
	Reason string
	// Incident and Step are what the request named; Incident is empty when the
	// request could not be trusted to name one (a forged signature).
	Incident string
	Step     string
	// Who is the verified identity that asked (approver, token, Slack user), or for
	// an unauthenticated request, where it came from (remote address).
	Who string
	// Channel is where the request came in: slack-http, slack-socket, cli, api, drill.
	Channel string
	// What was asked: "approve", "deny", "slack interactivity request".
	What string
	// Why is the refusal as the requester was told it.
	Why string
	// Drill refusals go to the drill ledger.
	Drill bool
}

// Appender is the part of a ledger store the recorder uses.
type Appender interface {
	Append(ctx context.Context, e ledger.Entry) (ledger.Entry, bool, error)
}

// Defaults of the Recorder's bounds.
const (
	DefaultWindow    = time.Minute
	DefaultPerSource = 3
	DefaultPerWindow = 50
	DefaultMaxKeys   = 64
)

// Recorder appends refusals to the ledger within bounds and counts them. The zero
// value records nothing to any ledger but is safe to use; set Ledger (and Drill)
// to record. Its methods are safe for concurrent use; a nil *Recorder does nothing.
type Recorder struct {
	// Ledger and Drill return the production and drill ledger, or nil when none is
	// open (yet): the refusal is then counted and logged only.
	Ledger func() Appender
	Drill  func() Appender
	// Counted is called once per refusal; Aggregated once per refusal folded into a
	// summary (the metrics).
	Counted    func(reason string)
	Aggregated func(reason string)
	Logger     *slog.Logger
	// Window, PerSource, PerWindow and MaxKeys bound the ledger entries (zero: the
	// defaults): per window, each source gets PerSource entries of its own and the
	// recorder PerWindow in all; past MaxKeys distinct sources, new ones share one.
	Window    time.Duration
	PerSource int
	PerWindow int
	MaxKeys   int
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	start   time.Time // of the current window
	written int
	sources map[source]*tally
}

// source is what the bounds count by.
type source struct {
	incident, reason, who string
	drill                 bool
}

type tally struct {
	seen, folded int
	channel      string
	step         string
}

func (r *Recorder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Recorder) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Refused records one refusal. It never fails the caller: a ledger that cannot be
// written is logged, and the refusal stays counted in the metrics.
func (r *Recorder) Refused(ctx context.Context, f Refusal) {
	if r == nil {
		return
	}
	f.Reason = cmp.Or(f.Reason, Invalid)
	f.Who, f.Incident, f.Step, f.Channel = ident(f.Who, "unknown"), ident(f.Incident, ""), ident(f.Step, ""), ident(f.Channel, "")
	if r.Counted != nil {
		r.Counted(f.Reason)
	}
	now := r.now().UTC()
	r.mu.Lock()
	summaries := r.roll(now)
	k := source{incident: cmp.Or(f.Incident, SecurityChain), reason: f.Reason, who: f.Who, drill: f.Drill}
	t := r.sources[k]
	if t == nil && len(r.sources) >= cmp.Or(r.MaxKeys, DefaultMaxKeys) {
		// Too many sources this window: the new ones share one tally.
		k = source{incident: SecurityChain, reason: f.Reason, who: "other", drill: f.Drill}
		t = r.sources[k]
	}
	if t == nil {
		t = &tally{channel: f.Channel, step: f.Step}
		r.sources[k] = t
	}
	t.seen++
	own := t.seen <= cmp.Or(r.PerSource, DefaultPerSource) && r.written < cmp.Or(r.PerWindow, DefaultPerWindow)
	if own {
		r.written++
	} else {
		t.folded++
	}
	r.mu.Unlock()

	r.write(ctx, summaries)
	if !own {
		if r.Aggregated != nil {
			r.Aggregated(f.Reason)
		}
		return
	}
	f.Incident = k.incident
	r.write(ctx, []pending{{drill: f.Drill, e: entry(f, now)}})
}

// Flush writes the summaries of the window so far and starts a new one. Call it on
// shutdown; Run calls it at the end of every window.
func (r *Recorder) Flush(ctx context.Context) {
	if r == nil {
		return
	}
	r.mu.Lock()
	summaries := r.summaries(r.now().UTC())
	r.start, r.written, r.sources = r.now().UTC(), 0, map[source]*tally{}
	r.mu.Unlock()
	r.write(ctx, summaries)
}

// Run flushes at the end of every window until ctx ends, then flushes once more.
func (r *Recorder) Run(ctx context.Context) {
	if r == nil {
		return
	}
	t := time.NewTicker(cmp.Or(r.Window, DefaultWindow))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			r.Flush(ctx)
		}
	}
}

type pending struct {
	drill bool
	e     ledger.Entry
}

// roll starts a new window when the current one has ended and returns the
// summaries of the one that ended. r.mu is held.
func (r *Recorder) roll(now time.Time) []pending {
	if r.sources == nil {
		r.start, r.sources = now, map[source]*tally{}
		return nil
	}
	if now.Sub(r.start) < cmp.Or(r.Window, DefaultWindow) {
		return nil
	}
	out := r.summaries(now)
	r.start, r.written, r.sources = now, 0, map[source]*tally{}
	return out
}

// summaries are the entries for the refusals folded since the window started. r.mu
// is held.
func (r *Recorder) summaries(now time.Time) []pending {
	var out []pending
	for k, t := range r.sources {
		if t.folded == 0 {
			continue
		}
		e := ledger.Entry{Incident: k.incident, At: now, Kind: ledger.KindRefusedDecision, Actor: k.who, Step: t.step,
			Result: strconv.Itoa(t.folded) + " more " + k.reason + " refusals from this source, not written one by one",
			Detail: map[string]string{"reason": k.reason, "channel": t.channel, "count": strconv.Itoa(t.folded),
				"seen": strconv.Itoa(t.seen), "window_start": r.start.Format(time.RFC3339Nano),
				"window_end": now.Format(time.RFC3339Nano)},
			Key: "refused/summary/" + strconv.FormatInt(r.start.UnixNano(), 10) + "/" + nonce()}
		out = append(out, pending{drill: k.drill, e: e})
	}
	return out
}

func entry(f Refusal, at time.Time) ledger.Entry {
	d := map[string]string{"reason": f.Reason}
	if f.Channel != "" {
		d["channel"] = f.Channel
	}
	if f.What != "" {
		d["what"] = f.What
	}
	return ledger.Entry{Incident: f.Incident, At: at, Kind: ledger.KindRefusedDecision, Actor: f.Who, Step: f.Step,
		Result: cmp.Or(f.Why, f.Reason), Detail: d,
		Key: "refused/" + strconv.FormatInt(at.UnixNano(), 10) + "/" + nonce()}
}

func (r *Recorder) write(ctx context.Context, ps []pending) {
	for _, p := range ps {
		get := r.Ledger
		if p.drill {
			get = r.Drill
		}
		var l Appender
		if get != nil {
			l = get()
		}
		if l == nil {
			r.log().Warn("refused decision not recorded: no ledger is open", "incident", p.e.Incident,
				"reason", p.e.Detail["reason"], "who", p.e.Actor)
			continue
		}
		_, _, err := l.Append(ctx, p.e)
		var se *sever.Error
		if errors.As(err, &se) {
			// The ledger refused a value (it looked like secret material, say): keep
			// the fact without the free text.
			p.e.Result, p.e.Step = "refused decision; its text was refused by the ledger", ""
			_, _, err = l.Append(ctx, p.e)
		}
		if err != nil {
			r.log().Warn("refused decision not recorded", "incident", p.e.Incident, "reason", p.e.Detail["reason"], "err", err)
		}
	}
}

// ident makes a value usable as a ledger identifier: printable ASCII without
// spaces, at most 128 bytes. Values outside it become "" (or def).
func ident(s, def string) string {
	s = strings.TrimSpace(s)
	if len(s) > 128 {
		s = s[:128]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return def
		}
	}
	return cmp.Or(s, def)
}

// nonce makes keys unique across processes that record into one ledger.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
