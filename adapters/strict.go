package adapters

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// checkNames walks body (already known to be one JSON object) and refuses field
// names the struct type t does not declare, matched exactly, and names given twice.
// encoding/json alone would match names case-insensitively and keep the last of
// two duplicates, which is too loose for sever's own schema.
func checkNames(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return walkNames(dec, "", t, 0)
}

// walkNames reads one value at path; t is the struct type it must match, or nil
// when any value is fine there.
func walkNames(dec *json.Decoder, path string, t reflect.Type, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return malformed(err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= 16 {
		return invalid(path, "JSON nested deeper than 16 levels")
	}
	if d == '[' {
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			elem = structOf(t.Elem())
		}
		for dec.More() {
			if err := walkNames(dec, path, elem, depth+1); err != nil {
				return err
			}
		}
		return closing(dec)
	}
	fields := map[string]reflect.Type{}
	var names []string
	if t = structOf(t); t != nil {
		for sf := range t.Fields() {
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = sf.Type
				names = append(names, name)
			}
		}
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err)
		}
		key, _ := tok.(string)
		kpath := joinPath(path, clip(key, 64))
		ft, known := fields[key]
		switch {
		case t != nil && !known:
			return unknownName(path, kpath, key, names)
		case seen[key]:
			return invalid(kpath, "duplicate field %q", kpath)
		}
		seen[key] = true
		if err := walkNames(dec, kpath, ft, depth+1); err != nil {
			return err
		}
	}
	return closing(dec)
}

// closing reads the bracket or brace that ends an array or object.
func closing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return malformed(err)
	}
	return nil
}

func unknownName(parent, kpath, key string, names []string) error {
	if i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, key) }); i >= 0 {
		return invalid(kpath, "unknown field %q (field names are case-sensitive; did you mean %q?)", kpath, joinPath(parent, names[i]))
	}
	return invalid(kpath, "unknown field %q (known fields here: %s)", kpath, strings.Join(names, ", "))
}

// structOf returns the struct type behind t (through one pointer), or nil.
func structOf(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return t
	}
	return nil
}
