// Package slackapp is sever's Slack surface for human approvals: the Block Kit
// approval request (and its decided/expired replacements), a Poster that posts and
// updates those messages, and the signed interactivity endpoint (HTTP, and optionally
// Socket Mode) that turns a button click into a service.DecideRequest.
//
// The package knows nothing about Temporal. It authenticates the click at the edge
// (Slack's request signature, team, app, optional identity mapping, replay cache) and
// hands a verified approver identity to a Decider; the workflow's update validator
// decides whether that person may decide that step for those exact arguments.
package slackapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
)

// Action IDs of the two buttons. The action ID names the decision; the button value
// repeats it and the handler requires both to agree.
const (
	ActionApprove = "sever_approve"
	ActionDeny    = "sever_deny"
)

// Decision names carried in the button value.
const (
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

// blockIDPrefix starts the block_id of the actions block of an approval request.
const blockIDPrefix = "sever_approval|"

// Slack limits this package stays within.
const (
	maxButtonValue  = 2000 // button value
	maxBlockID      = 255  // block_id
	maxHeaderText   = 150  // header block plain_text
	maxSectionText  = 3000 // section text
	maxFieldText    = 2000 // one section field
	maxArgsRendered = 2600 // the arguments code block, leaving room for its caption
	maxIDLength     = 128  // incident and step IDs (httpapi caps step IDs at 128 too)
	maxBlastItems   = 25
	maxApproverList = 50
)

// ApprovalRequest is everything an approval message shows. It never carries secret
// material: Credential identifies the key, it does not hold it.
type ApprovalRequest struct {
	IncidentID string
	StepID     string
	StepName   string
	Action     string
	// Args are the step's exact arguments; ArgsSHA256 binds a decision to them
	// (sever.ArgsSHA256 of action, credential and args).
	Args        map[string]any
	ArgsSHA256  string
	Credential  sever.Credential
	BlastRadius []string
	// Approvers are the identities that may decide: Slack user IDs (rendered as
	// mentions) or other sever identities (rendered literally).
	Approvers   []string
	Quorum      int
	Deadline    time.Time
	Destructive bool
	// Requester is who or what asked for the step (the reporter or the runbook).
	Requester string
	// Nonce names this request; the buttons carry it, so a click on a request that
	// was escalated, or on one from an earlier run of the incident, is refused.
	// Empty for requests of incidents from before nonces existed.
	Nonce string
	// Drill marks a request of a drill incident (sever drill run --approvers
	// slack): every shape of the message says DRILL, so nobody mistakes a
	// rehearsal for an incident, and decides it as they would a real one.
	Drill bool
}

// drillTag starts the header and fallback text of a drill's messages.
const drillTag = "[DRILL] "

// drillMark prefixes s with the DRILL tag for a drill's request.
func drillMark(r ApprovalRequest, s string) string {
	if r.Drill {
		return drillTag + s
	}
	return s
}

// Validate reports whether r can be posted: the button value and block ID it leads
// to must identify the incident, the step and the argument hash.
func (r ApprovalRequest) Validate() error {
	switch {
	case strings.TrimSpace(r.IncidentID) == "":
		return sever.Errorf(sever.EINVALID, "incident_id", "approval request: incident id is required")
	case len(r.IncidentID) > maxIDLength:
		return sever.Errorf(sever.EINVALID, "incident_id", "approval request: incident id is longer than %d characters", maxIDLength)
	case strings.TrimSpace(r.StepID) == "":
		return sever.Errorf(sever.EINVALID, "step_id", "approval request: step id is required")
	case len(r.StepID) > maxIDLength:
		return sever.Errorf(sever.EINVALID, "step_id", "approval request: step id is longer than %d characters", maxIDLength)
	case !isSHA256Hex(r.ArgsSHA256):
		return sever.Errorf(sever.EINVALID, "args_sha256", "approval request: args_sha256 must be 64 lowercase hex digits")
	case r.Nonce != "" && !isNonce(r.Nonce):
		return sever.Errorf(sever.EINVALID, "nonce", "approval request: nonce must be 32 lowercase hex digits")
	}
	return nil
}

// Decided is the final outcome of an approval: quorum reached or a denial.
type Decided struct {
	Approved bool
	// Decisions are the individual answers that led to the outcome, in order.
	Decisions []sever.Decision
	// At is when the outcome was reached.
	At time.Time
}

// Expired says that nobody (or not enough people) decided before the deadline.
type Expired struct {
	// OnTimeout is the step's on_timeout: deny, abort or proceed.
	OnTimeout string
	// Decisions are the answers given before the deadline (fewer than the quorum).
	Decisions []sever.Decision
	At        time.Time
}

// Superseded says that a request stopped taking clicks without an outcome of its
// own: an escalation replaced it, or the incident was closed.
type Superseded struct {
	// Canceled is true when the incident was closed; false when escalated.
	Canceled bool
	At       time.Time
}

// buttonValue is what each button carries back to the interactivity endpoint.
// Version 1 has no nonce (requests of incidents from before nonces); version 2
// requires one.
type buttonValue struct {
	V          int    `json:"v"`
	Incident   string `json:"incident"`
	Step       string `json:"step"`
	ArgsSHA256 string `json:"args_sha256"`
	Decision   string `json:"decision"`
	Nonce      string `json:"nonce,omitempty"`
}

func encodeButtonValue(r ApprovalRequest, decision string) string {
	v := buttonValue{V: 1, Incident: r.IncidentID, Step: r.StepID, ArgsSHA256: r.ArgsSHA256, Decision: decision}
	if r.Nonce != "" {
		v.V, v.Nonce = 2, r.Nonce
	}
	b, _ := json.Marshal(v)
	return string(b)
}

var errBadValue = errors.New("button value is not a sever approval")

// decodeButtonValue parses and checks a button value. It is strict: unknown fields,
// trailing data, wrong version or malformed identifiers are refused.
func decodeButtonValue(s string) (buttonValue, error) {
	if s == "" || len(s) > maxButtonValue {
		return buttonValue{}, errBadValue
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var v buttonValue
	if err := dec.Decode(&v); err != nil {
		return buttonValue{}, fmt.Errorf("%w: %v", errBadValue, err)
	}
	if dec.More() {
		return buttonValue{}, fmt.Errorf("%w: trailing data", errBadValue)
	}
	switch {
	case v.V != 1 && v.V != 2:
		return buttonValue{}, fmt.Errorf("%w: unknown version %d", errBadValue, v.V)
	case v.V == 1 && v.Nonce != "":
		return buttonValue{}, fmt.Errorf("%w: version 1 carries no nonce", errBadValue)
	case v.V == 2 && !isNonce(v.Nonce):
		return buttonValue{}, fmt.Errorf("%w: bad nonce", errBadValue)
	case !validID(v.Incident):
		return buttonValue{}, fmt.Errorf("%w: bad incident id", errBadValue)
	case !validID(v.Step):
		return buttonValue{}, fmt.Errorf("%w: bad step id", errBadValue)
	case !isSHA256Hex(v.ArgsSHA256):
		return buttonValue{}, fmt.Errorf("%w: bad args_sha256", errBadValue)
	case v.Decision != DecisionApprove && v.Decision != DecisionDeny:
		return buttonValue{}, fmt.Errorf("%w: bad decision", errBadValue)
	}
	return v, nil
}

func validID(s string) bool {
	if strings.TrimSpace(s) == "" || len(s) > maxIDLength || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func isSHA256Hex(s string) bool { return len(s) == 64 && isLowerHex(s) }

// isNonce reports whether s has the form of an approval request's nonce.
func isNonce(s string) bool { return len(s) == 32 && isLowerHex(s) }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// BlockID is the block_id of the actions block of the approval request for one step.
// It carries the incident and step; when they are too long for Slack's 255-character
// limit it carries their hash instead.
func BlockID(incidentID, stepID string) string {
	id := blockIDPrefix + incidentID + "|" + stepID
	if len(id) <= maxBlockID {
		return id
	}
	sum := sha256.Sum256([]byte(incidentID + "\x00" + stepID))
	return blockIDPrefix + "h:" + hex.EncodeToString(sum[:16])
}

// ApprovalMessage renders the approval request: the fallback text (notifications,
// screen readers) and the blocks, ending with the Approve and Deny buttons.
func ApprovalMessage(r ApprovalRequest) (fallback string, blocks []slack.Block) {
	title := "Approval needed: " + stepTitle(r)
	if r.Destructive {
		title = ":warning: " + title
	}
	blocks = append(blocks, header(drillMark(r, title)))
	blocks = append(blocks, requestBlocks(r)...)

	approve := slack.NewButtonBlockElement(ActionApprove, encodeButtonValue(r, DecisionApprove),
		slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary)
	if r.Destructive {
		approve = approve.WithConfirm(slack.NewConfirmationBlockObject(
			slack.NewTextBlockObject(slack.PlainTextType, "Run a destructive action?", false, false),
			slack.NewTextBlockObject(slack.MarkdownType, clipMrkdwn(fmt.Sprintf("Approve %s on %s for incident %s? This cannot be undone.",
				code(r.Action), code(r.Credential.ID), code(r.IncidentID)), 300), false, false),
			slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false),
			slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false),
		).WithStyle(slack.StyleDanger))
	}
	deny := slack.NewButtonBlockElement(ActionDeny, encodeButtonValue(r, DecisionDeny),
		slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)).WithStyle(slack.StyleDanger)
	blocks = append(blocks, slack.NewActionBlock(BlockID(r.IncidentID, r.StepID), approve, deny))

	fallback = fmt.Sprintf("Approval needed: %s on %s %s (incident %s, step %s), deadline %s",
		orNone(r.Action), orNone(string(r.Credential.Type)), orNone(r.Credential.ID), r.IncidentID, r.StepID, dateFallback(r.Deadline))
	return escape(drillMark(r, fallback)), blocks
}

