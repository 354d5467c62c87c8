package runbooks

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

func TestParseFrameworks(t *testing.T) {
	src := `name: mapped
version: "1"
frameworks:
  owasp_nhi: [NHI2, NHI10]
  owasp_agentic: [ASI03]
  maestro: [4, 6]
  nist_ai_rmf: [Manage, Govern]
steps:
  - id: a
    action: sever.noop
    frameworks:
      nist_ai_rmf: [Measure]
  - id: b
    action: sever.noop
`
	rb, err := Parse("mapped.yaml", []byte(src), sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	want := sever.Frameworks{OWASPNHI: []string{"NHI2", "NHI10"}, OWASPAgentic: []string{"ASI03"},
		MAESTRO: []int{4, 6}, NISTAIRMF: []string{"Manage", "Govern"}}
	if !reflect.DeepEqual(rb.Frameworks, want) {
		t.Errorf("runbook frameworks = %+v, want %+v", rb.Frameworks, want)
	}
	if got := rb.Steps[0].Frameworks; !reflect.DeepEqual(got, sever.Frameworks{NISTAIRMF: []string{"Measure"}}) {
		t.Errorf("step a frameworks = %+v", got)
	}
	if !rb.Steps[1].Frameworks.IsZero() {
		t.Errorf("step b frameworks = %+v, want none", rb.Steps[1].Frameworks)
	}
}

func TestParseFrameworksErrors(t *testing.T) {
	top := func(block string) string {
		return "name: mapped\nversion: \"1\"\nframeworks:\n" + block + "steps:\n  - {id: a, action: sever.noop}\n"
	}
	tests := []struct {
		name string
		src  string
		want wantErr
	}{
		{"unknown NHI id", top("  owasp_nhi: [NHI11]\n"),
			wantErr{4, "frameworks.owasp_nhi[0]", `unknown OWASP NHI Top 10 id "NHI11" (NHI1 to NHI10 of the OWASP Top 10 Non-Human Identities Risks (2025))`}},
		{"NHI id with year", top("  owasp_nhi: [\"NHI2:2025\"]\n"),
			wantErr{4, "frameworks.owasp_nhi[0]", `(did you mean "NHI2"?)`}},
		{"NHI id in lower case", top("  owasp_nhi: [nhi7]\n"),
			wantErr{4, "frameworks.owasp_nhi[0]", `(did you mean "NHI7"?)`}},
		{"agentic id without padding", top("  owasp_agentic: [ASI1]\n"),
			wantErr{4, "frameworks.owasp_agentic[0]", `unknown OWASP Agentic Top 10 id "ASI1" (ASI01 to ASI10 of the OWASP Top 10 for Agentic Applications (2026)) (did you mean "ASI01"?)`}},
		{"agentic id from the LLM list", top("  owasp_agentic: [LLM01]\n"),
			wantErr{4, "frameworks.owasp_agentic[0]", `unknown OWASP Agentic Top 10 id "LLM01"`}},
		{"MAESTRO layer out of range", top("  maestro: [8]\n"),
			wantErr{4, "frameworks.maestro[0]", "8 is not a MAESTRO layer (1 to 7: 1 Foundation Models"}},
		{"MAESTRO layer written as a name", top("  maestro: [L4]\n"),
			wantErr{4, "frameworks.maestro[0]", `"L4" is not a MAESTRO layer number (1 to 7: 1 Foundation Models, 2 Data Operations, 3 Agent Frameworks, 4 Deployment and Infrastructure, 5 Evaluation and Observability, 6 Security and Compliance, 7 Agent Ecosystem); write the number alone: 4`}},
		{"NIST function in capitals", top("  nist_ai_rmf: [MANAGE]\n"),
			wantErr{4, "frameworks.nist_ai_rmf[0]", `unknown NIST AI RMF function "MANAGE" (Govern, Map, Measure or Manage) (did you mean "Manage"?)`}},
		{"duplicate id", top("  owasp_nhi: [NHI2, NHI2]\n"),
			wantErr{4, "frameworks.owasp_nhi[1]", `"NHI2" is listed twice`}},
		{"duplicate layer", top("  maestro: [6, 6]\n"),
			wantErr{4, "frameworks.maestro[1]", "6 is listed twice"}},
		{"unknown framework", top("  owasp_llm: [LLM01]\n"),
			wantErr{4, "frameworks.owasp_llm", "unknown field"}},
		{"typo in framework key", top("  owasp_nhl: [NHI2]\n"),
			wantErr{4, "frameworks.owasp_nhl", `did you mean "owasp_nhi"?`}},
		{"not a list", top("  owasp_nhi: NHI2\n"),
			wantErr{4, "frameworks.owasp_nhi", "must be a list"}},
		{"not a mapping", "name: mapped\nversion: \"1\"\nframeworks: [NHI2]\nsteps:\n  - {id: a, action: sever.noop}\n",
			wantErr{3, "frameworks", "must be a mapping of fields (owasp_nhi, owasp_agentic, maestro, nist_ai_rmf)"}},
		{"in a step", header + `  - id: a
    action: sever.noop
    frameworks:
      owasp_agentic: [ASI11]
`, wantErr{10, "steps[0].frameworks.owasp_agentic[0]", `unknown OWASP Agentic Top 10 id "ASI11"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("mapped.yaml", []byte(tt.src), sever.Catalog)
			assertHas(t, lintErrors(t, err), "mapped.yaml", tt.want)
		})
	}
}

// An id of the right shape but out of range has no near neighbour worth suggesting.
func TestParseFrameworksNoMisleadingHint(t *testing.T) {
	src := "name: mapped\nversion: \"1\"\nframeworks:\n  owasp_nhi: [NHI12]\nsteps:\n  - {id: a, action: sever.noop}\n"
	_, err := Parse("mapped.yaml", []byte(src), sever.Catalog)
	if errs := lintErrors(t, err); len(errs) != 1 || strings.Contains(errs[0].Message, "did you mean") {
		t.Errorf("errors = %v, want one without a suggestion", errs)
	}
}

func TestBuiltinGenericTokenFrameworks(t *testing.T) {
	l, err := Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := l.Get("generic-token-exposed")
	if !reflect.DeepEqual(rb.Frameworks.OWASPNHI, []string{"NHI2"}) || len(rb.Frameworks.NISTAIRMF) == 0 {
		t.Errorf("runbook frameworks = %+v", rb.Frameworks)
	}
	for _, st := range rb.Steps {
		if st.Frameworks.IsZero() {
			t.Errorf("step %s has no framework mapping", st.ID)
		}
	}
}

func TestCanonicalTerm(t *testing.T) {
	for in, want := range map[string]string{
		"NHI2": "NHI2", "nhi2:2025": "NHI2", "ASI01": "ASI1", "asi-1": "ASI1", " Manage ": "MANAGE", "NHI010": "NHI10",
	} {
		if got := canonicalTerm(in); got != want {
			t.Errorf("canonicalTerm(%q) = %q, want %q", in, got, want)
		}
	}
}
