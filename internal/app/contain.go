package app

import (
	"context"
	"sync/atomic"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/slackapp"
)

// slackOperators maps a Slack user to the operator linked to them (slack_user) who
// may contain (incidents:write, or no scopes, which means every scope), for the
// slash command; nil when there is none, which refuses every command.
func slackOperators(ops []config.Operator) func(user, team string) (slackapp.Operator, bool) {
	m := map[string]slackapp.Operator{}
	for _, o := range ops {
		if o.SlackUser != "" && (len(o.Scopes) == 0 || o.HasScope(config.ScopeIncidentsWrite)) {
			m[o.SlackUser] = slackapp.Operator{Name: o.Name, Approver: o.SlackUser}
		}
	}
	if len(m) == 0 {
		return nil
	}
	return func(user, _ string) (slackapp.Operator, bool) {
		op, ok := m[user]
		return op, ok
	}
}

// lazyContainer is the API's containment entry point for a part started before
// the API exists (Socket Mode starts before NewHTTP in sever serve). Until the API
// is built it answers "unavailable".
type lazyContainer struct {
	api atomic.Pointer[httpapi.Server]
}

func (l *lazyContainer) set(s *httpapi.Server) { l.api.Store(s) }

// Contain implements slackapp.Container.
func (l *lazyContainer) Contain(ctx context.Context, r httpapi.ContainRequest) (service.SubmitResult, error) {
	s := l.api.Load()
	if s == nil {
		return service.SubmitResult{}, sever.Errorf(sever.EUNAVAILABLE, "", "the API is not serving yet; retry")
	}
	return s.Contain(ctx, r)
}

// socketSlash serves the /sever command over Socket Mode, through the API once it
// is built; nil (the command is answered that it is not served) when no operator
// linked to a Slack user may contain.
func (p *Parts) socketSlash() *slackapp.SlashHandler {
	ops := slackOperators(p.Config.Operators)
	if ops == nil {
		return nil
	}
	return &slackapp.SlashHandler{Container: &p.containment, Operators: ops, Logger: p.Logger, Refusals: p.Refusals(),
		Replay: slackapp.NewReplayCache(slackapp.DefaultReplayTTL, slackapp.DefaultReplayCapacity)}
}
