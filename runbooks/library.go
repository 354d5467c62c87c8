package runbooks

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/yamlcheck"
)

var (
	//go:embed builtin/*.yaml
	builtinFS embed.FS

	//go:embed policy/default.yaml
	defaultPolicy []byte
)

// Library is the set of runbooks an engine chooses from. It is immutable once loaded;
// the runbooks it returns are shared and must be treated as read-only.
type Library struct {
	runbooks []*sever.Runbook // sorted by name
	byName   map[string]*sever.Runbook
}

// Load reads the built-in runbooks, then every *.yaml and *.yml file directly in dir
// (when dir is not empty). A file whose runbook has the name of a built-in replaces it.
// Any invalid file fails the load; the error is a LintErrors covering all files.
func Load(dir string, catalog map[string]sever.ActionSpec) (*Library, error) {
	l := &Library{byName: map[string]*sever.Runbook{}}
	var errs LintErrors
	add := func(file string, src []byte, fromDir map[string]string) {
		rb, nameLine, err := parseRunbook(file, src, catalog)
		if err != nil {
			var le LintErrors
			if errors.As(err, &le) {
				errs = append(errs, le...)
			} else {
				errs = append(errs, LintError{File: file, Message: err.Error()})
			}
			return
		}
		if fromDir != nil {
			if other, dup := fromDir[rb.Name]; dup {
				errs = append(errs, LintError{File: file, Line: nameLine, Field: "name",
					Message: fmt.Sprintf("runbook %q is also defined in %s; names must be unique", rb.Name, other)})
				return
			}
			fromDir[rb.Name] = file
		}
		l.byName[rb.Name] = rb
	}

	entries, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil, fmt.Errorf("runbooks: read built-ins: %w", err)
	}
	for _, e := range entries {
		src, err := builtinFS.ReadFile(path.Join("builtin", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("runbooks: read built-in %s: %w", e.Name(), err)
		}
		add("builtin:"+e.Name(), src, nil)
	}

	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("runbooks: load directory %s: %w", dir, err)
		}
		fromDir := map[string]string{}
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if e.IsDir() || ext != ".yaml" && ext != ".yml" {
				continue
			}
			file := filepath.Join(dir, e.Name())
			src, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("runbooks: load %s: %w", file, err)
			}
			add(file, src, fromDir)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	for _, rb := range l.byName {
		l.runbooks = append(l.runbooks, rb)
	}
	slices.SortFunc(l.runbooks, func(a, b *sever.Runbook) int { return strings.Compare(a.Name, b.Name) })
	return l, nil
}

// List returns the runbooks sorted by name.
func (l *Library) List() []*sever.Runbook { return slices.Clone(l.runbooks) }

// Get returns the runbook with the given name.
func (l *Library) Get(name string) (*sever.Runbook, bool) {
	rb, ok := l.byName[name]
	return rb, ok
}

// Select returns the runbook for a credential type and signal kind: the matching one
// with the highest priority, and of equal priorities the first by name, so the choice
// never depends on load order. No match is an EUNPROCESSABLE *sever.Error.
func (l *Library) Select(t sever.CredentialType, k sever.SignalKind) (*sever.Runbook, error) {
	var best *sever.Runbook
	for _, rb := range l.runbooks {
		if rb.Match.Matches(t, k) && (best == nil || rb.Match.Priority > best.Match.Priority) {
			best = rb
		}
	}
	if best == nil {
		names := make([]string, len(l.runbooks))
		for i, rb := range l.runbooks {
			names[i] = rb.Name
		}
		return nil, sever.Errorf(sever.EUNPROCESSABLE, "",
			"no runbook matches credential type %q and signal kind %q (loaded runbooks: %s)",
			t, k, strings.Join(names, ", "))
	}
	return best, nil
}

// DefaultPolicy returns the built-in runtime policy.
func DefaultPolicy(catalog map[string]sever.ActionSpec) (*sever.Policy, error) {
	return ParsePolicy("builtin:policy/default.yaml", defaultPolicy, catalog)
}

// LoadPolicy reads the policy at path, or returns the built-in one when path is "".
func LoadPolicy(path string, catalog map[string]sever.ActionSpec) (*sever.Policy, error) {
	if path == "" {
		return DefaultPolicy(catalog)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runbooks: load policy %s: %w", path, err)
	}
	return ParsePolicy(path, src, catalog)
}

// IsPolicy reports whether src looks like a policy (a top-level rules: key) rather than
// a runbook. Unparseable input is not a policy, so the runbook parser reports it.
func IsPolicy(src []byte) bool {
	if len(src) > maxSource {
		return false
	}
	doc, _, err := yamlcheck.Decode(src)
	if err != nil || doc == nil || len(doc.Content) == 0 {
		return false
	}
	return hasKey(doc.Content[0], "rules")
}

// LintSource checks one runbook or policy file held in memory. It returns nil or a
// LintErrors.
func LintSource(file string, src []byte, catalog map[string]sever.ActionSpec) error {
	var err error
	if IsPolicy(src) {
		_, err = ParsePolicy(file, src, catalog)
	} else {
		_, err = Parse(file, src, catalog)
	}
	return err
}

// Lint checks runbook and policy files, as `sever runbook lint FILE...` does. It returns
// one error per problem (LintError values, or a read error naming the file); none
// means every file is valid.
func Lint(files []string, catalog map[string]sever.ActionSpec) []error {
	var out []error
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			out = append(out, fmt.Errorf("runbooks: lint %s: %w", file, err))
			continue
		}
		err = LintSource(file, src, catalog)
		var le LintErrors
		switch {
		case err == nil:
		case errors.As(err, &le):
			for _, e := range le {
				out = append(out, e)
			}
		default:
			out = append(out, err)
		}
	}
	return out
}