// DecidedMessage renders the request after its outcome, for chat.update: the same
// facts, the buttons replaced by who decided what and when.
func DecidedMessage(r ApprovalRequest, d Decided) (fallback string, blocks []slack.Block) {
	verdict, emoji, effect := "Denied", ":no_entry:", "the step was skipped."
	if d.Approved {
		verdict, emoji, effect = "Approved", ":white_check_mark:", "the step runs now."
	}
	blocks = append(blocks, header(drillMark(r, emoji+" "+verdict+": "+stepTitle(r))))
	blocks = append(blocks, requestBlocks(r)...)
	text := "*" + verdict + "* — " + effect
	if lines := decisionLines(d.Decisions); lines != "" {
		text += "\n" + lines
	}
	blocks = append(blocks, section(text))
	if !d.At.IsZero() {
		blocks = append(blocks, contextBlock("Decided "+slackDate(d.At)))
	}
	fallback = fmt.Sprintf("%s: %s on %s %s (incident %s, step %s)", verdict, orNone(r.Action),
		orNone(string(r.Credential.Type)), orNone(r.Credential.ID), r.IncidentID, r.StepID)
	return escape(drillMark(r, fallback)), blocks
}

// ExpiredMessage renders the request after its deadline passed without an outcome,
// for chat.update. The buttons are removed.
func ExpiredMessage(r ApprovalRequest, e Expired) (fallback string, blocks []slack.Block) {
	blocks = append(blocks, header(drillMark(r, ":hourglass: Approval expired: "+stepTitle(r))))
	blocks = append(blocks, requestBlocks(r)...)
	approvals := 0
	for _, d := range e.Decisions {
		if d.Approve {
			approvals++
		}
	}
	text := fmt.Sprintf("*Approval expired* with %d of %d approvals. On timeout: %s — %s",
		approvals, quorum(r), code(orNone(e.OnTimeout)), onTimeoutEffect(e.OnTimeout))
	if lines := decisionLines(e.Decisions); lines != "" {
		text += "\n" + lines
	}
	blocks = append(blocks, section(text))
	if !e.At.IsZero() {
		blocks = append(blocks, contextBlock("Expired "+slackDate(e.At)))
	}
	fallback = fmt.Sprintf("Approval expired: %s on %s %s (incident %s, step %s); on timeout: %s",
		orNone(r.Action), orNone(string(r.Credential.Type)), orNone(r.Credential.ID), r.IncidentID, r.StepID, orNone(e.OnTimeout))
	return escape(drillMark(r, fallback)), blocks
}

