package runbooks

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/sever-ir/sever"
)

func seedRunbooks(f *testing.F) {
	entries, _ := fs.ReadDir(builtinFS, "builtin")
	for _, e := range entries {
		src, _ := builtinFS.ReadFile("builtin/" + e.Name())
		f.Add(src)
	}
	for _, s := range []string{
		header + "  - {id: a, action: sever.noop, needs: [b]}\n  - {id: b, action: sever.noop, needs: [a]}\n",
		header + "  - id: a\n    action: sever.noop\n    when: 'steps.b.verified'\n    approval: {on_timeout: deny, quorum: 9}\n",
		"name: x\nversion: \"1\"\nsteps:\n  - &s {id: a, action: sever.noop}\n  - *s\n",
		"name: x\n<<: {version: \"1\"}\n",
		"[1, 2]\n",
		"---\n---\n",
		"name: x\nversion: \"1\"\nsteps:\n  - id: a\n    action: sever.noop\n    args: {note: {? [a]: b}}\n",
	} {
		f.Add([]byte(s))
	}
}

// checkInvariants holds for any input: either a result or LintErrors, never both, and
// every error names the file.
func checkInvariants(t *testing.T, ok bool, err error) {
	if ok == (err != nil) {
		t.Fatalf("result and error disagree: ok=%v err=%v", ok, err)
	}
	if err == nil {
		return
	}
	var le LintErrors
	if !errors.As(err, &le) || len(le) == 0 {
		t.Fatalf("error is %T, want non-empty LintErrors: %v", err, err)
	}
	for _, e := range le {
		if e.File != "fuzz.yaml" || e.Message == "" {
			t.Fatalf("error without file or message: %#v", e)
		}
	}
}

func FuzzParse(f *testing.F) {
	seedRunbooks(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		rb, err := Parse("fuzz.yaml", src, sever.Catalog)
		checkInvariants(t, rb != nil, err)
		_ = IsPolicy(src)
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(defaultPolicy)
	for _, s := range []string{
		policyHeader + "  - {id: r, actions: [\"*\"], mode: approval, approvers: [U1], quorum: 2}\n",
		policyHeader + "  - {id: r, actions: [\"[\"], mode: auto, drill: true}\n",
		policyHeader + "  []\n",
		"rules: {a: b}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := ParsePolicy("fuzz.yaml", src, sever.Catalog)
		checkInvariants(t, p != nil, err)
		if p != nil {
			_ = p.Decide(sever.ActionTokenDisable, sever.CredGenericToken, false)
		}
	})
}
