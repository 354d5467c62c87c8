package cond

import (
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

type status string // stands in for sever.StepStatus without importing it

func vars() Vars {
	sig := map[string]any{
		"source": "github", "origin": "vendor", "kind": "credential_exposed",
		"severity": "high", "summary": "token in public repo", "source_event_id": "ev-1",
		"credential": map[string]any{"provider": "tokenstore", "type": "generic_token", "id": "tok-1"},
	}
	return Vars{
		Signal:     sig,
		Signals:    []any{sig, map[string]any{"origin": "enterprise", "kind": "anomalous_usage"}},
		Credential: map[string]any{"provider": "tokenstore", "type": "generic_token", "id": "tok-1", "principal": "svc-ci", "account": ""},
		Steps: map[string]any{
			"capture": map[string]any{"status": "succeeded", "verified": false, "enforcement": "", "output": map[string]any{"count": float64(2)}},
			"disable": map[string]any{"status": status("failed"), "verified": false, "enforcement": "enterprise_enforced", "output": map[string]string{}},
		},
		Incident: map[string]any{"id": "inc-1", "drill": true, "status": "open"},
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, expr, wantErr string
	}{
		{"equality", `signal.kind == "credential_exposed"`, ""},
		{"dynamic bool", `incident.drill`, ""},
		{"macro", `signals.exists(s, s.origin == "vendor")`, ""},
		{"in list", `credential.type in ["generic_token", "github_token"]`, ""},
		{"nested step output", `steps.capture.output.count > 1`, ""},
		{"utc accessor", `timestamp("2024-01-01T00:00:00Z").getHours() == 0`, ""},
		{"empty", "  ", "empty condition"},
		{"syntax", `signal.kind ==`, "invalid condition"},
		{"undeclared", `sigal.kind == "x"`, "undeclared reference to 'sigal'"},
		{"not bool", `signal.kind`, ""}, // dyn: checked again at eval time
		{"string", `"yes"`, "must be a bool"},
		{"int", `1 + 2`, "must be a bool"},
		{"map literal", `{"a": 1}.exists(k, k == "a")`, "map literals are not allowed"},
		{"time zone", `timestamp("2024-01-01T00:00:00Z").getHours("Europe/Paris") == 1`, "time zone is not allowed"},
		{"no now", `now() > 0`, "undeclared reference to 'now'"},
		{"too long", strings.Repeat("true && ", MaxExprLen/8) + "true", "limit is 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.expr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.expr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check(%q) = %v, want error containing %q", tt.expr, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		name, expr string
		want       bool
		wantErr    string
	}{
		{"kind matches", `signal.kind == "credential_exposed"`, true, ""},
		{"kind differs", `signal.kind != "credential_exposed"`, false, ""},
		{"nested credential", `signal.credential.type == "generic_token"`, true, ""},
		{"signals exists", `signals.exists(s, s.origin == "enterprise")`, true, ""},
		{"signals all", `signals.all(s, s.origin == "vendor")`, false, ""},
		{"size", `size(signals) == 2`, true, ""},
		{"drill", `incident.drill`, true, ""},
		{"named string type", `steps.disable.status == "failed"`, true, ""},
		{"json number vs int", `steps.capture.output.count == 2`, true, ""},
		{"has present", `has(steps.capture)`, true, ""},
		{"has absent", `has(steps.notify)`, false, ""},
		{"map[string]string output", `size(steps.disable.output) == 0`, true, ""},
		{"missing key", `signal.nope == "x"`, false, "no such key: nope"},
		{"missing step", `steps.notify.status == "succeeded"`, false, "no such key: notify"},
		{"non-bool result", `signal.kind`, false, "not a bool"},
		{"cost limit", `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c,
			[1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, true))))))`,
			false, "cost limit"},
		{"invalid", `signal.kind ==`, false, "invalid condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Eval(tt.expr, vars())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Eval(%q) = %v, %v; want error containing %q", tt.expr, got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "cond: ") {
					t.Errorf("error %q does not name the operation", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.expr, err)
			}
			if got != tt.want {
				t.Fatalf("Eval(%q) = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestEvalNamesExpression(t *testing.T) {
	_, err := Eval(`signal.nope == "x"`, vars())
	if err == nil || !strings.Contains(err.Error(), `"signal.nope == \"x\""`) {
		t.Fatalf("error %v does not name the expression", err)
	}
}

func TestEvalZeroVars(t *testing.T) {
	got, err := Eval(`size(signals) == 0 && !has(signal.kind)`, Vars{})
	if err != nil || !got {
		t.Fatalf("Eval on zero Vars = %v, %v; want true, nil", got, err)
	}
}

// Map iteration order must not leak into results: a workflow replay has to see what
// the original run saw.
func TestEvalMapOrderIsDeterministic(t *testing.T) {
	steps := map[string]any{}
	for _, id := range []string{"m", "c", "x", "a", "q", "b", "z", "k", "e", "t"} {
		steps[id] = map[string]any{"status": "succeeded"}
	}
	v := Vars{Steps: steps}
	for i := 0; i < 50; i++ {
		ok, err := Eval(`steps.map(k, k) == ["a", "b", "c", "e", "k", "m", "q", "t", "x", "z"]`, v)
		if err != nil || !ok {
			t.Fatalf("iteration %d: Eval = %v, %v; want sorted keys", i, ok, err)
		}
	}
}

func TestEvalConcurrent(t *testing.T) {
	t.Parallel()
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func() {
			_, err := Eval(`signals.exists(s, s.kind == "anomalous_usage")`, vars())
			done <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestStepRefs(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`signal.kind == "x"`, nil},
		{`steps.capture.status == "succeeded"`, []string{"capture"}},
		{`steps["disable"].verified && steps.capture.verified && steps.disable.verified`, []string{"disable", "capture"}},
		{`has(steps.observe) || size(steps) > 0`, []string{"observe"}},
		{`signals.exists(steps, steps.kind == "x")`, nil}, // shadowed by the comprehension
		{`signals.exists(s, s.kind == steps.capture.output.kind)`, []string{"capture"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := StepRefs(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("StepRefs(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
	if _, err := StepRefs(`steps.`); err == nil {
		t.Fatal("StepRefs accepted a syntax error")
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`signal.kind == "credential_exposed"`,
		`signals.exists(s, s.origin == "vendor") && incident.drill`,
		`steps.capture.status == "succeeded" || has(steps.x.output.y)`,
		`{"a": 1}.size() == 1`,
		`[1,2,3].map(x, x * 2).filter(y, y > 2)[0] == 4`,
		`timestamp("2024-01-01T00:00:00Z").getHours("UTC") == 0`,
		`"abc".matches("^a.*$")`,
		`((((((((((true))))))))))`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		err := Check(expr)
		if err == nil {
			// Whatever type-checks must evaluate without panicking.
			_, _ = Eval(expr, vars())
		}
		_, _ = StepRefs(expr)
	})
}

func TestNewVars(t *testing.T) {
	cred := sever.Credential{Provider: "tokenstore", Type: sever.CredGenericToken, ID: "tok-1"}
	inc := &sever.Incident{
		ID: "inc-1", Status: sever.IncidentOpen, Drill: true, Credential: cred,
		Signals: []sever.RecordedSignal{
			{Signal: sever.Signal{Source: "github", Origin: sever.OriginVendor, Kind: sever.KindCredentialExposed, Credential: cred}},
			{Signal: sever.Signal{Source: "siem", Origin: sever.OriginEnterprise, Kind: sever.KindAnomalousUsage, Credential: cred}},
		},
		Steps: []sever.Step{
			{ID: "capture", Status: sever.StepSucceeded, Output: sever.Values{"count": 2}},
			{ID: "disable", Status: sever.StepPending},
		},
	}
	v := NewVars(inc)
	for _, expr := range []string{
		`signal.kind == "credential_exposed" && signal.credential.type == "generic_token"`,
		`signals.exists(s, s.origin == "enterprise") && size(signals) == 2`,
		`credential.id == "tok-1" && credential.principal == ""`,
		`steps.capture.status == "succeeded" && steps.capture.output.count == 2 && !steps.capture.verified`,
		`steps.disable.status == "pending" && size(steps.disable.output) == 0 && steps.disable.enforcement == ""`,
		`incident.drill && incident.status == "open" && incident.id == "inc-1"`,
	} {
		if ok, err := Eval(expr, v); err != nil || !ok {
			t.Errorf("Eval(%q) = %v, %v; want true", expr, ok, err)
		}
	}
	if ok, err := Eval(`size(signal) == 0 && size(signals) == 0`, NewVars(&sever.Incident{})); err != nil || !ok {
		t.Errorf("empty incident: %v, %v", ok, err)
	}
}
