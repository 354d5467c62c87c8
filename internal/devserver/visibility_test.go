package devserver_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	_ "modernc.org/sqlite"

	"github.com/sever-ir/sever/internal/devserver"
)

// TestVisibilityIndexes checks that the embedded database keeps only the
// visibility indexes its queries use plus the index of the slot a search
// attribute maps to, on a fresh database and again on a database whose indexes
// drifted (a stock index back, the slot's index gone) and after a start with
// another namespace, and that lists filtered by the workflow type, the search
// attribute and the status still answer.
func TestVisibilityIndexes(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	opts := devserver.Options{
		DataDir:          dir,
		SearchAttributes: map[string]enums.IndexedValueType{incidentAttr: enums.INDEXED_VALUE_TYPE_KEYWORD},
	}
	s := start(t, opts)
	c := dial(t, s)
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.Namespace()})
	if err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	slot := ""
	for field, alias := range ns.GetConfig().GetCustomSearchAttributeAliases() {
		if alias == incidentAttr {
			slot = field
		}
	}
	if slot == "" {
		t.Fatalf("namespace maps no slot to %s: %v", incidentAttr, ns.GetConfig().GetCustomSearchAttributeAliases())
	}
	slotIndex := fmt.Sprintf("by_keyword_%s", slot[len("Keyword"):])
	want := []string{"by_execution_time", "by_status", "by_workflow_id", "by_workflow_type", "default_idx", slotIndex}
	slices.Sort(want)

	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "indexed", TaskQueue: "devserver-unpolled",
		TypedSearchAttributes: temporal.NewSearchAttributes(incidentKey.ValueSet("inc-7")),
	}, greetWorkflow, "sever"); err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	c.Close()
	stop(t, s)
	db := openDB(t, dir)
	if got := indexes(t, db); !slices.Equal(got, want) {
		t.Errorf("fresh database: visibility indexes %v, want %v", got, want)
	}

	// Drift: an index the stack does not use, and the slot's index missing.
	for _, stmt := range []string{
		`CREATE INDEX by_task_queue ON executions_visibility (namespace_id, task_queue, (COALESCE(close_time, '9999-12-31 23:59:59+00:00')) DESC, start_time DESC, run_id)`,
		`DROP INDEX ` + slotIndex,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s = start(t, opts)
	c = dial(t, s)
	defer c.Close()
	for _, q := range []string{
		"WorkflowType = 'greetWorkflow'",
		incidentAttr + " = 'inc-7'",
		"ExecutionStatus = 'Running'",
	} {
		if n := countEventually(t, c, q); n != 1 {
			t.Errorf("count %q = %d, want 1", q, n)
		}
	}
	stop(t, s)
	db = openDB(t, dir)
	if got := indexes(t, db); !slices.Equal(got, want) {
		t.Errorf("after a restart on drifted indexes: visibility indexes %v, want %v", got, want)
	}
	db.Close()

	// Another namespace on the same database, mapping no attribute: the table is
	// shared, so the first namespace's slot keeps its index.
	stop(t, start(t, devserver.Options{DataDir: dir, Namespace: "second"}))
	db = openDB(t, dir)
	defer db.Close()
	if got := indexes(t, db); !slices.Equal(got, want) {
		t.Errorf("after a start with another namespace: visibility indexes %v, want %v", got, want)
	}
}

func openDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "temporal.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	return db
}

func indexes(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("list indexes: %v", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	return names
}

// countEventually counts the executions matching q, waiting for visibility to
// catch up with a start made before the restart.
func countEventually(t *testing.T, c client.Client, q string) int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Query: q})
		if err != nil {
			t.Fatalf("CountWorkflow %q: %v", q, err)
		}
		if resp.GetCount() > 0 || time.Now().After(deadline) {
			return resp.GetCount()
		}
		time.Sleep(50 * time.Millisecond)
	}
}
