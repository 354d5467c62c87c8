package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// applyEnv sets every field that has a non-empty SEVER_* variable. An empty variable counts as
// unset. Lists are comma-separated. Messages name the variable and never quote its value.
func applyEnv(c *Config, lookup func(string) (string, bool)) []Problem {
	var probs []Problem
	root := reflectValueOf(c)
	for _, l := range envLeaves() {
		s, ok := lookup(l.env)
		if !ok || s == "" {
			continue
		}
		v := root.FieldByIndex(l.idx)
		if v.Type() == secretRefType && v.String() == SchemeEnv+":"+l.env {
			// The file references this very variable as the secret (database.url:
			// env:SEVER_DATABASE_URL): its value is the secret, not an override of the key.
			continue
		}
		if msg := setFromString(v, s); msg != "" {
			probs = append(probs, Problem{Env: l.env, Field: l.path, Message: msg})
			continue
		}
		if c.src != nil {
			c.src.envs[l.path] = l.env
			delete(c.src.lines, l.path)
		}
	}
	return probs
}

// setFromString parses s into v, returning a message (without s) if it does not parse.
func setFromString(v reflect.Value, s string) string {
	t := v.Type()
	switch {
	case t == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return "not a duration (use Go syntax such as 168h, 30m or 90s)"
		}
		v.SetInt(int64(d))
	case t.Kind() == reflect.String:
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return "expected true or false"
		}
		v.SetBool(b)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v.OverflowInt(i) {
			return "expected an integer in range"
		}
		v.SetInt(i)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		var items []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		sl := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			sl.Index(i).SetString(item)
		}
		v.Set(sl)
	default:
		return "cannot be set from the environment" // a bug in envLeaves
	}
	return ""
}
