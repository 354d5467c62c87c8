package slackapp

import (
	"maps"
	"slices"
)

// MethodScopes maps each Slack Web API method sever calls with the bot token to the
// bot scope it needs. TestBotScopesMatchTheCode keeps it in step with the calls in this
// package, and slack/app-manifest.yaml requests exactly BotScopes (checked by
// `sever config check --deploy`).
var MethodScopes = map[string]string{
	"chat.postMessage":      "chat:write",      // approval requests and notices
	"chat.update":           "chat:write",      // decided, expired and superseded requests
	"usergroups.users.list": "usergroups:read", // approvers named as slack-group:S…
}

// SlashCommandScope is the bot scope the /sever slash command needs.
const SlashCommandScope = "commands"

// SocketModeScope is the scope of the app-level token (xapp-…) Socket Mode connects
// with; it is granted to that token, not to the bot.
const SocketModeScope = "connections:write"

// BotScopes returns the bot token scopes sever needs, sorted: those of MethodScopes and
// the slash command's.
func BotScopes() []string {
	set := map[string]bool{SlashCommandScope: true}
	for _, s := range MethodScopes {
		set[s] = true
	}
	return slices.Sorted(maps.Keys(set))
}
