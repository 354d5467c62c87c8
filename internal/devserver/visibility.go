package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/serialization"
	tsql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	"go.temporal.io/server/common/resolver"
	"go.temporal.io/server/common/searchattribute/sadefs"
)

// Temporal's SQLite visibility schema indexes executions_visibility 58 ways: the
// built-in columns, every search-attribute slot a namespace might map a custom
// attribute to (22 of them), and Temporal's reserved slots. Every workflow start,
// memo or search-attribute upsert and close rewrites the row and each of those
// indexes, on the one connection that history writes wait behind. Measured with
// `make bench` on 2 cores: incidents per second at concurrency 10 +41-44%, bare
// Temporal workflows +55%, CPU per incident -19%.
//
// The embedded server therefore keeps the indexes that serve the queries issued
// against it, and the index of each custom-attribute slot a search attribute is
// mapped to. A filter on any other column still answers, by scanning the table,
// which retention bounds.

// keptVisibilityIndexes serve: every list in start/close order, unfiltered (the
// UI's and the CLI's default); sever's incident listing (WorkflowType); the UI's
// filters by workflow ID, by status and by execution time.
var keptVisibilityIndexes = []string{
	"default_idx", "by_workflow_id", "by_workflow_type", "by_status", "by_execution_time",
}

// indexedSlotTypes are the custom-attribute slot types the stock schema gives a
// B-tree index. Text and keyword-list slots live in its full-text tables instead,
// which triggers keep and this file does not touch.
var indexedSlotTypes = []enumspb.IndexedValueType{
	enumspb.INDEXED_VALUE_TYPE_BOOL,
	enumspb.INDEXED_VALUE_TYPE_DATETIME,
	enumspb.INDEXED_VALUE_TYPE_DOUBLE,
	enumspb.INDEXED_VALUE_TYPE_INT,
	enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// trimVisibilityIndexes brings the visibility indexes of the database in dataDir
// to keptVisibilityIndexes plus one per custom-attribute slot a namespace maps,
// dropping the rest and recreating a slot's index if an earlier boot dropped it.
// It runs before the server opens the database: DDL beside the server's own
// connection would fail its read-then-write transactions with SQLITE_BUSY. A
// search attribute that reconcileNamespace adds on this boot therefore gets its
// index on the next one; until then a filter on it scans.
func trimVisibilityIndexes(dataDir string) error {
	cfg := sqlConfig(dataDir)
	slots, err := mappedSlots(cfg)
	if err != nil {
		return fmt.Errorf("visibility indexes: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+cfg.DatabaseName+"?"+url.Values{"_pragma": {"busy_timeout(10000)"}}.Encode())
	if err != nil {
		return fmt.Errorf("visibility indexes: open %s: %w", dbFileName, err)
	}
	defer db.Close()
	have, err := visibilityIndexes(db)
	if err != nil {
		return fmt.Errorf("visibility indexes: %w", err)
	}
	for name, column := range have {
		if slices.Contains(keptVisibilityIndexes, name) || slices.Contains(slots, column) {
			continue
		}
		if _, err := db.Exec(`DROP INDEX IF EXISTS "` + name + `"`); err != nil {
			return fmt.Errorf("visibility indexes: drop %s: %w", name, err)
		}
	}
	for _, column := range slots {
		if _, ok := have[slotIndexName(column)]; ok {
			continue
		}
		if _, err := db.Exec(slotIndexDDL(column)); err != nil {
			return fmt.Errorf("visibility indexes: index slot %s: %w", column, err)
		}
	}
	return nil
}

// visibilityIndexes maps each index on executions_visibility to the column it
// orders by after namespace_id ("" for an expression, as in default_idx).
func visibilityIndexes(db *sql.DB) (map[string]string, error) {
	rows, err := db.Query(`SELECT m.name, i.name FROM sqlite_master AS m
		LEFT JOIN pragma_index_info(m.name) AS i ON i.seqno = 1
		WHERE m.type = 'index' AND m.tbl_name = 'executions_visibility' AND m.sql IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name string
		var column sql.NullString // NULL for an expression
		if err := rows.Scan(&name, &column); err != nil {
			return nil, fmt.Errorf("list indexes: %w", err)
		}
		out[name] = column.String
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	return out, nil
}

// mappedSlots lists the B-tree-indexed custom-attribute slots (Keyword01, …) that
// any namespace in the database maps a search attribute to, sorted. The
// visibility table is shared, so a namespace sever no longer serves keeps its
// indexes too.
func mappedSlots(cfg *config.SQL) ([]string, error) {
	db, err := tsql.NewSQLDB(sqlplugin.DbKindMain, cfg, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dbFileName, err)
	}
	defer func() { _ = db.Close() }()
	slotType := sadefs.GetDBIndexSearchAttributes(nil).GetCustomSearchAttributes()
	serializer := serialization.NewSerializer()
	var slots []string
	pageSize := 100
	filter := sqlplugin.NamespaceFilter{PageSize: &pageSize}
	for {
		rows, err := db.SelectFromNamespace(context.Background(), filter)
		if err != nil {
			return nil, fmt.Errorf("list namespaces: %w", err)
		}
		for _, row := range rows {
			detail, err := serializer.NamespaceDetailFromBlob(persistence.NewDataBlob(row.Data, row.DataEncoding))
			if err != nil {
				return nil, fmt.Errorf("decode namespace %q: %w", row.Name, err)
			}
			for field := range detail.GetConfig().GetCustomSearchAttributeAliases() {
				if slices.Contains(indexedSlotTypes, slotType[field]) && !slices.Contains(slots, field) {
					slots = append(slots, field)
				}
			}
		}
		if len(rows) < pageSize {
			break
		}
		last := rows[len(rows)-1].ID
		filter.GreaterThanID = &last
	}
	slices.Sort(slots)
	return slots, nil
}

// slotIndexName is the stock schema's name for a slot's index: Keyword01 →
// by_keyword_01.
func slotIndexName(column string) string {
	i := strings.IndexAny(column, "0123456789")
	return "by_" + strings.ToLower(column[:i]) + "_" + column[i:]
}

// slotIndexDDL is the stock schema's definition of a slot's index.
func slotIndexDDL(column string) string {
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON executions_visibility (namespace_id, %s, (COALESCE(close_time, '9999-12-31 23:59:59+00:00')) DESC, start_time DESC, run_id)`,
		slotIndexName(column), column)
}
