// Package report turns an incident into the record a SOC hands to auditors: who
// enforced every control point, the timeline, how long containment took, what the
// vendor did against what the enterprise still had to do, and which published risks
// the runbook addresses. It renders the same Report as Markdown, self-contained HTML,
// JSON and OCSF events.
//
// A report never carries secret material: it leaves out signal labels and action
// outputs, and scrubs anything shaped like a live secret from the free text it keeps.
package report

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// Options are what Build needs besides the incident.
type Options struct {
	// Runbook is the incident's pinned runbook when the caller has it. It gives step
	// names, the framework mapping and controls the incident never reached. A runbook
	// whose name or hash differs from the pinned one is ignored (and said so), since a
	// later version may map or list different controls.
	Runbook *sever.Runbook
	// Now stamps the report; zero means time.Now.
	Now time.Time
	// TemporalUIURL links the report to the incident's workflow in the Temporal Web
	// UI. A literal "{id}" in it is replaced by the escaped incident ID. Only http and
	// https URLs are used.
	TemporalUIURL string
	// Refused are the refused attempts the ledger holds for the incident (the
	// caller reads them; the incident itself never holds them).
	Refused []RefusedAttempt
}

// Report is an incident report. Its exported fields are the computed pieces, so a web
// page can render them itself; the methods render the whole report.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	Incident    Summary   `json:"incident"`
	// TemporalURL is the workflow's page in the Temporal Web UI, if known.
	TemporalURL    string         `json:"temporal_url,omitempty"`
	Signals        []SignalInfo   `json:"signals"`
	Accountability []ControlPoint `json:"accountability"`
	// Refused lists the refused attempts, part of the accountability section.
	Refused    []RefusedAttempt `json:"refused_attempts,omitempty"`
	Timeline   []Event          `json:"timeline"`
	Durations  Durations        `json:"durations"`
	Gap        Gap              `json:"gap"`
	Frameworks FrameworkMapping `json:"frameworks"`
	// Notes say what the report could not establish and why.
	Notes []string `json:"notes,omitempty"`
}

