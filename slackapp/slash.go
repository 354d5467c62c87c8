package slackapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/internal/refusal"
	"github.com/sever-ir/sever/internal/secretscan"
	"github.com/sever-ir/sever/service"
)

// SlashPath is where the Request URL of sever's slash command (/sever) should point.
const SlashPath = "/slack/commands"

// DefaultContainTimeout leaves room under Slack's 3-second limit for a slash command.
const DefaultContainTimeout = 2500 * time.Millisecond

// Container contains a credential for an operator the caller has authenticated;
// *httpapi.Server implements it with the API's checks and admission control.
type Container interface {
	Contain(ctx context.Context, r httpapi.ContainRequest) (service.SubmitResult, error)
}

// Operator is who a Slack user is to sever: the operator's name (what the
// incident and the admission quota see) and their approval identity.
type Operator struct {
	Name     string
	Approver string
}

// SlashHandler serves sever's slash command: `/sever contain <type> <id>
// [runbook=NAME] [provider=P] [account=A] [principal=X] reason…`. It checks the
// request's Slack signature and timestamp window exactly as Handler does for
// interactivity, refuses a request it has already seen (401), maps the Slack user to
// an operator, and opens or joins the credential's incident with that operator as
// the reporter, so they cannot approve it themselves. The answer is an ephemeral
// message to the person who typed the command.
type SlashHandler struct {
	// SigningSecret is the app's signing secret. Without it every request is refused.
	SigningSecret string
	Container     Container
	// Operators maps a Slack user in a team to the operator they are; ok=false
	// refuses the command. Anyone in a workspace can type a slash command, and a
	// containment acts on production, so without Operators every command is refused.
	Operators func(slackUserID, teamID string) (Operator, bool)
	// Replay remembers processed requests (default: NewReplayCache(0, 0)).
	Replay ReplayCache
	// TeamID, when set, is the only Slack workspace whose commands are accepted.
	TeamID string
	// AppID, when set, must equal the request's api_app_id.
	AppID string
	// Timeout bounds the containment request (default DefaultContainTimeout).
	Timeout time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	// Refusals records the forged and replayed commands it refuses, like Handler's.
	Refusals Refusals

	initOnce sync.Once
	replay   ReplayCache
}

// signed is the request check SlashHandler shares with Handler.
func (h *SlashHandler) signed() requestGate {
	return requestGate{secret: h.SigningSecret, clock: h.Now, logger: h.Logger, refusals: h.Refusals,
		what: "slack command", logPrefix: "slack command"}
}

func (h *SlashHandler) log() *slog.Logger { return h.signed().log() }

func (h *SlashHandler) refused(ctx context.Context, f refusal.Refusal) { h.signed().refused(ctx, f) }

// slashUsage is the help text, as Slack mrkdwn.
const slashUsage = "Usage: `/sever contain <type> <id> [runbook=NAME] [provider=P] [account=A] [principal=X] <reason…>`\n" +
	"For example: `/sever contain aws_access_key AKIAIOSFODNN7EXAMPLE key pasted in #general`.\n" +
	"Send only the credential's identifier, never its secret. You cannot approve an incident you raised."

func (h *SlashHandler) init() {
	h.initOnce.Do(func() { h.replay = orNewReplay(h.Replay) })
}

// slashCommand is one invocation of the command, from either transport.
type slashCommand struct {
	User, Team, Trigger, Text, AppID string
}

// ServeHTTP implements http.Handler.
func (h *SlashHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	body, ok := h.signed().read(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		httpError(w, http.StatusBadRequest, "malformed command payload")
		return
	}
	c := slashCommand{User: form.Get("user_id"), Team: form.Get("team_id"), Trigger: form.Get("trigger_id"),
		Text: form.Get("text"), AppID: form.Get("api_app_id")}
	if !validID(c.User) || (c.Team != "" && !validID(c.Team)) {
		httpError(w, http.StatusBadRequest, "command payload without a valid user")
		return
	}
	// A signed request stays valid for minutes; one use only.
	if h.replayed(c, "sig:"+r.Header.Get("X-Slack-Signature")) {
		h.refused(r.Context(), refusal.Refusal{Reason: refusal.Replay, Who: c.User, Channel: ChannelHTTP,
			What: "slack command", Why: "this command request was already processed"})
		httpError(w, http.StatusUnauthorized, "this request was already processed")
		return
	}
	ctx := context.WithoutCancel(r.Context()) // the timeout, not Slack's connection, bounds it
	writeEphemeral(w, h.command(ctx, c))
}

// replayed records the transport's key and the command's trigger ID (which names
// the invocation whatever the signature or envelope) and reports whether either
// was seen before.
func (h *SlashHandler) replayed(c slashCommand, transportKey string) bool {
	now := h.signed().now()
	replayed := false
	for _, k := range []string{transportKey, triggerKey(c.Team, c.Trigger)} {
		// Record every key, even after a hit, so each is remembered.
		if k != "" && k != "sig:" && k != "envelope:" && h.replay.Seen(k, now) {
			replayed = true
		}
	}
	if replayed {
		h.log().Warn("slack command: replayed request refused", "slack_user", c.User, "slack_team", c.Team)
	}
	return replayed
}

func triggerKey(team, trigger string) string {
	if !validID(trigger) {
		return ""
	}
	return "trigger:" + team + "." + trigger
}

