package config

import (
	"strings"
	"testing"
	"time"
)

func TestIntakeLimits(t *testing.T) {
	cleanEnv(t)
	c, err := Parse("", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := IntakeLimits{PerCredential: RateLimit{50, 200}, PerToken: RateLimit{200, 1000}, Incidents: Quota{100, time.Hour}}
	if c.Intake.Limits != want {
		t.Errorf("default limits %+v, want %+v", c.Intake.Limits, want)
	}
	off, err := Parse("sever.yaml", []byte("intake:\n  limits:\n    per_credential: {rate: 0, burst: 0}\n    incidents: {count: 0}\n"))
	if err != nil || off.Intake.Limits.PerCredential.Rate != 0 || off.Intake.Limits.Incidents.Count != 0 {
		t.Errorf("limits turned off: %+v, %v", off, err)
	}
	for _, tc := range []struct{ name, yaml, field, msg string }{
		{"negative rate", "intake:\n  limits:\n    per_token: {rate: -1, burst: 5}\n", "intake.limits.per_token.rate", "negative"},
		{"rate without burst", "intake:\n  limits:\n    per_credential: {rate: 5, burst: 0}\n", "intake.limits.per_credential.burst", "at least 1"},
		{"zero window", "intake:\n  limits:\n    incidents: {count: 5, window: 0s}\n", "intake.limits.incidents.window", "positive"},
		{"negative quota", "intake:\n  limits:\n    incidents: {count: -5}\n", "intake.limits.incidents.count", "negative"},
		{"drills scope is known", "intake:\n  tokens:\n    - {name: d, secret: env:T, scopes: [drills:writ]}\n", "intake.tokens[0].scopes[0]", "drills:write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("sever.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			p, ok := problemFor(asError(t, err), tc.field)
			if !ok || !strings.Contains(p.Message, tc.msg) {
				t.Errorf("problem for %s = %+v (found %v), want it to mention %q:\n%v", tc.field, p, ok, tc.msg, err)
			}
		})
	}
}
