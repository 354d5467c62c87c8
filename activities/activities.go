// Package activities holds what every action package shares: how actions register
// under their stable names, how they decode their arguments, and the stable error
// types that mark a failure as permanent.
package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
)

// Registrar is the part of a Temporal worker that actions need.
type Registrar interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Action is the signature every runbook action has.
type Action = func(context.Context, sever.ActionInput) (sever.ActionResult, error)

// Register registers fn under the action's stable name. It panics when the name is
// not in sever.Catalog: a runbook could never name it, so it is a wiring bug.
//
// A mutating action is registered wrapped so that it heartbeats while it runs: the
// workflow gives mutating steps a heartbeat timeout, and a heartbeat is the only way
// a close reaches a running action. The action itself need not know.
func Register(r Registrar, name string, fn any) {
	spec, ok := sever.Catalog[name]
	if !ok {
		panic(fmt.Sprintf("activities: register %q: not in sever.Catalog", name))
	}
	if spec.Mutating {
		act, ok := fn.(Action)
		if !ok {
			panic(fmt.Sprintf("activities: register %q: a mutating action must be a %T, not %T", name, act, fn))
		}
		fn = heartbeating(act, heartbeatEvery, sendHeartbeat)
	}
	r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
}

// defaultHeartbeatEvery is how often an action heartbeats when its activity has no
// heartbeat timeout: heartbeats still carry a cancellation to it.
const defaultHeartbeatEvery = 10 * time.Second

// heartbeatEvery beats three times per heartbeat timeout, so one lost heartbeat does
// not time the activity out.
func heartbeatEvery(ctx context.Context) time.Duration {
	if hb := activity.GetInfo(ctx).HeartbeatTimeout; hb > 0 {
		return max(hb/3, 10*time.Millisecond)
	}
	return defaultHeartbeatEvery
}

func sendHeartbeat(ctx context.Context, details ...any) {
	activity.RecordHeartbeat(ctx, details...)
}

// progress holds the latest heartbeat details of a running action. Temporal keeps
// only the latest heartbeat's details, so the wrapper's own heartbeats repeat them
// rather than erase what the action (or its previous attempt) recorded.
type progress struct {
	mu      sync.Mutex
	details []any
}

type progressKey struct{}

func (p *progress) get() []any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.details
}

func (p *progress) set(details []any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.details = details
}

// RecordHeartbeat records a running action's progress details and sends them (the
// SDK sends an attempt's first heartbeat at once; the registration sends none first).
// Actions registered with Register use it instead of activity.RecordHeartbeat, so the
// registration's periodic heartbeats keep sending the same details.
func RecordHeartbeat(ctx context.Context, details ...any) {
	if p, ok := ctx.Value(progressKey{}).(*progress); ok {
		p.set(details)
	}
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details...)
	}
}

// heartbeating wraps fn so that it heartbeats (through send) every every(ctx) until
// it returns; the heartbeats have stopped by the time it returns. Details of the
// previous attempt's last heartbeat are repeated until fn records its own, so a
// third attempt still learns what the first one was about to do.
//
// It sends nothing when fn starts. The SDK sends the first heartbeat of an attempt
// at once and holds later ones for most of the heartbeat timeout (8 s of 10): a
// heartbeat from the wrapper at the start would hold back the write intent an
// action records just before its write, so an attempt on another worker could miss
// it. Temporal keeps the previous attempt's details until this one heartbeats, and
// an action quicker than one interval (most provider calls) costs no heartbeat at all.
func heartbeating(fn Action, every func(context.Context) time.Duration, send func(context.Context, ...any)) Action {
	return func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
		if !activity.IsActivity(ctx) {
			return fn(ctx, in)
		}
		p := &progress{}
		if activity.HasHeartbeatDetails(ctx) {
			var prev json.RawMessage
			if err := activity.GetHeartbeatDetails(ctx, &prev); err == nil {
				p.details = []any{prev}
			}
		}
		ctx = context.WithValue(ctx, progressKey{}, p)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(every(ctx))
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					send(ctx, p.get()...)
				}
			}
		}()
		defer func() {
			close(stop)
			<-done
		}()
		return fn(ctx, in)
	}
}

// Stable error types. The workflow lists them as non-retryable.
const (
	ErrInvalidArgument = "InvalidArgument"
	ErrAccessDenied    = "AccessDenied"
	ErrNotFound        = "NotFound"
	ErrForbidden       = "Forbidden"
	ErrUnsupported     = "Unsupported"
)

// Permanent returns a non-retryable error of a stable type that names the operation.
func Permanent(errType, op string, cause error) error {
	msg := op
	if cause != nil {
		msg = op + ": " + cause.Error()
	}
	return temporal.NewNonRetryableApplicationError(msg, errType, cause)
}

// DecodeArgs decodes an action's arguments into a typed struct, refusing unknown
// names so a typo in a runbook fails the step instead of being ignored.
func DecodeArgs(action string, args sever.Values, into any) error {
	if len(args) == 0 {
		return nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return Permanent(ErrInvalidArgument, action+": encode args", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return Permanent(ErrInvalidArgument, action+": args", err)
	}
	return nil
}

// SentBefore reports whether an earlier attempt of this activity recorded marker as
// its last heartbeat detail. An action that cannot be read back once applied (a
// revoked token, a removed secret: both simply vanish) records a marker just before
// its write; a retry that then finds the credential gone knows this step removed
// it, while one without the marker must not claim containment of something it never
// saw (a typo in the id, another tenant's credential).
func SentBefore(ctx context.Context, marker string) bool {
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return false
	}
	var d string
	if err := activity.GetHeartbeatDetails(ctx, &d); err != nil {
		var raw json.RawMessage
		if activity.GetHeartbeatDetails(ctx, &raw) != nil || json.Unmarshal(raw, &d) != nil {
			return false
		}
	}
	return d == marker
}

// Expect reads a status action's expect argument: "" means states[0], the
// default, and a value not among states is a permanent InvalidArgument that names
// them. Every status action parses expect this way, so they answer alike.
func Expect(action, expect string, states ...string) (string, error) {
	if expect == "" {
		return states[0], nil
	}
	if slices.Contains(states, expect) {
		return expect, nil
	}
	list := states[len(states)-1]
	if len(states) > 1 {
		list = strings.Join(states[:len(states)-1], ", ") + " or " + list
	}
	return "", Permanent(ErrInvalidArgument, fmt.Sprintf("%s: expect %q is not %s", action, expect, list), nil)
}
