package drill

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
)

// Result is what a drill measured. Its JSON form is the drill's summary, the input of
// Compare; it never holds secret material (reports are scrubbed, and the drill cloud's
// secret keys are never read into it).
type Result struct {
	Scenario  ScenarioRef `json:"scenario"`
	Passed    bool        `json:"passed"`
	StartedAt time.Time   `json:"started_at"`
	EndedAt   time.Time   `json:"ended_at"`
	// DurationSeconds is the drill's wall-clock length.
	DurationSeconds float64 `json:"duration_s"`
	TimedOut        bool    `json:"timed_out,omitempty"`
	// Policy is the runtime policy the incidents pinned; PolicyNote says how the
	// drill changed it (approval deadlines), if it did.
	Policy     sever.RunbookRef  `json:"policy"`
	PolicyNote string            `json:"policy_note,omitempty"`
	Objectives []ObjectiveResult `json:"objectives"`
	Metrics    Metrics           `json:"metrics"`
	Incidents  []IncidentResult  `json:"incidents"`
	Attackers  []AttackerResult  `json:"attackers"`
	Responders []ResponderResult `json:"responders"`
	// Approvers is who decided the approval requests: simulated (the responders)
	// or slack (People).
	Approvers string `json:"approvers,omitempty"`
	// People are the real approvers' answers in a drill with --approvers slack:
	// one per person and request they decided, and one approval_expired per
	// person who could have decided a request that expired.
	People  []PersonDecision `json:"people,omitempty"`
	Signals []SignalResult   `json:"signals"`
	// History is the scenario's recorded runs, this one included, when the caller
	// recorded it (sever drill run does); the HTML report charts it.
	History *ScenarioHistory `json:"history,omitempty"`
	Faults  []FaultResult    `json:"faults,omitempty"`
	// Problems are things that went wrong with the drill itself (a signal the API
	// refused, a fault the drill cloud rejected); any problem fails the drill.
	Problems []string `json:"problems,omitempty"`
}