// SupersededMessage renders a request that no longer takes clicks because an
// escalation replaced it or the incident was closed, for chat.update. The buttons
// are removed; a click that was already on its way is refused by the workflow.
func SupersededMessage(r ApprovalRequest, s Superseded) (fallback string, blocks []slack.Block) {
	title, why := ":arrows_counterclockwise: Superseded: ", "the deadline passed and the request was escalated; decide on the escalated request."
	if s.Canceled {
		title, why = ":octagonal_sign: Closed: ", "the incident was closed before the step was decided; the step was not run."
	}
	blocks = append(blocks, header(drillMark(r, title+stepTitle(r))))
	blocks = append(blocks, requestBlocks(r)...)
	blocks = append(blocks, section("*This request no longer takes clicks* — "+why))
	if !s.At.IsZero() {
		blocks = append(blocks, contextBlock("Updated "+slackDate(s.At)))
	}
	state := "escalated"
	if s.Canceled {
		state = "closed"
	}
	fallback = fmt.Sprintf("No longer taking clicks (%s): %s on %s %s (incident %s, step %s)", state, orNone(r.Action),
		orNone(string(r.Credential.Type)), orNone(r.Credential.ID), r.IncidentID, r.StepID)
	return escape(drillMark(r, fallback)), blocks
}

