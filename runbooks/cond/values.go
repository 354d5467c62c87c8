package cond

import (
	"cmp"
	"reflect"
	"slices"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

func (v Vars) activation() map[string]any {
	a := adapter{}
	return map[string]any{
		"signal":     a.NativeToValue(v.Signal),
		"signals":    a.NativeToValue(v.Signals),
		"credential": a.NativeToValue(v.Credential),
		"steps":      a.NativeToValue(v.Steps),
		"incident":   a.NativeToValue(v.Incident),
	}
}

// adapter converts Go values to CEL values the way the default adapter does, except
// that every map (at any depth) iterates in sorted key order. CEL walks Go maps in Go's
// randomized order, so `steps.map(k, k)[0]` or a cost limit hit halfway through an
// `exists` could otherwise differ between a workflow run and its replay.
type adapter struct{}

func (a adapter) NativeToValue(v any) ref.Val {
	switch v := v.(type) {
	case ref.Val:
		return v
	case nil:
		return types.NullValue
	case map[string]any:
		return sortedMap{types.NewStringInterfaceMap(a, v)}
	case []any:
		return types.NewDynamicList(a, v)
	case []byte, time.Time, time.Duration:
		return types.DefaultTypeAdapter.NativeToValue(v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		return sortedMap{types.NewDynamicMap(a, v)}
	case reflect.Slice, reflect.Array:
		return types.NewDynamicList(a, v)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return types.NullValue
		}
		return a.NativeToValue(rv.Elem().Interface())
	}
	out := types.DefaultTypeAdapter.NativeToValue(v)
	if !types.IsError(out) {
		return out
	}
	// Named scalar types (sever.StepStatus, sever.Enforcement) are plain values to a
	// condition author; the default adapter rejects them.
	switch rv.Kind() {
	case reflect.String:
		return types.String(rv.String())
	case reflect.Bool:
		return types.Bool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return types.Int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return types.Uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return types.Double(rv.Float())
	}
	return out
}

// sortedMap is a CEL map whose iteration order is sorted by key.
type sortedMap struct {
	traits.Mapper
}

func (m sortedMap) Iterator() traits.Iterator {
	var keys []ref.Val
	for it := m.Mapper.Iterator(); it.HasNext() == types.True; {
		keys = append(keys, it.Next())
	}
	slices.SortFunc(keys, compareKeys)
	return types.NewRefValList(types.DefaultTypeAdapter, keys).Iterator()
}

// Fold is defined so that two-variable comprehensions, which prefer Fold over
// Iterator, also see sorted order.
func (m sortedMap) Fold(f traits.Folder) {
	for it := m.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		if !f.FoldEntry(k, m.Get(k)) {
			return
		}
	}
}

// compareKeys orders map keys: by type name first (a Go map[any]any may mix them),
// then by value.
func compareKeys(a, b ref.Val) int {
	if c := cmp.Compare(a.Type().TypeName(), b.Type().TypeName()); c != 0 {
		return c
	}
	if ac, ok := a.(traits.Comparer); ok {
		if r, ok := ac.Compare(b).(types.Int); ok {
			return int(r)
		}
	}
	return 0
}

// determinismValidator rejects the two ways an expression could make its own result
// depend on something other than (expression, variables):
//   - map literals, whose iteration order CEL leaves to Go's randomized map order;
//   - time-zone accessors, which read the host's time-zone database.
type determinismValidator struct{}

func (determinismValidator) Name() string { return "sever.determinism" }

var tzAccessors = map[string]bool{
	"getFullYear": true, "getMonth": true, "getDayOfYear": true, "getDayOfMonth": true,
	"getDate": true, "getDayOfWeek": true, "getHours": true, "getMinutes": true,
	"getSeconds": true, "getMilliseconds": true,
}

func (determinismValidator) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *ast.AST, iss *cel.Issues) {
	root := ast.NavigateAST(a)
	for _, e := range ast.MatchDescendants(root, ast.KindMatcher(ast.MapKind)) {
		iss.ReportErrorAtID(e.ID(), "map literals are not allowed in conditions (their iteration order is not deterministic)")
	}
	for _, e := range ast.MatchDescendants(root, ast.KindMatcher(ast.CallKind)) {
		c := e.AsCall()
		if tzAccessors[c.FunctionName()] && c.IsMemberFunction() && len(c.Args()) == 1 {
			iss.ReportErrorAtID(e.ID(), "%s with a time zone is not allowed in conditions (it depends on the host's time-zone data); use the UTC form", c.FunctionName())
		}
	}
}
