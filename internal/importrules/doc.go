// Package importrules holds no code: its test checks the import rules that
// docs/architecture.md ("Who may import whom") states against the real
// dependency graph, so the page cannot drift from the code.
package importrules
