package sever

import (
	"path"
	"slices"
	"time"
)

// Runbook is a parsed, validated containment runbook. An incident pins one: its
// content and hash travel in the workflow input, so editing the file later never
// changes an incident in flight.
type Runbook struct {
	Name        string       `json:"name"`
	Version     string       `json:"version"`
	Description string       `json:"description,omitempty"`
	Match       RunbookMatch `json:"match"`
	// Frameworks tags the incidents this runbook handles, for reports.
	Frameworks Frameworks    `json:"frameworks,omitzero"`
	Steps      []RunbookStep `json:"steps"`
	// SHA256 is the hash of Source, the exact bytes the runbook was parsed from.
	SHA256 string `json:"sha256"`
	Source string `json:"source"`
	// File is where the runbook came from ("builtin:NAME.yaml" or a path).
	File string `json:"file,omitempty"`
}

// Ref returns the runbook's identity as recorded on incidents.
func (r *Runbook) Ref() RunbookRef {
	return RunbookRef{Name: r.Name, Version: r.Version, SHA256: r.SHA256}
}

// RunbookMatch selects the signals a runbook applies to. Empty lists match everything.
type RunbookMatch struct {
	CredentialTypes []CredentialType `json:"credential_types,omitempty"`
	SignalKinds     []SignalKind     `json:"signal_kinds,omitempty"`
	// Priority breaks ties when several runbooks match; higher wins.
	Priority int `json:"priority,omitempty"`
}

// Matches reports whether the runbook applies to a credential type and signal kind.
func (m RunbookMatch) Matches(t CredentialType, k SignalKind) bool {
	return (len(m.CredentialTypes) == 0 || slices.Contains(m.CredentialTypes, t)) &&
		(len(m.SignalKinds) == 0 || slices.Contains(m.SignalKinds, k))
}

// RunbookStep is one step of a runbook.
type RunbookStep struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	Action string   `json:"action"`
	Args   Values   `json:"args,omitempty"`
	Needs  []string `json:"needs,omitempty"`
	// When is a CEL expression; the step runs only when it evaluates to true.
	When string `json:"when,omitempty"`
	// Timeout is the start-to-close timeout of one attempt.
	Timeout Duration `json:"timeout"`
	// MaxAttempts caps retries (1 means no retry).
	MaxAttempts int             `json:"max_attempts"`
	Approval    *ApprovalSpec   `json:"approval,omitempty"`
	Enforcement Enforcement     `json:"enforcement,omitempty"`
	Verify      *VerifySpec     `json:"verify,omitempty"`
	Mutating    bool            `json:"mutating"`
	Containment bool            `json:"containment"`
	OnFailure   StepFailureMode `json:"on_failure,omitempty"`
	Compensate  *CompensateSpec `json:"compensate,omitempty"`
	// Frameworks tags this control point, for reports.
	Frameworks Frameworks `json:"frameworks,omitzero"`
	// Line is where the step starts in the runbook file, for messages.
	Line int `json:"line,omitempty"`
}

// StepFailureMode says what a failed step does to the rest of the runbook.
type StepFailureMode string

const (
	// FailAbort stops scheduling further steps (the default for containment steps).
	FailAbort StepFailureMode = "abort"
	// FailContinue lets independent steps go on; dependents are skipped.
	FailContinue StepFailureMode = "continue"
)

// ApprovalSpec asks a person to approve a step before it runs.
type ApprovalSpec struct {
	Approvers []string `json:"approvers,omitempty"`
	Quorum    int      `json:"quorum"`
	Deadline  Duration `json:"deadline"`
	OnTimeout string   `json:"on_timeout"`
	// Escalate lists who is told when the deadline passes once; the deadline is then
	// extended by Deadline once before OnTimeout applies.
	Escalate []string `json:"escalate,omitempty"`
}

// Approval timeout outcomes.
const (
	OnTimeoutDeny    = "deny"
	OnTimeoutAbort   = "abort"
	OnTimeoutProceed = "proceed"
)

// VerifySpec names the read-back that decides whether a step is verified.
type VerifySpec struct {
	Action string `json:"action"`
	Args   Values `json:"args,omitempty"`
}

// CompensateSpec names the action that undoes a reversible step.
type CompensateSpec struct {
	Action string `json:"action"`
	Args   Values `json:"args,omitempty"`
}

// Duration is a time.Duration that reads and writes as a Go duration string.
type Duration time.Duration

// D returns the standard library value.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalText writes the duration as "90s", "5m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Policy decides, before anything is touched, whether an action may run automatically,
// only after approval, or not at all. Deny by default: an action no rule matches is
// forbidden.
type Policy struct {
	Name    string       `json:"name"`
	Version string       `json:"version"`
	Rules   []PolicyRule `json:"rules"`
	SHA256  string       `json:"sha256"`
	Source  string       `json:"source"`
	File    string       `json:"file,omitempty"`
}

// Ref returns the policy's identity.
func (p *Policy) Ref() RunbookRef {
	return RunbookRef{Name: p.Name, Version: p.Version, SHA256: p.SHA256}
}

// Policy modes.
const (
	ModeAuto      = "auto"
	ModeApproval  = "approval"
	ModeForbidden = "forbidden"
)

// PolicyRule maps actions (glob patterns, as in path.Match) to a mode.
type PolicyRule struct {
	ID              string           `json:"id"`
	Actions         []string         `json:"actions"`
	CredentialTypes []CredentialType `json:"credential_types,omitempty"`
	Mode            string           `json:"mode"`
	Approvers       []string         `json:"approvers,omitempty"`
	Quorum          int              `json:"quorum,omitempty"`
	Deadline        Duration         `json:"deadline,omitempty"`
	// AllowProceedOnTimeout permits a step's on_timeout: proceed (a pre-approved fallback).
	AllowProceedOnTimeout bool `json:"allow_proceed_on_timeout,omitempty"`
	// Drill restricts the rule to drills (true), production (false) or both (nil).
	Drill *bool `json:"drill,omitempty"`
}

// DefaultDenyRule is the rule recorded when no policy rule matches an action.
const DefaultDenyRule = "default-deny"

// PolicyDecision is the outcome of checking one step against the policy.
type PolicyDecision struct {
	Rule      string   `json:"rule"`
	Mode      string   `json:"mode"`
	Approvers []string `json:"approvers,omitempty"`
	Quorum    int      `json:"quorum,omitempty"`
	Deadline  Duration `json:"deadline,omitempty"`
	// AllowProceedOnTimeout mirrors the rule.
	AllowProceedOnTimeout bool `json:"allow_proceed_on_timeout,omitempty"`
}

// Decide returns the first rule matching the action and credential type, or the
// default deny. It is pure, so workflows may call it.
func (p *Policy) Decide(action string, t CredentialType, drill bool) PolicyDecision {
	if p != nil {
		for _, r := range p.Rules {
			if r.Drill != nil && *r.Drill != drill {
				continue
			}
			if len(r.CredentialTypes) > 0 && !slices.Contains(r.CredentialTypes, t) {
				continue
			}
			for _, pat := range r.Actions {
				if ok, _ := path.Match(pat, action); ok || pat == "*" {
					return PolicyDecision{Rule: r.ID, Mode: r.Mode, Approvers: r.Approvers, Quorum: r.Quorum,
						Deadline: r.Deadline, AllowProceedOnTimeout: r.AllowProceedOnTimeout}
				}
			}
		}
	}
	return PolicyDecision{Rule: DefaultDenyRule, Mode: ModeForbidden}
}
