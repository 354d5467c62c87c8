package slackapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/refusal"
	"github.com/sever-ir/sever/service"
)

// InteractivityPath is where Slack's interactivity Request URL should point.
const InteractivityPath = "/slack/interactivity"

// Approval channels recorded with a decision (workflows.ApprovalChannels).
const (
	ChannelHTTP   = "slack-http"
	ChannelSocket = "slack-socket"
)

// Defaults of the Handler's tunables.
const (
	// MaxBodyBytes caps an interactivity request body.
	MaxBodyBytes = 64 << 10
	// DefaultDecideTimeout leaves room under Slack's 3-second acknowledgement limit.
	DefaultDecideTimeout = 2500 * time.Millisecond
	// DefaultFollowUpTimeout bounds the background retry of a Decide that did not
	// finish before the acknowledgement.
	DefaultFollowUpTimeout = 30 * time.Second
	// respondTimeout bounds one post to a response_url.
	respondTimeout = 10 * time.Second
	// signatureWindow is Slack's documented tolerance for X-Slack-Request-Timestamp.
	signatureWindow = 5 * time.Minute
)

// Decider takes a verified person's decision to the engine. *engine.Engine and any
// service.Service implement it.
type Decider interface {
	Decide(ctx context.Context, id string, r service.DecideRequest) (service.DecideResult, error)
}

// Handler serves Slack's interactivity requests (POST InteractivityPath): it checks
// the request signature, refuses replays, accepts only clicks on sever's Approve and
// Deny buttons, and passes the clicker's decision to Decider. It acknowledges within
// Slack's 3 seconds; what the clicker needs to know (refusal reasons, the outcome of a
// slow decision) goes back as an ephemeral message through the click's response_url.
//
// Use it by pointer; it must not be copied after first use.
type Handler struct {
	// SigningSecret is the app's signing secret. Without it every request is refused.
	SigningSecret string
	Decider       Decider
	// Now is the clock for the replay cache and the timestamp window (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Identities, when set, maps a Slack user in a team to the sever approver identity
	// the runbooks name; ok=false refuses the click. Without it the Slack user ID is the
	// approver.
	Identities func(slackUserID, teamID string) (approver string, ok bool)
	// Replay remembers processed requests (default: NewReplayCache(0, 0)).
	Replay ReplayCache
	// TeamID, when set, is the only Slack workspace whose clicks are accepted.
	TeamID string
	// AppID, when set, must equal the callback's api_app_id.
	AppID string
	// DecideTimeout bounds the Decide made before the acknowledgement (default 2.5 s).
	DecideTimeout time.Duration
	// FollowUpTimeout bounds the retry, after the acknowledgement, of a Decide that
	// ran out of time (default 30 s). The retry uses the same idempotency key.
	FollowUpTimeout time.Duration
	// HTTPClient posts ephemeral replies to response_url (default: a client with a
	// 10-second timeout).
	HTTPClient *http.Client
	// AllowResponseURL says whether a response_url may be posted to. The default
	// accepts only https URLs on slack.com and its subdomains.
	AllowResponseURL func(*url.URL) bool
	// Slash, when set, serves the /sever slash command arriving over Socket Mode
	// (RunSocketMode); over HTTP it has its own endpoint (SlashPath).
	Slash *SlashHandler
	// Refusals records the requests the handler refuses before they reach the
	// Decider (forged signature, replay, outsider); nil records none. The Decider
	// records what the workflow refuses.
	Refusals Refusals

	initOnce sync.Once
	replay   ReplayCache
	pending  sync.WaitGroup
}

func (h *Handler) init() {
	h.initOnce.Do(func() { h.replay = orNewReplay(h.Replay) })
}

// signed is the request check Handler shares with SlashHandler.
func (h *Handler) signed() requestGate {
	return requestGate{secret: h.SigningSecret, clock: h.Now, logger: h.Logger, refusals: h.Refusals,
		what: "slack interactivity request", logPrefix: "slack interactivity"}
}

func (h *Handler) now() time.Time { return h.signed().now() }

func (h *Handler) log() *slog.Logger { return h.signed().log() }

