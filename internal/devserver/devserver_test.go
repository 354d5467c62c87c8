package devserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever/internal/devserver"
)

const incidentAttr = "SeverTestIncident"

var incidentKey = temporal.NewSearchAttributeKeyKeyword(incidentAttr)

// serverLogger sends the server's warnings to stderr, which go test shows
// only for a failing package. (Not t.Log: the server may log from
// goroutines that outlive a test.)
func serverLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func start(t *testing.T, o devserver.Options) *devserver.Server {
	t.Helper()
	o.Logger = serverLogger()
	begin := time.Now()
	s, err := devserver.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("started %s (ui %q) in %v", s.FrontendAddress(), s.UIAddress(), time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func stop(t *testing.T, s *devserver.Server) {
	t.Helper()
	begin := time.Now()
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	t.Logf("stopped %s in %v", s.FrontendAddress(), time.Since(begin).Round(time.Millisecond))
}

func dial(t *testing.T, s *devserver.Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendAddress(),
		Namespace: s.Namespace(),
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", s.FrontendAddress(), err)
	}
	return c
}

func greet(ctx context.Context, name string) (string, error) {
	return "hello " + name + " from " + activity.GetInfo(ctx).ActivityType.Name, nil
}

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &out)
	return out, err
}

func rssMB() string {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return strconv.Itoa(kb/1024) + " MB"
		}
	}
	return "?"
}

// TestRestartKeepsExecutions runs a workflow to completion, restarts the
// server on the same data dir, and finds the execution, the search attribute
// and the re-applied retention. A second server with the Web UI runs beside
// the first meanwhile.
func TestRestartKeepsExecutions(t *testing.T) {
	ctx := context.Background()
	goroutinesBefore := runtime.NumGoroutine()
	dir := filepath.Join(t.TempDir(), "data") // Start creates it
	opts := devserver.Options{
		DataDir:          dir,
		SearchAttributes: map[string]enums.IndexedValueType{incidentAttr: enums.INDEXED_VALUE_TYPE_KEYWORD},
	}
	s := start(t, opts)
	if s.UIAddress() != "" {
		t.Errorf("UIAddress = %q with the UI off", s.UIAddress())
	}
	if s.Namespace() != "default" {
		t.Errorf("Namespace = %q, want default", s.Namespace())
	}
	if fi, err := os.Stat(dir); err != nil {
		t.Errorf("data dir: %v", err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", fi.Mode().Perm())
	}

	// The data dir is locked while in use.
	if _, err := devserver.Start(ctx, devserver.Options{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Start on a data dir in use: err = %v, want \"in use\"", err)
	}

	// A second instance side by side, with the UI.
	ui := start(t, devserver.Options{DataDir: t.TempDir(), UI: true})
	if ui.UIAddress() == "" {
		t.Fatal("UIAddress empty with the UI on")
	}
	resp, err := http.Get("http://" + ui.UIAddress() + "/")
	if err != nil {
		t.Fatalf("GET UI: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Errorf("GET / on the UI: %s, %d bytes", resp.Status, len(body))
	}
	stop(t, ui)

	c := dial(t, s)
	w := worker.New(c, "devserver-test", worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterActivity(greet)
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	begin := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "greet-1",
		TaskQueue:             "devserver-test",
		TypedSearchAttributes: temporal.NewSearchAttributes(incidentKey.ValueSet("inc-1")),
	}, greetWorkflow, "sever")
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	t.Logf("workflow with one activity took %v; RSS %s", time.Since(begin).Round(time.Millisecond), rssMB())
	if got != "hello sever from greet" {
		t.Errorf("result %q", got)
	}
	w.Stop()
	c.Close()
	stop(t, s)

	// Restart on the same dir, with another retention.
	opts.Retention = 72 * time.Hour
	s = start(t, opts)
	c = dial(t, s)
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(ctx, "greet-1", run.GetRunID())
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution after restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("status after restart = %v, want completed", st)
	}
	if _, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[incidentAttr]; !ok {
		t.Errorf("execution lost its %s search attribute", incidentAttr)
	}
	sas, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	if typ := sas.GetCustomAttributes()[incidentAttr]; typ != enums.INDEXED_VALUE_TYPE_KEYWORD {
		t.Errorf("search attribute %s has type %v, want Keyword (all: %v)", incidentAttr, typ, sas.GetCustomAttributes())
	}
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.Namespace()})
	if err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	if r := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); r != 72*time.Hour {
		t.Errorf("retention after restart = %v, want 72h", r)
	}
	c.Close()
	stop(t, s)
	// The server's goroutines wind down after Stop returns: wait for them up to a
	// deadline, then report what is left (informational; the SDK keeps a few).
	for deadline := time.Now().Add(time.Second); runtime.NumGoroutine() > goroutinesBefore && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("goroutines: %d before, %d after the last Stop", goroutinesBefore, runtime.NumGoroutine())
}

