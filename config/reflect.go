package config

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	durationType  = reflect.TypeOf(time.Duration(0))
	secretRefType = reflect.TypeOf(SecretRef(""))
)

// field is one yaml-tagged field of a struct.
type field struct {
	name  string // yaml key
	index int
}

// fieldsOf lists the yaml-tagged exported fields of struct type t in declaration order.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, field{name: name, index: i})
	}
	return out
}

func reflectValueOf(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }

// joinPath appends a key to a dotted field path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// parentPath strips the last key or index: "a.b[2]" → "a.b", "a.b" → "a", "a" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// walkSecrets calls fn for every non-empty SecretRef in v (a struct), with its field path.
func walkSecrets(v reflect.Value, path string, fn func(path string, r SecretRef)) {
	switch {
	case v.Type() == secretRefType:
		if r := SecretRef(v.String()); r != "" {
			fn(path, r)
		}
	case v.Kind() == reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			walkSecrets(v.Field(f.index), joinPath(path, f.name), fn)
		}
	case v.Kind() == reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkSecrets(v.Index(i), indexPath(path, i), fn)
		}
	case v.Kind() == reflect.Map:
		// No map holds secrets today; keep the walk complete anyway.
		iter := v.MapRange()
		for iter.Next() {
			walkSecrets(iter.Value(), joinPath(path, iter.Key().String()), fn)
		}
	}
}

// leaf is a field that an environment variable can set.
type leaf struct {
	path string // yaml path, e.g. "http.listen"
	env  string // e.g. "SEVER_HTTP_LISTEN"
	idx  []int  // field index path from Config
	typ  reflect.Type
}

// envLeaves lists every scalar and scalar-list field reachable from Config through structs only
// (slices of structs and maps are skipped). The result is shared: do not modify it.
var envLeaves = sync.OnceValue(func() []leaf {
	var out []leaf
	var walk func(t reflect.Type, path string, idx []int)
	walk = func(t reflect.Type, path string, idx []int) {
		for _, f := range fieldsOf(t) {
			ft := t.Field(f.index).Type
			p := joinPath(path, f.name)
			ix := append(append([]int(nil), idx...), f.index)
			switch {
			case ft.Kind() == reflect.Struct:
				walk(ft, p, ix)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.String:
			case ft.Kind() == reflect.Map:
			default:
				env := EnvPrefix + strings.ToUpper(strings.ReplaceAll(p, ".", "_"))
				out = append(out, leaf{path: p, env: env, idx: ix, typ: ft})
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "", nil)
	return out
})