// Wait blocks until the ephemeral replies and follow-up decisions started so far
// have finished. Call it on shutdown, after the HTTP server stopped accepting.
func (h *Handler) Wait() { h.pending.Wait() }

// ephemeral is a response_url message (and an acknowledgement body) visible only to
// the person who clicked.
type ephemeral struct {
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	Text            string `json:"text"`
}

func newEphemeral(text string) *ephemeral {
	return &ephemeral{ResponseType: "ephemeral", Text: text}
}

// outcome is how to acknowledge one interaction.
type outcome struct {
	status int        // HTTP status for the acknowledgement
	body   *ephemeral // optional acknowledgement body
	reason string     // for 4xx: what was wrong (safe to show)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	body, ok := h.signed().read(w, r)
	if !ok {
		return
	}
	cb, err := parsePayload(body)
	if err != nil {
		h.log().Warn("slack interactivity: malformed payload", "error", err.Error())
		httpError(w, http.StatusBadRequest, "malformed interactivity payload")
		return
	}
	// Decide even if Slack hangs up: the timeout, not the connection, bounds it.
	ctx := context.WithoutCancel(r.Context())
	out := h.process(ctx, &cb, ChannelHTTP, "sig:"+r.Header.Get("X-Slack-Signature"))
	if out.status != http.StatusOK {
		httpError(w, out.status, out.reason)
		return
	}
	if out.body == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out.body)
}

// parsePayload extracts the interaction callback from a form-encoded body, as
// slack.InteractionCallbackParse does for a request.
func parsePayload(body []byte) (slack.InteractionCallback, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("form: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return slack.InteractionCallback{}, errors.New("payload is empty")
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("payload: %w", err)
	}
	return cb, nil
}

// click is one verified press of an Approve or Deny button.
type click struct {
	buttonValue
	Approve     bool
	UserID      string
	TeamID      string
	ActionTS    string
	ResponseURL string
}

// idempotencyKey names the click for the Decider (the workflow update ID).
func (c click) idempotencyKey() string {
	return "slack-" + c.TeamID + "." + c.ActionTS + "." + c.UserID
}

var errNotOurs = errors.New("not a sever approval click")

// clickFrom accepts only a block_actions callback carrying exactly one press of one
// of sever's buttons, whose value, action ID and block ID agree.
func clickFrom(cb *slack.InteractionCallback) (click, error) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return click{}, fmt.Errorf("%w: interaction type %q", errNotOurs, cb.Type)
	}
	acts := cb.ActionCallback.BlockActions
	if len(acts) != 1 || acts[0] == nil || len(cb.ActionCallback.AttachmentActions) != 0 {
		return click{}, fmt.Errorf("%w: want exactly one block action, got %d", errNotOurs, len(acts))
	}
	a := acts[0]
	var approve bool
	switch a.ActionID {
	case ActionApprove:
		approve = true
	case ActionDeny:
	default:
		return click{}, fmt.Errorf("%w: action id %q", errNotOurs, a.ActionID)
	}
	v, err := decodeButtonValue(a.Value)
	if err != nil {
		return click{}, err
	}
	if (v.Decision == DecisionApprove) != approve {
		return click{}, fmt.Errorf("%w: action %s carries decision %q", errNotOurs, a.ActionID, v.Decision)
	}
	if a.BlockID != BlockID(v.Incident, v.Step) {
		return click{}, fmt.Errorf("%w: block id does not match the button", errNotOurs)
	}
	c := click{buttonValue: v, Approve: approve, UserID: cb.User.ID, TeamID: cb.Team.ID,
		ActionTS: a.ActionTs, ResponseURL: cb.ResponseURL}
	if c.ActionTS == "" {
		c.ActionTS = cb.ActionTs
	}
	switch {
	case !validID(c.UserID):
		return click{}, fmt.Errorf("%w: no user", errNotOurs)
	case !validID(c.ActionTS):
		return click{}, fmt.Errorf("%w: no action_ts", errNotOurs)
	case c.TeamID != "" && !validID(c.TeamID):
		return click{}, fmt.Errorf("%w: bad team id", errNotOurs)
	}
	return c, nil
}