func onTimeoutEffect(s string) string {
	switch s {
	case sever.OnTimeoutProceed:
		return "the pre-approved fallback runs the step under policy."
	case sever.OnTimeoutAbort:
		return "the runbook was aborted."
	default:
		return "the step was not run."
	}
}

// requestBlocks are the facts shared by every shape of the message.
func requestBlocks(r ApprovalRequest) []slack.Block {
	var blocks []slack.Block
	if r.Drill {
		blocks = append(blocks, section(":construction: *DRILL* — a containment rehearsal against the drill cloud, not an incident. "+
			"Decide it as you would a real one: the drill measures how long you take."))
	}

	cred := code(orNone(string(r.Credential.Type))) + " " + code(orNone(r.Credential.ID))
	if r.Credential.Principal != "" {
		cred += "\nprincipal " + code(r.Credential.Principal)
	}
	if r.Credential.Provider != "" || r.Credential.Account != "" {
		var parts []string
		if r.Credential.Provider != "" {
			parts = append(parts, "provider "+code(r.Credential.Provider))
		}
		if r.Credential.Account != "" {
			parts = append(parts, "account "+code(r.Credential.Account))
		}
		cred += "\n" + strings.Join(parts, ", ")
	}
	action := code(orNone(r.Action))
	if r.Destructive {
		action += "\n:warning: destructive"
	}
	step := code(r.StepID)
	if r.StepName != "" && r.StepName != r.StepID {
		step += "\n" + escape(r.StepName)
	}
	fields := []*slack.TextBlockObject{
		field("Incident", code(r.IncidentID)),
		field("Step", step),
		field("Action", action),
		field("Credential", cred),
		field("Deadline", slackDate(r.Deadline)),
	}
	if r.Requester != "" {
		fields = append(fields, field("Requested by", mention(r.Requester)))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))

	blocks = append(blocks, section("*Arguments*\n"+argsCodeBlock(r.Args)))

	if len(r.BlastRadius) > 0 {
		// The items quote inventory entries and the credential's identifiers: plain
		// text, one line each, so that only the bullets are sever's.
		items := make([]string, 0, min(len(r.BlastRadius), maxBlastItems+1))
		for i, item := range r.BlastRadius {
			if i == maxBlastItems {
				items = append(items, fmt.Sprintf("… and %d more", len(r.BlastRadius)-i))
				break
			}
			items = append(items, "• "+plain(item, maxSectionText))
		}
		blocks = append(blocks, section("*Blast radius*"), plainSection(strings.Join(items, "\n")))
	}

	who := "_nobody is configured to approve this step_"
	if len(r.Approvers) > 0 {
		names := make([]string, 0, len(r.Approvers))
		for i, a := range r.Approvers {
			if i == maxApproverList {
				names = append(names, fmt.Sprintf("… and %d more", len(r.Approvers)-i))
				break
			}
			names = append(names, mention(a))
		}
		who = strings.Join(names, ", ")
	}
	blocks = append(blocks, section(fmt.Sprintf("*Who may approve* (quorum %d of %d)\n%s", quorum(r), len(r.Approvers), who)))

	blocks = append(blocks, contextBlock("A decision is bound to these exact arguments: args_sha256 "+code(orNone(r.ArgsSHA256))))
	return blocks
}

// argsCodeBlock renders the arguments as compact JSON with sorted keys in a code
// block. HTML characters are left as they are and escaped for Slack instead; a
// backtick is written as the JSON escape \u0060 so it cannot close the code block.
// Either way the text is valid JSON equal to the arguments.
func argsCodeBlock(args map[string]any) string {
	s := "{}"
	if len(args) > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(args); err != nil {
			s = "(arguments cannot be shown: " + err.Error() + ")"
		} else {
			s = strings.TrimSuffix(buf.String(), "\n")
		}
	}
	s = strings.ReplaceAll(s, "`", `\u0060`)
	// A secret in the arguments is shown redacted (the text is then no longer equal
	// to the arguments; args_sha256 still covers the real ones).
	s = secretscan.Redact(s)
	out, n := escapeLimit(s, maxArgsRendered)
	if n == len(s) {
		return "```" + out + "```"
	}
	return "```" + out + "```" + fmt.Sprintf("\n_(truncated: %d of %d bytes shown; the args_sha256 below covers all of them)_", n, len(s))
}

