package slackapp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// clientMethods maps the slack-go *Client methods this package may call to the Web
// API method each one sends. A call to any other *Client method fails
// TestBotScopesMatchTheCode until it is added here and its scope to MethodScopes.
var clientMethods = map[string]string{
	"PostMessageContext":         "chat.postMessage",
	"UpdateMessageContext":       "chat.update",
	"GetUserGroupMembersContext": "usergroups.users.list",
}

// notAPICalls are *slack.Client methods that send nothing to Slack's Web API.
var notAPICalls = map[string]bool{"Debug": true, "Debugf": true, "Debugln": true}

// calledClientMethods returns the *slack.Client methods named in a call anywhere in
// the package's non-test source.
func calledClientMethods(t *testing.T) []string {
	t.Helper()
	clientType := reflect.TypeOf(&slack.Client{})
	isMethod := map[string]bool{}
	for i := range clientType.NumMethod() {
		isMethod[clientType.Method(i).Name] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && isMethod[sel.Sel.Name] && !notAPICalls[sel.Sel.Name] {
				set[sel.Sel.Name] = true
			}
			return true
		})
	}
	return slices.Sorted(maps.Keys(set))
}

// TestBotScopesMatchTheCode derives the bot scopes from the Slack calls the package
// makes: a new call without its scope would fail in production with missing_scope.
func TestBotScopesMatchTheCode(t *testing.T) {
	want := map[string]bool{SlashCommandScope: true}
	usedMethods := map[string]bool{}
	for _, m := range calledClientMethods(t) {
		api, ok := clientMethods[m]
		if !ok {
			t.Errorf("the package calls (*slack.Client).%s, which clientMethods does not map to a Web API method: add it and its scope to MethodScopes", m)
			continue
		}
		usedMethods[api] = true
		scope, ok := MethodScopes[api]
		if !ok {
			t.Errorf("MethodScopes has no scope for %s, which the package calls", api)
			continue
		}
		want[scope] = true
	}
	for api := range MethodScopes {
		if !usedMethods[api] {
			t.Errorf("MethodScopes lists %s, which the package never calls", api)
		}
	}
	if got, w := BotScopes(), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
		t.Errorf("BotScopes() = %v; the code needs %v", got, w)
	}
}
