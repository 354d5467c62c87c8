package ledger

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// maxKeyDepth bounds how deeply checkKeys follows a document; sever's formats nest
// four levels deep.
const maxKeyDepth = 32

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkKeys reads one JSON value from b and refuses any object whose keys other JSON
// readers could read differently from encoding/json, which matches struct fields
// regardless of case and keeps the last of duplicate keys: in an object decoded into
// a struct of type t, every key must be exactly one of the struct's JSON field names,
// and at most once; in any other object (a map), no key may repeat. Without this a
// signed value can sit under "ACTOR" after a forged "actor" that jq, Python and
// browsers show instead. The error names the key and where it is, jq style.
func checkKeys(b []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return walkKeys(dec, t, ".", 0)
}

func walkKeys(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: %v", path, err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar: decoding checks its type
	}
	if depth >= maxKeyDepth {
		return fmt.Errorf("%s: nested more than %d levels deep", path, maxKeyDepth)
	}
	t = schemaType(t)
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, elem, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Struct:
			fields = jsonFields(t, nil)
		case t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			key := tok.(string) // the decoder allows nothing else here
			if seen[key] {
				return fmt.Errorf("%s: duplicate key %s", path, quote(key))
			}
			seen[key] = true
			if fields != nil {
				ft, ok := fields[key]
				if !ok {
					return unknownKey(path, key, fields)
				}
				elem = ft
			}
			if err := walkKeys(dec, elem, member(path, key), depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ] or }
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// schemaType is the type whose fields an object must have, or nil when the value
// decodes itself (time.Time, for one) or has no fixed keys.
func schemaType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	return t
}

// jsonFields adds the JSON names of t's fields to into, with embedded structs'
// fields promoted as encoding/json does.
func jsonFields(t reflect.Type, into map[string]reflect.Type) map[string]reflect.Type {
	if into == nil {
		into = map[string]reflect.Type{}
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, into)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
	return into
}

func unknownKey(path, key string, fields map[string]reflect.Type) error {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Errorf("%s: key %s differs from %q only in case; keys must be spelled exactly", path, quote(key), name)
		}
	}
	return fmt.Errorf("%s: unknown key %s", path, quote(key))
}

// member extends a jq path by one key, shown as quote shows values: the key of a
// forged map may be anything, secret material included.
func member(path, key string) string {
	if path == "." {
		path = ""
	}
	q := quote(key)
	if isIdent(key) && q == strconv.Quote(key) {
		return path + "." + key
	}
	return path + "[" + q + "]"
}

func isIdent(s string) bool {
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}