// process is the decision path shared by HTTP and Socket Mode. keys are the
// transport's replay keys (request signature, envelope ID).
func (h *Handler) process(ctx context.Context, cb *slack.InteractionCallback, via string, keys ...string) outcome {
	c, err := clickFrom(cb)
	if err != nil {
		h.log().Warn("slack interactivity: interaction refused", "via", via, "reason", err.Error(), "type", string(cb.Type))
		return outcome{status: http.StatusBadRequest, reason: "not a sever approval action"}
	}
	log := h.log().With("via", via, "incident", c.Incident, "step", c.Step, "decision", c.Decision,
		"slack_user", c.UserID, "slack_team", c.TeamID)

	now := h.now()
	replayed := false
	for _, k := range append(keys, "click:"+c.idempotencyKey()) {
		if k == "" {
			continue
		}
		// Record every key, even after a hit, so each is remembered.
		if h.replay.Seen(k, now) {
			replayed = true
		}
	}
	if replayed {
		log.Warn("slack interactivity: replayed request refused")
		h.refused(ctx, c.refusal(refusal.Replay, via, "this click was already processed"))
		return outcome{status: http.StatusOK, body: newEphemeral("This click was already processed.")}
	}

	if h.TeamID != "" && c.TeamID != h.TeamID {
		log.Warn("slack interactivity: click from a workspace that is not allowed")
		h.refused(ctx, c.refusal(refusal.Outsider, via, "click from Slack workspace "+c.TeamID+", which may not decide sever approvals"))
		h.respond(c.ResponseURL, ":no_entry: Your decision was not recorded: this Slack workspace may not decide sever approvals.")
		return outcome{status: http.StatusOK}
	}
	if h.AppID != "" && cb.APIAppID != h.AppID {
		log.Warn("slack interactivity: click for another Slack app", "api_app_id", cb.APIAppID)
		h.refused(ctx, c.refusal(refusal.Outsider, via, "click for another Slack app"))
		h.respond(c.ResponseURL, ":no_entry: Your decision was not recorded: the click came from another Slack app.")
		return outcome{status: http.StatusOK}
	}
	approver := c.UserID
	if h.Identities != nil {
		id, ok := h.Identities(c.UserID, c.TeamID)
		if !ok || strings.TrimSpace(id) == "" {
			log.Warn("slack interactivity: Slack user is not mapped to a sever approver")
			h.refused(ctx, c.refusal(refusal.Outsider, via, "Slack user is not mapped to a sever approver"))
			h.respond(c.ResponseURL, ":no_entry: Your decision was not recorded: your Slack account is not mapped to a sever approver.")
			return outcome{status: http.StatusOK}
		}
		approver = id
	}
	if h.Decider == nil {
		log.Error("slack interactivity: no decider configured")
		h.respond(c.ResponseURL, ":warning: Your decision was not recorded: sever is misconfigured (no decision service). Use the CLI or API.")
		return outcome{status: http.StatusOK}
	}
	log = log.With("approver", approver)

	req := service.DecideRequest{Step: c.Step, Approve: c.Approve, ArgsSHA256: c.ArgsSHA256,
		Approver: approver, Channel: via, Nonce: c.Nonce, IdempotencyKey: c.idempotencyKey()}
	timeout := h.DecideTimeout
	if timeout <= 0 {
		timeout = DefaultDecideTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := h.Decider.Decide(dctx, c.Incident, req)
	cancel()
	if err != nil && retryable(err) {
		// Not finished in time: acknowledge now, finish in the background with the same
		// idempotency key (the update ID dedupes it) and tell the clicker the outcome.
		log.Warn("slack interactivity: decision still pending at acknowledgement; retrying in background", "error", err.Error())
		h.background(func() {
			ft := h.FollowUpTimeout
			if ft <= 0 {
				ft = DefaultFollowUpTimeout
			}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ft)
			defer cancel()
			res, err := h.Decider.Decide(fctx, c.Incident, req)
			h.report(log, c, res, err)
		})
		return outcome{status: http.StatusOK}
	}
	h.report(log, c, res, err)
	return outcome{status: http.StatusOK}
}

