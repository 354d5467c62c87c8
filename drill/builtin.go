package drill

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// Builtins returns the scenarios shipped with sever, sorted by name.
func Builtins() ([]Scenario, error) {
	entries, err := fs.ReadDir(builtinFS, "scenarios")
	if err != nil {
		return nil, fmt.Errorf("drill: read built-in scenarios: %w", err)
	}
	var out []Scenario
	for _, e := range entries {
		src, err := builtinFS.ReadFile(path.Join("scenarios", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("drill: read built-in scenario %s: %w", e.Name(), err)
		}
		s, err := Parse("builtin:"+e.Name(), src)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Scenario) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Builtin returns the built-in scenario with that name.
func Builtin(name string) (Scenario, error) {
	all, err := Builtins()
	if err != nil {
		return Scenario{}, err
	}
	names := make([]string, len(all))
	for i, s := range all {
		if s.Name == name {
			return s, nil
		}
		names[i] = s.Name
	}
	return Scenario{}, fmt.Errorf("no built-in scenario %q (built-in: %s)", name, strings.Join(names, ", "))
}

// Lookup reads a scenario file, or, when arg is not a file, the built-in scenario of
// that name.
func Lookup(arg string) (Scenario, error) {
	if _, err := os.Stat(arg); err == nil {
		return Load(arg)
	} else if !errors.Is(err, os.ErrNotExist) || strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return Scenario{}, fmt.Errorf("load scenario: %w", err)
	}
	return Builtin(arg)
}
