package sever

import "sort"

// Action names of the core actions, stable wire vocabulary that runbooks use.
const (
	ActionNoop            = "sever.noop"
	ActionCaptureSignals  = "sever.evidence.capture_signals"
	ActionNotifyLog       = "sever.notify.log"
	ActionTokenDisable    = "tokenstore.disable_token"
	ActionTokenEnable     = "tokenstore.enable_token"
	ActionTokenStatus     = "tokenstore.token_status"
	ActionTokenVendorSeen = "tokenstore.observe_vendor_state"
)

// Catalog lists every action a runbook may name. The worker registers an activity under
// each name and a test checks that the two agree; the runbook linter rejects names that
// are not here, so a typo fails at lint time, not in the middle of an incident.
var Catalog = map[string]ActionSpec{
	ActionNoop: {Name: ActionNoop, Description: "Does nothing; for tests and benchmarks.",
		Args: []string{"note"}},
	ActionCaptureSignals: {Name: ActionCaptureSignals,
		Description: "Writes the incident's signals to the evidence store and records the artifact's SHA-256.",
		Args:        []string{"label"}},
	ActionNotifyLog: {Name: ActionNotifyLog, Description: "Writes a notice to the operator log.",
		Args: []string{"message"}, Required: []string{"message"}},
	ActionTokenDisable: {Name: ActionTokenDisable, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets a token in the enterprise token store to inactive and reads it back.",
		Args:        []string{"store", "reason"}},
	ActionTokenEnable: {Name: ActionTokenEnable, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Re-activates a token in the token store (compensation for a false positive).",
		Args:        []string{"store", "reason"}},
	ActionTokenStatus: {Name: ActionTokenStatus,
		Description: "Reads a token's state from the token store; verified when it matches `expect` (default inactive).",
		Args:        []string{"store", "expect"}},
	ActionTokenVendorSeen: {Name: ActionTokenVendorSeen, Enforcement: VendorEnforced,
		Description: "Observes whether the issuing vendor already disabled the token; records vendor_enforced only when seen.",
		Args:        []string{"store"}},
}

// ActionNames returns the catalog's names in sorted order.
func ActionNames() []string {
	names := make([]string, 0, len(Catalog))
	for n := range Catalog {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
