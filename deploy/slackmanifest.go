package deploy

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/slackapp"
)

// SlashCommand is the slash command the Slack app declares; `sever serve` receives it
// at slackapp.SlashPath.
const SlashCommand = "/sever"

// SlackManifest is a Slack app manifest, as much of it as the check reads.
type SlackManifest struct {
	Features struct {
		SlashCommands []struct {
			Command string `yaml:"command"`
			URL     string `yaml:"url"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot  []string `yaml:"bot"`
			User []string `yaml:"user"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Interactivity struct {
			IsEnabled  bool   `yaml:"is_enabled"`
			RequestURL string `yaml:"request_url"`
		} `yaml:"interactivity"`
		SocketModeEnabled bool `yaml:"socket_mode_enabled"`
	} `yaml:"settings"`
}

// ParseSlackManifest parses a Slack app manifest (YAML, or JSON, which YAML reads).
func ParseSlackManifest(data []byte) (*SlackManifest, error) {
	var m SlackManifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse Slack app manifest: %w", err)
	}
	return &m, nil
}

// CheckSlackManifest checks the Slack app manifest at path: it requests exactly the bot
// scopes sever uses (slackapp.BotScopes), no user scopes, interactivity on, the /sever
// slash command, and, against cfg, Socket Mode on exactly when slack.app_token is set,
// else the request URLs under http.public_url.
func CheckSlackManifest(path string, cfg *config.Config) []Problem {
	data, err := os.ReadFile(path)
	if err != nil {
		return []Problem{{path, fmt.Sprintf("read Slack app manifest: %v", err)}}
	}
	m, err := ParseSlackManifest(data)
	if err != nil {
		return []Problem{{path, err.Error()}}
	}
	var probs []Problem
	add := func(format string, args ...any) { probs = append(probs, Problem{path, fmt.Sprintf(format, args...)}) }

	want := slackapp.BotScopes()
	for _, s := range want {
		if !slices.Contains(m.OAuthConfig.Scopes.Bot, s) {
			add("oauth_config.scopes.bot lacks %s, which sever needs", s)
		}
	}
	for _, s := range m.OAuthConfig.Scopes.Bot {
		if !slices.Contains(want, s) {
			add("oauth_config.scopes.bot requests %s, which sever never uses", s)
		}
	}
	if len(m.OAuthConfig.Scopes.User) > 0 {
		add("oauth_config.scopes.user requests %v; sever acts only as its bot", m.OAuthConfig.Scopes.User)
	}
	if !m.Settings.Interactivity.IsEnabled {
		add("settings.interactivity.is_enabled is false: approval buttons would do nothing")
	}
	var slash string
	found := false
	for _, c := range m.Features.SlashCommands {
		if c.Command == SlashCommand {
			slash, found = c.URL, true
		}
	}
	if !found {
		add("features.slash_commands has no %s command", SlashCommand)
	}

	if cfg == nil || cfg.Slack.BotToken.IsZero() {
		return probs // Slack is off in this config: nothing to match the manifest with
	}
	socket := !cfg.Slack.AppToken.IsZero()
	switch {
	case socket && !m.Settings.SocketModeEnabled:
		add("settings.socket_mode_enabled is false, but slack.app_token is set: clicks would go to request URLs sever does not expect")
	case !socket && m.Settings.SocketModeEnabled:
		add("settings.socket_mode_enabled is true, but slack.app_token is not set: nothing would receive the clicks")
	}
	if socket {
		return probs
	}
	base := strings.TrimSuffix(cfg.HTTP.PublicURL, "/")
	checkURL := func(field, got, path string) {
		switch {
		case got == "":
			add("%s is empty; without Socket Mode Slack needs it (…%s)", field, path)
		case base != "" && got != base+path:
			add("%s is %s; with http.public_url %s it must be %s", field, got, base, base+path)
		case base == "" && !strings.HasSuffix(got, path):
			add("%s is %s; it must end in %s", field, got, path)
		}
	}
	checkURL("settings.interactivity.request_url", m.Settings.Interactivity.RequestURL, slackapp.InteractivityPath)
	if found {
		checkURL("features.slash_commands["+SlashCommand+"].url", slash, slackapp.SlashPath)
	}
	return probs
}
