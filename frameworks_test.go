package sever

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFrameworkVocabularies(t *testing.T) {
	for _, v := range []struct {
		name   string
		terms  []FrameworkTerm
		n      int
		prefix string
	}{
		{"OWASP NHI", OWASPNHITop10, 10, "NHI"},
		{"OWASP Agentic", OWASPAgenticTop10, 10, "ASI"},
		{"MAESTRO", MAESTROLayers, 7, ""},
		{"NIST AI RMF", NISTAIRMFFunctions, 4, ""},
	} {
		if len(v.terms) != v.n {
			t.Errorf("%s has %d terms, want %d", v.name, len(v.terms), v.n)
		}
		seen := map[string]bool{}
		for _, term := range v.terms {
			if seen[term.ID] || term.Title == "" || !strings.HasPrefix(term.ID, v.prefix) {
				t.Errorf("%s: bad or repeated term %+v", v.name, term)
			}
			seen[term.ID] = true
		}
	}
	if got, ok := LookupFrameworkTerm(OWASPAgenticTop10, "ASI03"); !ok || got.Title != "Identity and Privilege Abuse" {
		t.Errorf("ASI03 = %+v, %t", got, ok)
	}
	if _, ok := LookupFrameworkTerm(OWASPNHITop10, "NHI11"); ok {
		t.Error("NHI11 found")
	}
	for n, want := range map[int]bool{0: false, 1: true, 7: true, 8: false} {
		if _, ok := MAESTROLayer(n); ok != want {
			t.Errorf("MAESTROLayer(%d) ok = %t", n, ok)
		}
	}
}

// Runbooks without a mapping encode as before, so pinned runbooks in workflow inputs
// and histories recorded earlier keep their shape.
func TestFrameworksOmittedWhenEmpty(t *testing.T) {
	b, err := json.Marshal(Runbook{Name: "x", Steps: []RunbookStep{{ID: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "frameworks") {
		t.Errorf("empty mapping encoded: %s", b)
	}
	b, err = json.Marshal(RunbookStep{ID: "a", Frameworks: Frameworks{MAESTRO: []int{6}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"frameworks":{"maestro":[6]}`) {
		t.Errorf("mapping not encoded: %s", b)
	}
}