// escapeLimit escapes s for Slack, stopping before the escaped text would exceed
// limit characters, so that no entity is cut in half. It returns the escaped text and
// how many bytes of s it covers.
func escapeLimit(s string, limit int) (string, int) {
	var b strings.Builder
	count := 0
	for i, r := range s {
		piece := string(r)
		switch r {
		case '&':
			piece = "&amp;"
		case '<':
			piece = "&lt;"
		case '>':
			piece = "&gt;"
		}
		if count+len([]rune(piece)) > limit {
			return b.String(), i
		}
		b.WriteString(piece)
		count += len([]rune(piece))
	}
	return b.String(), len(s)
}

func decisionLines(ds []sever.Decision) string {
	lines := make([]string, 0, len(ds))
	for _, d := range ds {
		verb, emoji := "denied", ":x:"
		if d.Approve {
			verb, emoji = "approved", ":white_check_mark:"
		}
		line := fmt.Sprintf("• %s %s %s", emoji, mention(d.Approver), verb)
		if d.Channel != "" {
			line += " via " + escape(d.Channel)
		}
		if !d.At.IsZero() {
			line += " " + slackDate(d.At)
		}
		if d.Reason != "" {
			line += ": " + code(d.Reason) // the decider's words, quoted: no formatting of their own
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func stepTitle(r ApprovalRequest) string {
	if r.StepName != "" {
		return r.StepName
	}
	return r.StepID
}

func quorum(r ApprovalRequest) int { return max(r.Quorum, 1) }

// header is plain text, which Slack does not interpret, so it is not escaped; it
// is redacted and kept on one line like everything else a message shows.
func header(text string) slack.Block {
	return slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, plain(text, maxHeaderText), true, false))
}

// plainSection shows text that came from outside, each value made one line by plain:
// plain_text renders no markup, and without emoji a :shortcode: stays the letters it
// is, so none of it can pass for sever's own lines, emoji and bold included.
func plainSection(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, truncate(text, maxSectionText), false, false), nil, nil)
}

// plain prepares outside text for a plain_text object: redacted, then on one line,
// then cut, in that order, so a key that straddles the cut is still seen whole by
// the detector. Slack does not interpret plain_text, so there is nothing to escape.
func plain(s string, limit int) string {
	return truncate(oneLine(secretscan.Redact(s)), limit)
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, clipMrkdwn(text, maxSectionText), false, false), nil, nil)
}

func field(name, value string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, clipMrkdwn("*"+name+"*\n"+value, maxFieldText), false, false)
}

func contextBlock(text string) slack.Block {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, clipMrkdwn(text, maxFieldText), false, false))
}

// slackUserID matches Slack user IDs (U…, W… for Enterprise Grid).
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// mention renders an identity: Slack user IDs as mentions, anything else literally.
func mention(id string) string {
	if slackUserID.MatchString(id) {
		return "<@" + id + ">"
	}
	return code(id)
}

// slackDate renders t in each reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return "_none_"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), dateFallback(t))
}

func dateFallback(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape makes s literal in Slack text: only &, < and > are control characters.
// Without it a value could mention @channel or forge a link. It also redacts secret
// material with the detector intake and the ledger use: every value a message
// shows passes through here, and a Slack channel is no place for a live key. A value
// is one line: a newline in it would start a line of the value's choosing, one that
// can read like sever's own headline.
func escape(s string) string {
	return slackEscaper.Replace(oneLine(secretscan.Redact(s)))
}

// escapeClip escapes s and cuts the result to limit characters. Redacting before the
// cut keeps a key that straddles it from reaching Slack as a prefix too short for the
// detector; cutting after escaping, on an entity's edge, keeps the limit exact.
func escapeClip(s string, limit int) string { return clipMrkdwn(escape(s), limit) }

// clipMrkdwn cuts escaped text to at most limit characters, marking the cut, without
// leaving half an entity ("&am") behind.
func clipMrkdwn(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	s = truncateRunes(s, limit-1)
	if i := strings.LastIndexByte(s, '&'); i >= 0 && len(s)-i < len("&amp;") && !strings.Contains(s[i:], ";") {
		s = s[:i]
	}
	return s + "…"
}

// oneLine folds control characters (newlines, carriage returns, tabs) and Unicode
// line and paragraph separators into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// code renders s as inline code, on one line, where Slack applies no formatting. A
// backtick would end the span, so it is shown as '.
func code(s string) string {
	if s == "" {
		return "_none_"
	}
	return "`" + escape(strings.ReplaceAll(s, "`", "'")) + "`"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// truncate cuts s to at most n runes, marking the cut. Slack counts characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return truncateRunes(s, n-1) + "…"
}

func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
