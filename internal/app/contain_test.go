package app

import (
	"testing"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/slackapp"
)

// Only operators linked to a Slack user who may contain can use the slash command.
func TestSlackOperators(t *testing.T) {
	ops := []config.Operator{
		{Name: "alice", SlackUser: "U0ALICE", Scopes: []string{config.ScopeIncidentsWrite, config.ScopeApprovalsWrite}},
		{Name: "bob", SlackUser: "U0BOB", Scopes: []string{config.ScopeApprovalsWrite}},
		{Name: "root", SlackUser: "U0ROOT"}, // no scopes: every scope
		{Name: "cli-only", Scopes: []string{config.ScopeIncidentsWrite}},
	}
	f := slackOperators(ops)
	tests := []struct {
		user string
		want slackapp.Operator
		ok   bool
	}{
		{"U0ALICE", slackapp.Operator{Name: "alice", Approver: "U0ALICE"}, true},
		{"U0BOB", slackapp.Operator{}, false},
		{"U0ROOT", slackapp.Operator{Name: "root", Approver: "U0ROOT"}, true},
		{"", slackapp.Operator{}, false},
		{"U0MALLORY", slackapp.Operator{}, false},
	}
	for _, tc := range tests {
		if got, ok := f(tc.user, "T0"); got != tc.want || ok != tc.ok {
			t.Errorf("%q: %+v %v, want %+v %v", tc.user, got, ok, tc.want, tc.ok)
		}
	}
	if slackOperators([]config.Operator{{Name: "bob", SlackUser: "U0BOB", Scopes: []string{config.ScopeApprovalsWrite}}}) != nil {
		t.Error("no operator may contain, yet the slash command has a mapping")
	}
}