// Summary identifies the incident.
type Summary struct {
	ID         string               `json:"id"`
	Status     sever.IncidentStatus `json:"status"`
	Reason     string               `json:"reason,omitempty"`
	Drill      bool                 `json:"drill,omitempty"`
	Credential sever.Credential     `json:"credential"`
	Runbook    sever.RunbookRef     `json:"runbook"`
	Policy     sever.RunbookRef     `json:"policy"`
	// Severity is the highest severity any signal gave.
	Severity string     `json:"severity,omitempty"`
	OpenedAt time.Time  `json:"opened_at"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	// ContainedAt is when the workflow declared the incident contained.
	ContainedAt *time.Time `json:"contained_at,omitempty"`
	// EnterpriseContainedAt is when the enterprise's own containment was verified:
	// the end of the last containment step whose read-back showed the control in
	// place. Nil when containment rests on anything else, a vendor's action included.
	EnterpriseContainedAt *time.Time `json:"enterprise_contained_at,omitempty"`
	// ContainmentUndoneAt is when sever undid a containment step because the incident
	// was closed as a false positive: from then on the control is not in place, though
	// EnterpriseContainedAt stays, since the containment did happen.
	ContainmentUndoneAt *time.Time `json:"containment_undone_at,omitempty"`
	Signals             int        `json:"signals"`
	DuplicateDeliveries int        `json:"duplicate_deliveries"`
}

// SignalInfo is one recorded signal, without labels or adapter detail.
type SignalInfo struct {
	ID            string           `json:"id"`
	Source        string           `json:"source"`
	SourceEventID string           `json:"source_event_id,omitempty"`
	Origin        sever.Origin     `json:"origin"`
	Kind          sever.SignalKind `json:"kind"`
	Severity      string           `json:"severity,omitempty"`
	Summary       string           `json:"summary,omitempty"`
	Reporter      string           `json:"reporter,omitempty"`
	ObservedAt    time.Time        `json:"observed_at"`
	ReceivedAt    time.Time        `json:"received_at"`
	// AfterStart is seconds from the first signal to this one.
	AfterStart    float64 `json:"after_start_s"`
	Duplicates    int     `json:"duplicates,omitempty"`
	PayloadSHA256 string  `json:"payload_sha256,omitempty"`
	// Late is true for a vendor signal that arrived after enterprise containment.
	Late bool `json:"late,omitempty"`
}

// Kinds of control point.
const (
	PointSignal   = "signal"
	PointApproval = "approval"
	PointStep     = "step"
)

// ControlPoint is one row of the accountability table.
type ControlPoint struct {
	Kind string `json:"kind"`
	// Ref is the signal ID for signals and the step ID otherwise.
	Ref    string `json:"ref"`
	Action string `json:"action,omitempty"`
	What   string `json:"what"`
	// Enforcement is empty for a step that enforces nothing (a notice, a skipped step).
	Enforcement sever.Enforcement `json:"enforcement"`
	Who         string            `json:"who"`
	// At is when the control point was decided or ended; nil for a step that has not.
	At          *time.Time `json:"at"`
	Status      string     `json:"status"`
	Verified    bool       `json:"verified"`
	PolicyRule  string     `json:"policy_rule,omitempty"`
	Containment bool       `json:"containment,omitempty"`
	Evidence    []Hash     `json:"evidence,omitempty"`
	// Detail is the step's summary or error, or a decision's reason.
	Detail string `json:"detail,omitempty"`
	// Compensation marks the undo of a runbook step, and its approval, run when the
	// incident was closed as a false positive: sever's change, not containment.
	Compensation bool `json:"compensation,omitempty"`
}

// Hash is a piece of evidence by its SHA-256: an artifact, a signal's payload, or
// the arguments an approval was bound to.
type Hash struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	URI    string `json:"uri,omitempty"`
}

// Kinds of timeline event.
const (
	EventOpened    = "opened"
	EventSignal    = "signal"
	EventApproval  = "approval"
	EventStep      = "step"
	EventContained = "contained"
	// EventUndone is when a false-positive close took containment away again.
	EventUndone = "containment_undone"
	EventClosed = "closed"
)

// LaneNone is the timeline lane of events without an enforcement class: the
// enterprise's own detections, steps that enforce nothing, the incident's milestones.
const LaneNone = "none"

// Lanes are the timeline's lanes in display order: one per enforcement class, then
// LaneNone.
var Lanes = []string{
	string(sever.VendorNotified), string(sever.VendorEnforced), string(sever.EnterpriseEnforced),
	string(sever.HumanApproved), string(sever.HumanDenied), string(sever.ApprovalExpired), LaneNone,
}

// Event is one entry of the timeline.
type Event struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	// End is set for steps: when the step ended.
	End *time.Time `json:"end,omitempty"`
	// Offset and EndOffset are seconds from the first signal.
	Offset    float64  `json:"offset_s"`
	EndOffset *float64 `json:"end_offset_s,omitempty"`
	Lane      string   `json:"lane"`
	Ref       string   `json:"ref,omitempty"`
	Status    string   `json:"status,omitempty"`
	Text      string   `json:"text"`
	Late      bool     `json:"late,omitempty"`
}

// Durations are the incident's key times, all from the first signal accepted.
type Durations struct {
	Start time.Time `json:"start"`
	// FirstAction is the first step that executed an action (evidence, observation
	// or change).
	FirstAction *Span `json:"first_action,omitempty"`
	// Approval is the first approving decision by a person.
	Approval *Span `json:"approval,omitempty"`
	// VerifiedContainment is the enterprise's verified containment.
	VerifiedContainment *Span            `json:"verified_containment,omitempty"`
	ProviderSignals     []ProviderSignal `json:"provider_signals"`
}

// Span is a moment measured from Durations.Start.
type Span struct {
	At      time.Time `json:"at"`
	Seconds float64   `json:"seconds"`
	Ref     string    `json:"ref"`
}

// ProviderSignal is when a vendor signal arrived relative to the incident.
type ProviderSignal struct {
	SignalID   string           `json:"signal_id"`
	Source     string           `json:"source"`
	Kind       sever.SignalKind `json:"kind"`
	ObservedAt time.Time        `json:"observed_at"`
	ReceivedAt time.Time        `json:"received_at"`
	AfterStart float64          `json:"after_start_s"`
	// ReportingLag is how long after the vendor observed the event it told us.
	ReportingLag *float64 `json:"reporting_lag_s,omitempty"`
	// AfterContainment is positive for a late signal and negative for one that came
	// before the enterprise's verified containment; nil when there was none.
	AfterContainment *float64 `json:"after_containment_s,omitempty"`
	Late             bool     `json:"late"`
	Text             string   `json:"text"`
}

// Gap sets what the vendor did beside what the enterprise did and did not do.
type Gap struct {
	VendorNotified     []GapEntry `json:"vendor_notified"`
	VendorEnforced     []GapEntry `json:"vendor_enforced"`
	EnterpriseEnforced []GapEntry `json:"enterprise_enforced"`
	NotDone            []GapEntry `json:"not_done"`
	// EnterpriseContained is true only when the enterprise's own controls were
	// verified; a vendor's action never makes it true.
	EnterpriseContained bool `json:"enterprise_contained"`
	// Compensations are the undos a false-positive close ran or attempted, each
	// Ref the compensation's step ID; none of them is a control of the columns above.
	Compensations []GapEntry `json:"compensations,omitempty"`
	// ContainmentUndone is true when sever undid a containment step at a
	// false-positive close: the control is no longer in place, whatever
	// EnterpriseContained says about the past.
	ContainmentUndone bool   `json:"containment_undone,omitempty"`
	Verdict           string `json:"verdict"`
}

// GapEntry is one control in a gap column.
type GapEntry struct {
	Ref         string `json:"ref"`
	Name        string `json:"name"`
	Action      string `json:"action,omitempty"`
	Status      string `json:"status"`
	Containment bool   `json:"containment,omitempty"`
	Why         string `json:"why,omitempty"`
}

// FrameworkMapping tags the incident and each step with the frameworks named in the
// pinned runbook.
type FrameworkMapping struct {
	// Available is false when no pinned runbook was given.
	Available bool       `json:"available"`
	Incident  Tags       `json:"incident"`
	Steps     []StepTags `json:"steps"`
}

// Tags are framework terms with their published titles.
type Tags struct {
	OWASPNHI     []sever.FrameworkTerm `json:"owasp_nhi,omitempty"`
	OWASPAgentic []sever.FrameworkTerm `json:"owasp_agentic,omitempty"`
	MAESTRO      []sever.FrameworkTerm `json:"maestro,omitempty"`
	NISTAIRMF    []sever.FrameworkTerm `json:"nist_ai_rmf,omitempty"`
}

// IsZero reports whether no term is tagged.
func (t Tags) IsZero() bool {
	return len(t.OWASPNHI) == 0 && len(t.OWASPAgentic) == 0 && len(t.MAESTRO) == 0 && len(t.NISTAIRMF) == 0
}

// StepTags are one step's tags.
type StepTags struct {
	Step   string `json:"step"`
	Name   string `json:"name,omitempty"`
	Action string `json:"action"`
	Status string `json:"status"`
	Tags   Tags   `json:"tags"`
}

// Build computes the report of inc.
func Build(inc sever.Incident, o Options) (*Report, error) {
	if strings.TrimSpace(inc.ID) == "" {
		return nil, errors.New("report.Build: incident has no id")
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	b := &builder{inc: inc, r: &Report{GeneratedAt: now.UTC()}}
	b.pinnedRunbook(o.Runbook)
	b.r.TemporalURL = b.temporalURL(o.TemporalUIURL)
	b.summary()
	b.signals()
	b.containment()
	b.compensations()
	b.accountability()
	b.refused(o.Refused)
	b.timeline()
	b.durations()
	b.gap()
	b.frameworks()
	return b.r, nil
}

// builder holds what the parts of Build share.
type builder struct {
	inc sever.Incident
	rb  *sever.Runbook // nil unless it is the pinned one
	r   *Report
	// specs are the runbook's steps by id (empty without a runbook).
	specs map[string]*sever.RunbookStep
	start time.Time
	// contained is the enterprise's verified containment time, or zero.
	contained time.Time
	// undoes maps a compensation's step ID to the step it undoes.
	undoes map[string]sever.Step
}

func (b *builder) note(format string, args ...any) {
	b.r.Notes = append(b.r.Notes, fmt.Sprintf(format, args...))
}

func (b *builder) pinnedRunbook(rb *sever.Runbook) {
	b.specs = map[string]*sever.RunbookStep{}
	pinned := b.inc.Runbook
	switch {
	case rb == nil:
		b.note("The pinned runbook %s was not available: step names and the framework mapping are left out.", refText(pinned))
		return
	case rb.Name != pinned.Name || (rb.SHA256 != "" && pinned.SHA256 != "" && rb.SHA256 != pinned.SHA256):
		b.note("The runbook given (%s) is not the one pinned by the incident (%s): step names and the framework mapping are left out, since another version may list other controls.",
			refText(rb.Ref()), refText(pinned))
		return
	}
	b.rb = rb
	for i := range rb.Steps {
		b.specs[rb.Steps[i].ID] = &rb.Steps[i]
	}
}

func refText(r sever.RunbookRef) string {
	s := clean(r.Name) + "@" + clean(r.Version)
	if r.SHA256 != "" {
		s += " sha256:" + shortHash(r.SHA256)
	}
	return s
}

func (b *builder) temporalURL(tmpl string) string {
	if tmpl == "" {
		return ""
	}
	s := strings.ReplaceAll(tmpl, "{id}", url.PathEscape(b.inc.ID))
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		b.note("The Temporal UI URL given is not an http or https URL; the link is left out.")
		return ""
	}
	return u.String()
}

func (b *builder) summary() {
	inc := b.inc
	b.r.Incident = Summary{
		ID: clean(inc.ID), Status: inc.Status, Reason: cleanText(inc.Reason), Drill: inc.Drill,
		Credential: sever.Credential{Provider: clean(inc.Credential.Provider), Type: inc.Credential.Type,
			ID: clean(inc.Credential.ID), Principal: clean(inc.Credential.Principal), Account: clean(inc.Credential.Account)},
		Runbook: cleanRef(inc.Runbook), Policy: cleanRef(inc.Policy),
		OpenedAt: inc.OpenedAt.UTC(), ClosedAt: utcPtr(inc.ClosedAt), ContainedAt: utcPtr(inc.ContainedAt),
		Signals: inc.SignalCount(), DuplicateDeliveries: inc.Duplicates,
	}
	best := -1
	for _, s := range inc.Signals {
		if i := slices.Index(sever.Severities, s.Severity); i > best {
			best = i
		}
	}
	if best >= 0 {
		b.r.Incident.Severity = sever.Severities[best]
	}
	// The clock starts when the first signal was accepted: that is when the
	// enterprise could first have acted.
	b.start = inc.OpenedAt.UTC()
	for _, s := range inc.Signals {
		if !s.ReceivedAt.IsZero() && s.ReceivedAt.Before(b.start) {
			b.start = s.ReceivedAt.UTC()
		}
	}
	if b.start.IsZero() {
		b.note("The incident records no opening time; durations are left out.")
	}
}

func cleanRef(r sever.RunbookRef) sever.RunbookRef {
	return sever.RunbookRef{Name: clean(r.Name), Version: clean(r.Version), SHA256: clean(r.SHA256)}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// offset is seconds from the first signal, never negative: clocks of the API and the
// workflow differ by a little.
func (b *builder) offset(t time.Time) float64 {
	if b.start.IsZero() || t.IsZero() {
		return 0
	}
	return max(0, round3(t.Sub(b.start).Seconds()))
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func (b *builder) signals() {
	for _, s := range b.inc.Signals {
		b.r.Signals = append(b.r.Signals, SignalInfo{
			ID: clean(s.ID), Source: clean(s.Source), SourceEventID: clean(s.SourceEventID),
			Origin: s.Origin, Kind: s.Kind, Severity: clean(s.Severity), Summary: cleanText(s.Summary),
			Reporter: clean(s.Reporter), ObservedAt: s.ObservedAt.UTC(), ReceivedAt: s.ReceivedAt.UTC(),
			AfterStart: b.offset(s.ReceivedAt), Duplicates: s.Duplicates, PayloadSHA256: hashOnly(s.PayloadSHA256),
		})
	}
}

// stepName is the runbook's name for a step, or its action; a compensation is named
// by what it undoes.
func (b *builder) stepName(st sever.Step) string {
	if orig, ok := b.undoes[st.ID]; ok {
		return fmt.Sprintf("undo %s (%s) after the false-positive close", clean(orig.ID), clean(st.Action))
	}
	if spec := b.specs[st.ID]; spec != nil && spec.Name != "" {
		return clean(spec.Name)
	}
	return clean(st.Action)
}

// executed reports whether the step ran its action, as opposed to ending without
// running (skipped, refused, denied, expired, or pending).
func executed(st sever.Step) bool {
	switch {
	case st.StartedAt == nil:
		return false
	case st.Status == sever.StepSucceeded:
		return true
	case st.Status == sever.StepFailed:
		return st.Enforcement != sever.ApprovalExpired && st.Enforcement != sever.HumanDenied
	}
	return false
}

// containment decides whether the enterprise contained the credential, and when.
// The workflow's own verdict is necessary but not sufficient: every containment step
// that ran must have been enforced by the enterprise and read back.
func (b *builder) containment() {
	inc := b.inc
	if inc.ContainedAt == nil {
		return
	}
	var last time.Time
	enterprise := 0
	for _, st := range inc.Steps {
		if !b.isContainment(st) || st.Status != sever.StepSucceeded {
			continue
		}
		if st.Enforcement != sever.EnterpriseEnforced || !st.Verified {
			b.note("The workflow counted step %s (%s, verified %t) as containment; this report does not, since only the enterprise's own verified controls contain a credential.",
				clean(st.ID), enforcementText(st.Enforcement), st.Verified)
			return
		}
		enterprise++
		if st.EndedAt != nil && st.EndedAt.After(last) {
			last = st.EndedAt.UTC()
		}
	}
	if enterprise == 0 {
		b.note("The workflow declared the incident contained, but no containment step enforced by the enterprise was verified.")
		return
	}
	if last.IsZero() || last.After(inc.ContainedAt.UTC()) {
		last = inc.ContainedAt.UTC()
	}
	b.contained = last
	b.r.Incident.EnterpriseContainedAt = &last
}

// compensations records which step each compensation undoes and whether a
// containment step was undone: a false-positive close that re-enables the credential
// takes the control away, and the report must not go on presenting it as in place.
func (b *builder) compensations() {
	b.undoes = map[string]sever.Step{}
	byID := map[string]sever.Step{}
	for _, st := range b.inc.Steps {
		byID[st.ID] = st
	}
	var last time.Time
	for _, c := range b.inc.Compensations {
		orig, ok := byID[strings.TrimSuffix(c.ID, compensateSuffix)]
		if !ok {
			orig = sever.Step{ID: strings.TrimSuffix(c.ID, compensateSuffix)}
		}
		b.undoes[c.ID] = orig
		if c.Status == sever.StepSucceeded && b.isContainment(orig) {
			end := b.r.GeneratedAt
			if c.EndedAt != nil {
				end = c.EndedAt.UTC()
			}
			if end.After(last) {
				last = end
			}
		}
	}
	if !last.IsZero() {
		b.r.Incident.ContainmentUndoneAt = &last
	}
}

// compensateSuffix ends the step ID the workflow gives a compensation.
const compensateSuffix = ".compensate"

func (b *builder) isCompensation(st sever.Step) bool {
	_, ok := b.undoes[st.ID]
	return ok
}

func (b *builder) isContainment(st sever.Step) bool {
	if spec := b.specs[st.ID]; spec != nil {
		return spec.Containment
	}
	return st.Containment
}

func enforcementText(e sever.Enforcement) string {
	if e == sever.EnforcementNone {
		return "no enforcement class"
	}
	return string(e)
}

func (b *builder) accountability() {
	var rows []ControlPoint
	for _, s := range b.inc.Signals {
		if s.Origin != sever.OriginVendor {
			continue
		}
		at := s.ReceivedAt.UTC()
		row := ControlPoint{
			Kind: PointSignal, Ref: clean(s.ID),
			What:        fmt.Sprintf("%s notice from %s", s.Kind, clean(s.Source)),
			Enforcement: sever.VendorNotified, Who: clean(s.Source), At: &at, Status: "recorded",
			Detail: cleanText(s.Summary),
		}
		if h := hashOnly(s.PayloadSHA256); h != "" {
			row.Evidence = []Hash{{Name: "payload", SHA256: h}}
		}
		rows = append(rows, row)
	}
	for _, st := range b.allSteps() {
		for _, d := range st.Approvals {
			rows = append(rows, b.decisionRow(st, d))
		}
		rows = append(rows, b.stepRow(st))
	}
	// Chronological, with control points that have not happened yet last; ties keep
	// the order above (a step's decisions before the step).
	slices.SortStableFunc(rows, func(x, y ControlPoint) int {
		switch {
		case x.At == nil && y.At == nil:
			return 0
		case x.At == nil:
			return 1
		case y.At == nil:
			return -1
		}
		return x.At.Compare(*y.At)
	})
	b.r.Accountability = rows
}

// allSteps are the earlier attempts of retried steps, the runbook's steps, then the
// compensations of a false-positive close.
func (b *builder) allSteps() []sever.Step {
	all := append(slices.Clip(b.inc.PriorAttempts), b.inc.Steps...)
	return append(all, b.inc.Compensations...)
}

// attemptNote names an earlier attempt of a retried step ("" for the latest).
func attemptNote(st sever.Step) string {
	if st.Attempt < 1 {
		return ""
	}
	return fmt.Sprintf(" (attempt %d, retried)", st.Attempt)
}

func (b *builder) decisionRow(st sever.Step, d sever.Decision) ControlPoint {
	at := d.At.UTC()
	row := ControlPoint{Kind: PointApproval, Ref: clean(st.ID), Action: clean(st.Action), Who: clean(d.Approver),
		At: &at, PolicyRule: clean(st.PolicyRule), Detail: cleanText(d.Reason), Compensation: b.isCompensation(st)}
	bound := d.ArgsSHA256 != "" && d.ArgsSHA256 == st.ArgsSHA256
	switch {
	case d.Channel == "timeout":
		// The policy's pre-approved fallback, not a person: recorded as expiry.
		row.Enforcement, row.Status = sever.ApprovalExpired, "proceeded on timeout"
		row.What = "approval expired; policy allowed " + b.stepName(st) + " to proceed"
	case d.Approve:
		row.Enforcement, row.Status, row.Verified = sever.HumanApproved, "approved", bound
		row.What = "approve " + b.stepName(st)
	default:
		row.Enforcement, row.Status, row.Verified = sever.HumanDenied, "denied", bound
		row.What = "deny " + b.stepName(st)
	}
	if d.Channel != "" && d.Channel != "timeout" {
		row.What += " (via " + clean(d.Channel) + ")"
	}
	if h := hashOnly(d.ArgsSHA256); h != "" {
		row.Evidence = []Hash{{Name: "approved arguments", SHA256: h}}
	}
	return row
}

func (b *builder) stepRow(st sever.Step) ControlPoint {
	row := ControlPoint{Kind: PointStep, Ref: clean(st.ID), Action: clean(st.Action), What: b.stepName(st) + attemptNote(st),
		Enforcement: st.Enforcement, Who: clean(st.Actor), At: utcPtr(st.EndedAt), Status: string(st.Status),
		Verified: st.Verified, PolicyRule: clean(st.PolicyRule), Containment: b.isContainment(st), Compensation: b.isCompensation(st)}
	if row.Compensation {
		// An undo takes containment away; it never counts as containment itself.
		row.Containment = false
	}
	if !st.Status.Done() {
		row.At = nil
	}
	for _, a := range st.Evidence {
		if h := hashOnly(a.SHA256); h != "" {
			row.Evidence = append(row.Evidence, Hash{Name: clean(a.Name), SHA256: h, URI: clean(a.URI)})
		}
	}
	row.Detail = cleanText(st.Summary)
	if st.Error != "" {
		row.Detail = cleanText(st.Error)
	}
	return row
}

func (b *builder) timeline() {
	var ev []Event
	add := func(e Event) {
		e.Offset = b.offset(e.At)
		if e.End != nil {
			off := b.offset(*e.End)
			e.EndOffset = &off
		}
		ev = append(ev, e)
	}
	if !b.inc.OpenedAt.IsZero() {
		add(Event{Kind: EventOpened, At: b.inc.OpenedAt.UTC(), Lane: LaneNone,
			Text: "incident opened; runbook " + refText(b.inc.Runbook) + " pinned"})
	}
	for _, s := range b.r.Signals {
		e := Event{Kind: EventSignal, At: s.ReceivedAt, Lane: LaneNone, Ref: s.ID,
			Text: fmt.Sprintf("%s signal from %s (%s)", s.Kind, s.Source, s.Origin)}
		if s.Origin == sever.OriginVendor {
			e.Lane = string(sever.VendorNotified)
		}
		if s.Duplicates > 0 {
			e.Text += ", " + plural(s.Duplicates, "duplicate delivery", "duplicate deliveries")
		}
		add(e)
	}
	for _, st := range b.allSteps() {
		for _, d := range st.Approvals {
			row := b.decisionRow(st, d)
			add(Event{Kind: EventApproval, At: *row.At, Lane: laneOf(row.Enforcement), Ref: row.Ref,
				Status: row.Status, Text: row.What + " by " + row.Who})
		}
		if st.StartedAt == nil || !st.Status.Done() && st.Status != sever.StepRunning {
			continue
		}
		e := Event{Kind: EventStep, At: st.StartedAt.UTC(), End: utcPtr(st.EndedAt), Lane: laneOf(st.Enforcement),
			Ref: clean(st.ID), Status: string(st.Status), Text: b.stepText(st)}
		add(e)
	}
	if !b.contained.IsZero() {
		add(Event{Kind: EventContained, At: b.contained, Lane: LaneNone,
			Text: "contained: the enterprise's own controls verified in place"})
	}
	if u := b.r.Incident.ContainmentUndoneAt; u != nil {
		add(Event{Kind: EventUndone, At: *u, Lane: LaneNone,
			Text: "containment undone: sever reversed it after the false-positive close; the control is no longer in place"})
	}
	if b.inc.ClosedAt != nil {
		text := "incident closed"
		if b.inc.Reason != "" {
			text += ": " + cleanText(b.inc.Reason)
		}
		add(Event{Kind: EventClosed, At: b.inc.ClosedAt.UTC(), Lane: LaneNone, Text: text})
	}
	order := []string{EventOpened, EventSignal, EventApproval, EventStep, EventContained, EventUndone, EventClosed}
	slices.SortStableFunc(ev, func(x, y Event) int {
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		return slices.Index(order, x.Kind) - slices.Index(order, y.Kind)
	})
	b.r.Timeline = ev
}

// laneOf is the timeline lane of an enforcement class; a class this package does not
// know (a newer engine's) goes with the unclassified events rather than vanish.
func laneOf(e sever.Enforcement) string {
	if e != sever.EnforcementNone && slices.Contains(Lanes, string(e)) {
		return string(e)
	}
	return LaneNone
}

func (b *builder) stepText(st sever.Step) string {
	s := fmt.Sprintf("step %s (%s)%s", clean(st.ID), b.stepName(st), attemptNote(st))
	if st.Actor != "" {
		s += " by " + clean(st.Actor)
	}
	s += ": " + string(st.Status)
	if st.Status == sever.StepSucceeded {
		if st.Verified {
			s += ", verified"
		} else {
			s += ", not verified"
		}
	}
	if st.Error != "" {
		s += ": " + cleanText(st.Error)
	}
	return s
}

func (b *builder) durations() {
	d := Durations{Start: b.start, ProviderSignals: []ProviderSignal{}}
	if b.start.IsZero() {
		b.r.Durations = d
		return
	}
	span := func(t time.Time, ref string) *Span {
		return &Span{At: t.UTC(), Seconds: b.offset(t), Ref: ref}
	}
	for _, st := range b.inc.Steps {
		if executed(st) && (d.FirstAction == nil || st.StartedAt.Before(d.FirstAction.At)) {
			d.FirstAction = span(*st.StartedAt, clean(st.ID))
		}
		for _, dec := range st.Approvals {
			if dec.Approve && dec.Channel != "timeout" && (d.Approval == nil || dec.At.Before(d.Approval.At)) {
				d.Approval = span(dec.At, clean(st.ID))
			}
		}
	}
	if !b.contained.IsZero() {
		// Name the containment step whose read-back completed containment.
		var ref string
		var refAt time.Time
		for _, st := range b.inc.Steps {
			if b.isContainment(st) && st.Status == sever.StepSucceeded && st.EndedAt != nil &&
				!st.EndedAt.After(b.contained) && !st.EndedAt.Before(refAt) {
				ref, refAt = clean(st.ID), *st.EndedAt
			}
		}
		d.VerifiedContainment = span(b.contained, ref)
	}
	noun := credentialNoun(b.inc.Credential.Type)
	for i, s := range b.r.Signals {
		if s.Origin != sever.OriginVendor {
			continue
		}
		p := ProviderSignal{SignalID: s.ID, Source: s.Source, Kind: s.Kind, ObservedAt: s.ObservedAt,
			ReceivedAt: s.ReceivedAt, AfterStart: s.AfterStart}
		if !s.ObservedAt.IsZero() && s.ReceivedAt.After(s.ObservedAt) {
			lag := round3(s.ReceivedAt.Sub(s.ObservedAt).Seconds())
			p.ReportingLag = &lag
		}
		opened := i == 0 && s.AfterStart == 0
		switch {
		case !b.contained.IsZero():
			after := round3(s.ReceivedAt.Sub(b.contained).Seconds())
			p.AfterContainment = &after
			p.Late = after > 0
			switch {
			case p.Late:
				p.Text = fmt.Sprintf("the provider's signal came %s after the enterprise had contained the %s", seconds(after), noun)
			case opened:
				p.Text = fmt.Sprintf("the provider's signal opened the incident, %s before the enterprise contained the %s", seconds(-after), noun)
			default:
				p.Text = fmt.Sprintf("the provider's signal came %s after the first signal, %s before the enterprise contained the %s",
					seconds(s.AfterStart), seconds(-after), noun)
			}
		case opened:
			p.Text = fmt.Sprintf("the provider's signal opened the incident; the enterprise has not contained the %s", noun)
		default:
			p.Text = fmt.Sprintf("the provider's signal came %s after the first signal; the enterprise has not contained the %s",
				seconds(s.AfterStart), noun)
		}
		if p.ReportingLag != nil {
			p.Text += fmt.Sprintf(" (the provider observed the event %s before it told us)", seconds(*p.ReportingLag))
		}
		b.r.Signals[i].Late = p.Late
		d.ProviderSignals = append(d.ProviderSignals, p)
	}
	for i := range b.r.Timeline {
		e := &b.r.Timeline[i]
		if e.Kind == EventSignal && e.Lane == string(sever.VendorNotified) && !b.contained.IsZero() && e.At.After(b.contained) {
			e.Late = true
			e.Text += fmt.Sprintf(": late, %s after containment", seconds(round3(e.At.Sub(b.contained).Seconds())))
		}
	}
	b.r.Durations = d
}

// credentialNoun names the credential the way the report's sentences need it.
func credentialNoun(t sever.CredentialType) string {
	switch {
	case strings.HasSuffix(string(t), "_key"):
		return "key"
	case strings.HasSuffix(string(t), "_token"):
		return "token"
	}
	return "credential"
}

func (b *builder) gap() {
	g := Gap{VendorNotified: []GapEntry{}, VendorEnforced: []GapEntry{}, EnterpriseEnforced: []GapEntry{}, NotDone: []GapEntry{}}
	for _, s := range b.r.Signals {
		if s.Origin == sever.OriginVendor {
			g.VendorNotified = append(g.VendorNotified, GapEntry{Ref: s.ID, Name: fmt.Sprintf("%s notice from %s", s.Kind, s.Source),
				Status: "received"})
		}
	}
	seen := map[string]bool{}
	for _, st := range b.inc.Steps {
		seen[st.ID] = true
		e := GapEntry{Ref: clean(st.ID), Name: b.stepName(st), Action: clean(st.Action), Status: string(st.Status),
			Containment: b.isContainment(st)}
		switch {
		case st.Enforcement == sever.HumanDenied || st.Enforcement == sever.ApprovalExpired:
			e.Why = string(st.Enforcement)
			if st.Error != "" {
				e.Why = cleanText(st.Error)
			}
			g.NotDone = append(g.NotDone, e)
		case st.Status != sever.StepSucceeded:
			e.Why = string(st.Status)
			if st.Error != "" {
				e.Why += ": " + cleanText(st.Error)
			}
			g.NotDone = append(g.NotDone, e)
		case st.Enforcement == sever.VendorNotified:
			g.VendorNotified = append(g.VendorNotified, e)
		case st.Enforcement == sever.VendorEnforced:
			g.VendorEnforced = append(g.VendorEnforced, e)
		case st.Enforcement == sever.EnterpriseEnforced && st.Verified:
			g.EnterpriseEnforced = append(g.EnterpriseEnforced, e)
		case st.Enforcement == sever.EnterpriseEnforced:
			e.Why = "ran, but the read-back did not show the control in place"
			g.NotDone = append(g.NotDone, e)
		}
		// A step that succeeded and enforces nothing (a notice) is not a control.
	}
	if b.rb != nil {
		for _, spec := range b.rb.Steps {
			if !seen[spec.ID] {
				g.NotDone = append(g.NotDone, GapEntry{Ref: clean(spec.ID), Name: clean(cmp.Or(spec.Name, spec.Action)),
					Action: clean(spec.Action), Status: "not recorded", Containment: spec.Containment,
					Why: "the incident has no record of this step"})
			}
		}
	}
	for _, c := range b.inc.Compensations {
		e := GapEntry{Ref: clean(c.ID), Name: b.stepName(c), Action: clean(c.Action), Status: string(c.Status),
			Containment: b.isContainment(b.undoes[c.ID])}
		switch {
		case c.Status == sever.StepSucceeded && c.Verified:
			e.Why = "undone by sever, read back"
		case c.Status == sever.StepSucceeded:
			e.Why = "undone by sever, not verified by read-back"
		default:
			e.Why = "not undone: " + string(c.Status)
			if c.Error != "" {
				e.Why += ": " + cleanText(c.Error)
			}
		}
		if who := approvers(c); who != "" {
			e.Why += "; approved by " + who
		}
		g.Compensations = append(g.Compensations, e)
	}
	g.EnterpriseContained = !b.contained.IsZero()
	g.ContainmentUndone = b.r.Incident.ContainmentUndoneAt != nil
	g.Verdict = b.verdict(g)
	b.r.Gap = g
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func refs(es []GapEntry, pick func(GapEntry) bool) string {
	var out []string
	for _, e := range es {
		if pick == nil || pick(e) {
			out = append(out, e.Ref)
		}
	}
	return strings.Join(out, ", ")
}

// approvers names who approved a step, in order, without repeats.
func approvers(st sever.Step) string {
	var who []string
	for _, d := range st.Approvals {
		if d.Approve && !slices.Contains(who, clean(d.Approver)) {
			who = append(who, clean(d.Approver))
		}
	}
	return strings.Join(who, ", ")
}

func (b *builder) verdict(g Gap) string {
	noun := credentialNoun(b.inc.Credential.Type)
	vendor := refs(g.VendorEnforced, nil)
	containment := func(e GapEntry) bool { return e.Containment }
	undone := func(e GapEntry) bool { return e.Containment && e.Status == string(sever.StepSucceeded) }
	notUndone := func(e GapEntry) bool { return e.Containment && e.Status != string(sever.StepSucceeded) }
	var s string
	switch {
	case g.ContainmentUndone:
		// The historical containment stays in the record, but the verdict is about
		// now: the credential works again, by sever's own hand.
		s = fmt.Sprintf("Containment undone: the incident was closed as a false positive and sever reversed its containment (%s); the control is no longer in place.",
			refs(g.Compensations, undone))
		if g.EnterpriseContained {
			s += fmt.Sprintf(" Before that the enterprise had contained the %s (%s verified by read-back).", noun, refs(g.EnterpriseEnforced, containment))
		}
		if vendor != "" {
			s += fmt.Sprintf(" The vendor also acted (%s, observed); that is supplementary evidence, not the control of record.", vendor)
		}
	case g.EnterpriseContained:
		s = fmt.Sprintf("Contained by the enterprise: %s verified by read-back.", refs(g.EnterpriseEnforced, containment))
		if vendor != "" {
			s += fmt.Sprintf(" The vendor also acted (%s, observed); that is supplementary evidence, not the control of record.", vendor)
		} else {
			s += " No vendor action was observed: the enterprise's own controls did the work."
		}
	default:
		s = fmt.Sprintf("Not contained by the enterprise: the %s is not verified as contained by its own controls.", noun)
		if vendor != "" {
			s += fmt.Sprintf(" The vendor acted (%s, observed), but a vendor action never counts as containment by itself.", vendor)
		}
		if missing := refs(g.NotDone, containment); missing != "" {
			s += " Containment steps not done: " + missing + "."
		}
	}
	if failed := refs(g.Compensations, notUndone); failed != "" {
		s += fmt.Sprintf(" The incident was closed as a false positive, but sever did not undo the containment (%s refused or failed): the control is still in place unless it was undone by hand.", failed)
	}
	if len(g.NotDone) > 0 {
		s += " " + plural(len(g.NotDone), "control", "controls") + " not done."
	}
	return s
}

func (b *builder) frameworks() {
	m := FrameworkMapping{Steps: []StepTags{}}
	if b.rb == nil {
		b.r.Frameworks = m
		return
	}
	m.Available = true
	m.Incident = b.tags(b.rb.Frameworks, "the runbook")
	status := map[string]string{}
	for _, st := range b.inc.Steps {
		status[st.ID] = string(st.Status)
	}
	for _, spec := range b.rb.Steps {
		st := StepTags{Step: clean(spec.ID), Name: clean(spec.Name), Action: clean(spec.Action),
			Status: cmp.Or(status[spec.ID], "not recorded"), Tags: b.tags(spec.Frameworks, "step "+clean(spec.ID))}
		m.Steps = append(m.Steps, st)
	}
	b.r.Frameworks = m
}

// tags looks every id up in its vocabulary. The parser rejects unknown ids, so one
// here means a runbook built some other way; it is kept, titled as unknown.
func (b *builder) tags(f sever.Frameworks, where string) Tags {
	look := func(vocab []sever.FrameworkTerm, ids []string, name string) []sever.FrameworkTerm {
		var out []sever.FrameworkTerm
		for _, id := range ids {
			t, ok := sever.LookupFrameworkTerm(vocab, id)
			if !ok {
				t = sever.FrameworkTerm{ID: clean(id), Title: "(unknown id)"}
				b.note("%s names %q, which is not in the %s.", where, clean(id), name)
			}
			out = append(out, t)
		}
		return out
	}
	var layers []string
	for _, n := range f.MAESTRO {
		layers = append(layers, fmt.Sprint(n))
	}
	return Tags{
		OWASPNHI:     look(sever.OWASPNHITop10, f.OWASPNHI, sever.FrameworkOWASPNHI),
		OWASPAgentic: look(sever.OWASPAgenticTop10, f.OWASPAgentic, sever.FrameworkOWASPAgentic),
		MAESTRO:      look(sever.MAESTROLayers, layers, sever.FrameworkMAESTRO+" layers"),
		NISTAIRMF:    look(sever.NISTAIRMFFunctions, f.NISTAIRMF, sever.FrameworkNISTAIRMF+" functions"),
	}
}
