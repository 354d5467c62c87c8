// Package acttest holds what the action packages' tests share: a quiet Temporal
// test suite, running an action by its catalog name, counting the calls a drill
// cloud saw, and checking whether an error is one Temporal retries. It is imported
// by tests only.
package acttest

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/runbooks"
)

// Suite is a Temporal test suite that discards the SDK's log: failed attempts
// are the point of many tests, and the SDK would log each one.
func Suite() *testsuite.WorkflowTestSuite {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	return &s
}

// Env is a fresh test activity environment of a quiet Suite.
func Env() *testsuite.TestActivityEnvironment {
	return Suite().NewTestActivityEnvironment()
}

// Builtin loads the built-in runbooks and the default policy over sever's
// catalog, what the runbook tests of each family check their actions against.
func Builtin(t testing.TB) (*runbooks.Library, *sever.Policy) {
	t.Helper()
	lib, err := runbooks.Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := runbooks.DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	return lib, pol
}

// Exec runs the action in.Action names in env, as the worker would, and decodes
// its result.
func Exec(env *testsuite.TestActivityEnvironment, in sever.ActionInput) (sever.ActionResult, error) {
	v, err := env.ExecuteActivity(in.Action, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	var res sever.ActionResult
	return res, v.Get(&res)
}

// Calls counts the calls of a service's operation that reached cloud, applied
// or not.
func Calls(cloud *drillcloud.Cloud, service, op string) int {
	n := 0
	for _, e := range cloud.Calls() {
		if e.Service == service && e.Operation == op {
			n++
		}
	}
	return n
}

// WantPermanent checks that err is a non-retryable activity error of errType
// whose message mentions every string in want.
func WantPermanent(t testing.TB, err error, errType string, want ...string) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != errType || !app.NonRetryable() {
		t.Fatalf("err = %v; want non-retryable %s", err, errType)
	}
	mentions(t, err, want)
}

// WantRetryable checks that err is an activity error Temporal will retry whose
// message mentions every string in want.
func WantRetryable(t testing.TB, err error, want ...string) {
	t.Helper()
	var app *temporal.ApplicationError
	if err == nil || errors.As(err, &app) && app.NonRetryable() {
		t.Fatalf("err = %v; want a retryable error", err)
	}
	mentions(t, err, want)
}

func mentions(t testing.TB, err error, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v; want it to mention %q", err, w)
		}
	}
}