// command runs one verified, fresh command and returns the reply to show.
func (h *SlashHandler) command(ctx context.Context, c slashCommand) string {
	user, team := c.User, c.Team
	log := h.log().With("slack_user", user, "slack_team", team)
	if h.TeamID != "" && team != h.TeamID {
		log.Warn("slack command: from a workspace that is not allowed")
		return ":no_entry: This Slack workspace may not use sever."
	}
	if h.AppID != "" && c.AppID != h.AppID {
		log.Warn("slack command: for another Slack app")
		return ":no_entry: The command came from another Slack app."
	}
	req, err := parseContainText(c.Text)
	if errors.Is(err, errUsage) {
		return slashUsage
	}
	if err != nil {
		return ":warning: " + escape(err.Error()) + "\n" + slashUsage
	}
	if h.Operators == nil {
		log.Warn("slack command: no operators are mapped to Slack users; refused")
		return ":no_entry: Containment from Slack is not set up: no sever operator is linked to a Slack user (operators[].slack_user)."
	}
	op, ok := h.Operators(user, team)
	if !ok || strings.TrimSpace(op.Name) == "" || strings.TrimSpace(op.Approver) == "" {
		log.Warn("slack command: Slack user is not a sever operator who may contain")
		return ":no_entry: Your Slack account is not linked to a sever operator with the incidents:write scope."
	}
	if h.Container == nil {
		log.Error("slack command: no containment service configured")
		return ":warning: sever is misconfigured (no containment service). Use `sever contain` or the API."
	}
	// Slack wants its answer within three seconds: the reply says "queued" once the
	// signal is durable rather than waiting for the incident.
	req.Operator, req.Reporter, req.Channel, req.RespondAsync = op.Name, op.Approver, httpapi.ContainChannelSlack, true
	if c.Trigger != "" {
		// Slack's own redelivery of one invocation is one signal.
		req.IdempotencyKey = httpapi.ScopedIdempotencyKey(op.Name, "slack-"+team+"."+c.Trigger)
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultContainTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := h.Container.Contain(cctx, req)
	log = log.With("operator", op.Name, "type", string(req.Credential.Type))
	if err != nil {
		var se *sever.Error
		var le *httpapi.LimitError
		switch {
		case errors.As(err, &le):
			log.Warn("slack command: containment refused by admission control", "reason", le.Err.Message)
			return ":no_entry: Not contained: " + escape(le.Err.Message)
		case errors.As(err, &se) && se.Code != sever.EINTERNAL && se.Code != sever.EUNAVAILABLE:
			log.Warn("slack command: containment refused", "code", se.Code, "field", se.Field, "reason", se.Message)
			return ":no_entry: Not contained: " + escape(se.Message)
		}
		log.Error("slack command: containment failed", "error", err.Error())
		return ":warning: sever could not confirm the containment right now. Check `sever incidents list` before trying again."
	}
	log.Info("slack command: containment requested", "incident", res.IncidentID, "status", res.Status)
	return fmt.Sprintf(":rotating_light: Containment requested: incident %s (%s). You raised it, so someone else must approve its steps.",
		code(res.IncidentID), escape(res.Status))
}

var errUsage = errors.New("usage")

// containKeys are the key=value options the command takes before the reason.
var containKeys = []string{"runbook", "provider", "account", "principal"}

// parseContainText reads `contain <type> <id> [key=value…] reason…`. Slack sends
// &, < and > escaped; they are unescaped so the reason reads as typed. The request
// is checked by httpapi.CheckContain in Contain; only the shape is checked here.
func parseContainText(text string) (httpapi.ContainRequest, error) {
	text = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(text)
	fields := strings.Fields(text)
	if len(fields) == 0 || fields[0] == "help" {
		return httpapi.ContainRequest{}, errUsage
	}
	if fields[0] != "contain" {
		// Redacted before the cut: a key pasted as the first word, cut first, would be
		// too short for the detector when the reply is escaped.
		return httpapi.ContainRequest{}, fmt.Errorf("unknown command %q", truncate(secretscan.Redact(fields[0]), 32))
	}
	if len(fields) < 3 {
		return httpapi.ContainRequest{}, errors.New("contain needs a credential type and an identifier")
	}
	r := httpapi.ContainRequest{Credential: sever.Credential{Type: sever.CredentialType(fields[1]), ID: fields[2]}}
	rest := fields[3:]
	for len(rest) > 0 {
		k, v, ok := strings.Cut(rest[0], "=")
		if !ok {
			break
		}
		switch k {
		case "runbook":
			r.Runbook = v
		case "provider":
			r.Credential.Provider = v
		case "account":
			r.Credential.Account = v
		case "principal":
			r.Credential.Principal = v
		default:
			// Not an option: the reason starts here ("reason=..." is prose).
			k = ""
		}
		if k == "" {
			break
		}
		rest = rest[1:]
	}
	r.Reason = strings.Join(rest, " ")
	if strings.TrimSpace(r.Reason) == "" {
		return httpapi.ContainRequest{}, errors.New("a reason is required after the identifier (and options " + strings.Join(containKeys, "=, ") + "=)")
	}
	return r, nil
}

// socketCommand runs a command that arrived over Socket Mode, where the connection
// (the app-level token) authenticates Slack instead of a signature, and returns the
// reply for the envelope's acknowledgement ("" for a replay: nothing to show).
func (h *SlashHandler) socketCommand(ctx context.Context, cmd slack.SlashCommand, envelopeID string) string {
	h.init()
	c := slashCommand{User: cmd.UserID, Team: cmd.TeamID, Trigger: cmd.TriggerID, Text: cmd.Text, AppID: cmd.APIAppID}
	if !validID(c.User) || (c.Team != "" && !validID(c.Team)) {
		h.log().Warn("slack command: socket command without a valid user")
		return ""
	}
	if h.replayed(c, "envelope:"+envelopeID) {
		return ""
	}
	return h.command(ctx, c)
}

func writeEphemeral(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(newEphemeral(text))
}