// retryable reports whether Decide failed because it ran out of time or the engine
// was unreachable, rather than because the decision was refused.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var se *sever.Error
	return errors.As(err, &se) && se.Code == sever.EUNAVAILABLE
}

// report logs the outcome of a decision and tells the clicker.
func (h *Handler) report(log *slog.Logger, c click, res service.DecideResult, err error) {
	if err == nil {
		log.Info("slack interactivity: decision recorded", "status", res.Status, "remaining", res.Remaining)
		h.respond(c.ResponseURL, recordedText(c, res))
		return
	}
	var se *sever.Error
	if errors.As(err, &se) && se.Code != sever.EINTERNAL && se.Code != sever.EUNAVAILABLE {
		log.Warn("slack interactivity: decision refused", "code", se.Code, "reason", se.Message)
		h.respond(c.ResponseURL, ":no_entry: Your decision was not recorded: "+escape(se.Message))
		return
	}
	log.Error("slack interactivity: decision failed", "error", err.Error())
	h.respond(c.ResponseURL, fmt.Sprintf(":warning: Your decision on step %s of incident %s could not be recorded right now. Click again in a moment, or decide through the sever CLI or API.",
		code(c.Step), code(c.Incident)))
}

func recordedText(c click, res service.DecideResult) string {
	verb := "denial"
	if c.Approve {
		verb = "approval"
	}
	text := fmt.Sprintf(":white_check_mark: Your %s of step %s in incident %s was recorded", verb, code(c.Step), code(c.Incident))
	switch {
	case res.Status == string(sever.StepSkipped):
		text += "; the step was skipped."
	case res.Status == string(sever.StepRunning):
		text += "; the step runs now."
	case res.Remaining > 0:
		text += fmt.Sprintf("; %d more approval(s) needed.", res.Remaining)
	default:
		text += "."
	}
	return text
}

func (h *Handler) background(f func()) {
	h.pending.Add(1)
	go func() {
		defer h.pending.Done()
		f()
	}()
}

// respond posts an ephemeral message to the clicker through response_url, in the
// background so the acknowledgement is not delayed. The URL is a credential for the
// message: it is never logged.
func (h *Handler) respond(responseURL, text string) {
	if responseURL == "" {
		return
	}
	u, err := url.Parse(responseURL)
	if err != nil || !h.allowResponseURL(u) {
		h.log().Warn("slack interactivity: response_url refused; the clicker gets no reply")
		return
	}
	body, err := json.Marshal(newEphemeral(text))
	if err != nil {
		return
	}
	client := h.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: respondTimeout}
	}
	h.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), respondTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the url.Error would print the response_url
			}
			h.log().Warn("slack interactivity: ephemeral reply failed", "error", err.Error())
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			h.log().Warn("slack interactivity: ephemeral reply refused by Slack", "status", resp.StatusCode)
		}
	})
}

func (h *Handler) allowResponseURL(u *url.URL) bool {
	if h.AllowResponseURL != nil {
		return h.AllowResponseURL(u)
	}
	host := u.Hostname()
	return u.Scheme == "https" && u.User == nil && (host == "slack.com" || strings.HasSuffix(host, ".slack.com"))
}

// Refusals records refused requests (*refusal.Recorder).
type Refusals interface {
	Refused(ctx context.Context, f refusal.Refusal)
}

func (h *Handler) refused(ctx context.Context, f refusal.Refusal) { h.signed().refused(ctx, f) }

// refusal is the record of a refused click: the request was signed by Slack, so
// the user, team and incident it names are Slack's word.
func (c click) refusal(reason, via, why string) refusal.Refusal {
	what := "deny"
	if c.Approve {
		what = "approve"
	}
	return refusal.Refusal{Reason: reason, Incident: c.Incident, Step: c.Step, Who: c.UserID, Channel: via,
		What: what, Why: why, Drill: strings.HasPrefix(c.Incident, "drill-")}
}