// ScenarioRef names the scenario a result comes from.
type ScenarioRef struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	File        string `json:"file,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	Seed        int64  `json:"seed"`
}

// ObjectiveResult is one objective with its target and the value measured.
type ObjectiveResult struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Passed   bool   `json:"passed"`
}

// Metrics are the drill's figures across all its incidents: the worst time of any
// incident, the sum of counts. Times are seconds from each incident's first signal;
// nil means the moment never came (for containment: some incident was not contained
// by the enterprise).
type Metrics struct {
	TimeToFirstAction         *float64 `json:"time_to_first_action_s"`
	TimeToApproval            *float64 `json:"time_to_approval_s"`
	TimeToVerifiedContainment *float64 `json:"time_to_verified_containment_s"`
	// AttackerSuccessesAfterSignal counts attacker calls that succeeded after the
	// first signal about their credential was accepted.
	AttackerSuccessesAfterSignal int `json:"attacker_successes_after_signal"`
	// AttackerSuccessesAfterContainment counts those after verified containment; nil
	// when no attacked credential was contained.
	AttackerSuccessesAfterContainment *int      `json:"attacker_successes_after_containment"`
	AttackerAttempts                  int       `json:"attacker_attempts"`
	ExpiredApprovals                  []StepRef `json:"expired_approvals"`
	VendorSteps                       []StepRef `json:"vendor_steps"`
	ReliedOnVendor                    bool      `json:"relied_on_vendor"`
	Incidents                         int       `json:"incidents"`
	Deliveries                        int       `json:"deliveries"`
	SignalsRecorded                   int       `json:"signals_recorded"`
	DuplicatesRecorded                int       `json:"duplicates_recorded"`
	Unaccounted                       []string  `json:"unaccounted,omitempty"`
}

// StepRef is one step of one incident, with who enforced it.
type StepRef struct {
	Incident    string            `json:"incident"`
	Step        string            `json:"step"`
	Action      string            `json:"action"`
	Status      string            `json:"status"`
	Enforcement sever.Enforcement `json:"enforcement,omitempty"`
	Containment bool              `json:"containment,omitempty"`
}

// IncidentResult is one incident the drill opened.
type IncidentResult struct {
	ID           string               `json:"id"`
	Status       sever.IncidentStatus `json:"status"`
	Reason       string               `json:"reason,omitempty"`
	Credential   string               `json:"credential"`
	CredentialID string               `json:"credential_id"`
	Runbook      sever.RunbookRef     `json:"runbook"`
	Policy       sever.RunbookRef     `json:"policy"`
	// DetectedBy is the origin of the signal that opened the incident.
	DetectedBy sever.Origin `json:"detected_by"`
	// Sources are every source that reported the credential, in order of arrival.
	Sources             []string `json:"sources"`
	Signals             int      `json:"signals"`
	Duplicates          int      `json:"duplicates"`
	FirstAction         *float64 `json:"first_action_s"`
	Approval            *float64 `json:"approval_s"`
	VerifiedContainment *float64 `json:"verified_containment_s"`
	EnterpriseContained bool     `json:"enterprise_contained"`
	// ReliedOnVendor: a containment step was enforced by a vendor, or the vendor's
	// action was the only control in place.
	ReliedOnVendor bool          `json:"relied_on_vendor"`
	Ledger         *LedgerResult `json:"ledger,omitempty"`
	// Report is the incident report (report.Build), for rendering and for tools.
	Report *report.Report `json:"report"`
}

// LedgerResult is what the drill ledger holds for an incident.
type LedgerResult struct {
	Entries          int    `json:"entries"`
	Verified         bool   `json:"verified"`
	ExpiredApprovals int    `json:"expired_approvals"`
	Problem          string `json:"problem,omitempty"`
}

// AttackerResult is what one attacker got away with.
type AttackerResult struct {
	Name         string   `json:"name"`
	Credential   string   `json:"credential"`
	CredentialID string   `json:"credential_id"`
	Operations   []string `json:"operations"`
	Rate         float64  `json:"rate"`
	Attempts     int      `json:"attempts"`
	Successes    int      `json:"successes"`
	Denials      int      `json:"denials"`
	Errors       int      `json:"errors"`
	// SuccessesAfterSignal and SuccessesAfterContainment count successful calls
	// after the credential's first signal and after its verified containment (nil
	// when it was not contained).
	SuccessesAfterSignal      int     `json:"successes_after_signal"`
	SuccessesAfterContainment *int    `json:"successes_after_containment"`
	SessionKeyID              string  `json:"session_key_id,omitempty"`
	LastSuccessAt             float64 `json:"last_success_at_s,omitempty"`
}

// ResponderResult is what a simulated approver did.
type ResponderResult struct {
	Name      string              `json:"name"`
	Approver  string              `json:"approver"`
	Groups    []string            `json:"groups"`
	Asked     int                 `json:"asked"`
	Approved  int                 `json:"approved"`
	Denied    int                 `json:"denied"`
	Missed    int                 `json:"missed"`
	Late      int                 `json:"late"`
	Decisions []ResponderDecision `json:"decisions"`
}

// ResponderDecision is one request and what became of it. At is seconds since the
// drill started.
type ResponderDecision struct {
	Incident string  `json:"incident"`
	Step     string  `json:"step"`
	At       float64 `json:"at_s"`
	Outcome  string  `json:"outcome"` // approved, denied, missed, late
	Detail   string  `json:"detail,omitempty"`
}

// PersonDecision is one person's answer to one approval request of a drill. Times
// are seconds since the drill started; DecisionSeconds is from the request to the
// answer, nil for a no-show.
type PersonDecision struct {
	Approver        string   `json:"approver"`
	Incident        string   `json:"incident"`
	Step            string   `json:"step"`
	Action          string   `json:"action"`
	Channel         string   `json:"channel,omitempty"`
	AskedAt         float64  `json:"asked_at_s"`
	DecidedAt       *float64 `json:"decided_at_s,omitempty"`
	DecisionSeconds *float64 `json:"decision_s,omitempty"`
	// Outcome is approved, denied or approval_expired (the person never answered).
	Outcome string `json:"outcome"`
}

// SignalResult is one signal entry of the scenario as it was delivered. At is seconds
// since the drill started.
type SignalResult struct {
	Source     string  `json:"source"`
	Origin     string  `json:"origin"`
	Kind       string  `json:"kind"`
	Credential string  `json:"credential"`
	After      string  `json:"after"`
	At         float64 `json:"at_s"`
	Sent       bool    `json:"sent"`
	Deliveries int     `json:"deliveries"`
	// Recorded, Duplicate and Queued are what the API answered.
	Recorded   int      `json:"recorded"`
	Duplicate  int      `json:"duplicate"`
	Queued     int      `json:"queued"`
	Rejected   int      `json:"rejected"`
	Incidents  []string `json:"incidents"`
	Quarantine string   `json:"quarantine,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// FaultResult is one fault injected into the drill cloud. At is seconds since the
// drill started.
type FaultResult struct {
	At          float64 `json:"at_s"`
	Service     string  `json:"service,omitempty"`
	Operation   string  `json:"operation,omitempty"`
	Caller      string  `json:"caller,omitempty"`
	Kind        string  `json:"kind"`
	Count       int     `json:"count,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	Latency     string  `json:"latency,omitempty"`
	// Fired is how many calls the fault disturbed by the drill's end.
	Fired int    `json:"fired"`
	Error string `json:"error,omitempty"`
}

// JSON writes the result as indented JSON.
func (r *Result) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadResult reads a result written by JSON (sever drill run --format json).
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read drill result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read drill result %s: %w", path, err)
	}
	if r.Scenario.Name == "" {
		return nil, fmt.Errorf("read drill result %s: no scenario name; is it the JSON of sever drill run?", path)
	}
	return &r, nil
}