func tagWorkflow(ctx workflow.Context, v string) error {
	return workflow.UpsertTypedSearchAttributes(ctx, laterKey.ValueSet(v))
}

const laterAttr = "SeverTestLater"

var laterKey = temporal.NewSearchAttributeKeyKeyword(laterAttr)

// TestSearchAttributeAddedOnBoot boots a data dir made by an older sever that
// lacked an attribute: Start adds it, and a workflow started at once can carry it
// and upsert it. The embedded server stops re-reading search attributes on every
// use once the namespace is settled (devConfig), so this is what keeps a service
// that read the list before the addition from refusing the new attribute.
func TestSearchAttributeAddedOnBoot(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	opts := devserver.Options{
		DataDir:          dir,
		SearchAttributes: map[string]enums.IndexedValueType{incidentAttr: enums.INDEXED_VALUE_TYPE_KEYWORD},
	}
	s := start(t, opts)
	c := dial(t, s)
	// Every service reads the list before the restart adds to it.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "before", TaskQueue: "devserver-later",
		TypedSearchAttributes: temporal.NewSearchAttributes(incidentKey.ValueSet("inc-0")),
	}, greetWorkflow, "sever")
	if err != nil {
		t.Fatalf("ExecuteWorkflow before the restart: %v", err)
	}
	if err := c.TerminateWorkflow(ctx, "before", run.GetRunID(), "test"); err != nil {
		t.Fatalf("TerminateWorkflow: %v", err)
	}
	c.Close()
	stop(t, s)

	opts.SearchAttributes = map[string]enums.IndexedValueType{
		incidentAttr: enums.INDEXED_VALUE_TYPE_KEYWORD,
		laterAttr:    enums.INDEXED_VALUE_TYPE_KEYWORD,
	}
	s = start(t, opts)
	c = dial(t, s)
	defer c.Close()
	w := worker.New(c, "devserver-later", worker.Options{})
	w.RegisterWorkflow(tagWorkflow)
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	defer w.Stop()
	run, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "after", TaskQueue: "devserver-later",
		TypedSearchAttributes: temporal.NewSearchAttributes(laterKey.ValueSet("at-start")),
	}, tagWorkflow, "upserted")
	if err != nil {
		t.Fatalf("ExecuteWorkflow with %s right after it was added: %v", laterAttr, err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("workflow upserting %s: %v", laterAttr, err)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, "after", run.GetRunID())
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution: %v", err)
	}
	p := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[laterAttr]
	if p == nil || !strings.Contains(string(p.GetData()), "upserted") {
		t.Errorf("%s = %v, want the upserted value", laterAttr, p)
	}
}

// TestIncompatibleDataDir needs no server: the guard refuses before boot.
func TestIncompatibleDataDir(t *testing.T) {
	t.Run("other server version", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "temporal.db"), "")
		writeFile(t, filepath.Join(dir, "temporal-schema.json"),
			`{"server_version":"1.29.0","sqlite_schema_version":"0.10","created_at":"2025-01-01T00:00:00Z"}`)
		_, err := devserver.Start(context.Background(), devserver.Options{DataDir: dir})
		if !errors.Is(err, devserver.ErrIncompatibleDataDir) {
			t.Fatalf("err = %v, want ErrIncompatibleDataDir", err)
		}
		t.Log(err)
		for _, want := range []string{dir, "1.29.0", "1.32.1", "--data-dir"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %q: %v", want, err)
			}
		}
	})
	t.Run("database without guard", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "temporal.db"), "")
		_, err := devserver.Start(context.Background(), devserver.Options{DataDir: dir})
		if !errors.Is(err, devserver.ErrIncompatibleDataDir) {
			t.Fatalf("err = %v, want ErrIncompatibleDataDir", err)
		}
		t.Log(err)
		for _, want := range []string{dir, "1.32.1", "temporal-schema.json"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %q: %v", want, err)
			}
		}
	})
}

// TestPortInUse needs no server either: ports are checked before boot.
func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	want := "port " + strconv.Itoa(port) + " on 127.0.0.1 is in use"

	_, err = devserver.Start(context.Background(), devserver.Options{DataDir: t.TempDir(), FrontendPort: port})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("frontend: err = %v, want %q", err, want)
	}
	_, err = devserver.Start(context.Background(), devserver.Options{DataDir: t.TempDir(), UI: true, UIPort: port})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("UI: err = %v, want %q", err, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
