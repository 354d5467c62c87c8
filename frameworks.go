package sever

import (
	"slices"
	"strconv"
)

// Frameworks tags a runbook or one of its steps with the public risk frameworks a SOC
// reports against. Ids are checked against the vocabularies below when a runbook is
// parsed, so a report never shows an id that does not exist in the framework.
type Frameworks struct {
	// OWASPNHI holds ids of the OWASP Top 10 Non-Human Identities Risks (2025): NHI1..NHI10.
	OWASPNHI []string `json:"owasp_nhi,omitempty"`
	// OWASPAgentic holds ids of the OWASP Top 10 for Agentic Applications (2026): ASI01..ASI10.
	OWASPAgentic []string `json:"owasp_agentic,omitempty"`
	// MAESTRO holds CSA MAESTRO layer numbers, 1..7.
	MAESTRO []int `json:"maestro,omitempty"`
	// NISTAIRMF holds NIST AI RMF 1.0 core functions: Govern, Map, Measure, Manage.
	NISTAIRMF []string `json:"nist_ai_rmf,omitempty"`
}

// IsZero reports whether no framework is tagged; it lets `omitzero` leave the field
// out of pinned runbooks that have no mapping.
func (f Frameworks) IsZero() bool {
	return len(f.OWASPNHI) == 0 && len(f.OWASPAgentic) == 0 && len(f.MAESTRO) == 0 && len(f.NISTAIRMF) == 0
}

// FrameworkTerm is one entry of a framework's published list.
type FrameworkTerm struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Framework names as reports print them.
const (
	FrameworkOWASPNHI     = "OWASP Top 10 Non-Human Identities Risks (2025)"
	FrameworkOWASPAgentic = "OWASP Top 10 for Agentic Applications (2026)"
	FrameworkMAESTRO      = "CSA MAESTRO"
	FrameworkNISTAIRMF    = "NIST AI RMF 1.0"
)

// The vocabularies, with the titles the frameworks publish. Ids are what runbooks write.
var (
	OWASPNHITop10 = []FrameworkTerm{
		{"NHI1", "Improper Offboarding"},
		{"NHI2", "Secret Leakage"},
		{"NHI3", "Vulnerable Third-Party NHI"},
		{"NHI4", "Insecure Authentication"},
		{"NHI5", "Overprivileged NHI"},
		{"NHI6", "Insecure Cloud Deployment Configurations"},
		{"NHI7", "Long-Lived Secrets"},
		{"NHI8", "Environment Isolation"},
		{"NHI9", "NHI Reuse"},
		{"NHI10", "Human Use of NHI"},
	}
	OWASPAgenticTop10 = []FrameworkTerm{
		{"ASI01", "Agent Goal Hijack"},
		{"ASI02", "Tool Misuse and Exploitation"},
		{"ASI03", "Identity and Privilege Abuse"},
		{"ASI04", "Agentic Supply Chain Vulnerabilities"},
		{"ASI05", "Unexpected Code Execution (RCE)"},
		{"ASI06", "Memory & Context Poisoning"},
		{"ASI07", "Insecure Inter-Agent Communication"},
		{"ASI08", "Cascading Failures"},
		{"ASI09", "Human-Agent Trust Exploitation"},
		{"ASI10", "Rogue Agents"},
	}
	// MAESTROLayers are ids "1".."7"; runbooks write the number.
	MAESTROLayers = []FrameworkTerm{
		{"1", "Foundation Models"},
		{"2", "Data Operations"},
		{"3", "Agent Frameworks"},
		{"4", "Deployment and Infrastructure"},
		{"5", "Evaluation and Observability"},
		{"6", "Security and Compliance"},
		{"7", "Agent Ecosystem"},
	}
	// NISTAIRMFFunctions are the four functions of the AI RMF Core; the framework
	// gives them no title beyond their name.
	NISTAIRMFFunctions = []FrameworkTerm{
		{"Govern", "Govern"},
		{"Map", "Map"},
		{"Measure", "Measure"},
		{"Manage", "Manage"},
	}
)

// LookupFrameworkTerm finds id in one of the vocabularies above.
func LookupFrameworkTerm(vocabulary []FrameworkTerm, id string) (FrameworkTerm, bool) {
	i := slices.IndexFunc(vocabulary, func(t FrameworkTerm) bool { return t.ID == id })
	if i < 0 {
		return FrameworkTerm{}, false
	}
	return vocabulary[i], true
}

// MAESTROLayer returns the layer with number n.
func MAESTROLayer(n int) (FrameworkTerm, bool) {
	return LookupFrameworkTerm(MAESTROLayers, strconv.Itoa(n))
}
