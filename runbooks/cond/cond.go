// Package cond checks and evaluates the CEL conditions of runbook steps (`when:`).
//
// Eval runs inside Temporal workflow code, so its result must be a pure function of the
// expression and the variables: the environment has no clock, no randomness and no
// extensions, map iteration is made ordered, and the only bound on work is a cost
// limit (a wall-clock timeout would make the outcome depend on the machine).
package cond

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

const (
	// MaxExprLen bounds the source of one condition; conditions are one-liners and a
	// longer text is more likely an accident or an attack than a real need.
	MaxExprLen = 4 << 10

	// costLimit bounds one evaluation. Real conditions cost tens of units; this leaves
	// room for comprehensions over a few hundred signals and stops quadratic blow-ups.
	costLimit = 100_000

	// maxCached caps the program cache. Runbooks have a handful of distinct conditions,
	// so the cap is only reached by a caller feeding arbitrary text; past it, programs
	// are compiled per call instead of growing memory without bound.
	maxCached = 1024
)

// Vars are the variables a condition sees; NewVars builds them from an incident. Values
// must be JSON-shaped: maps, slices, strings, numbers, booleans and nil (named string
// and number types are accepted too).
type Vars struct {
	// Signal is the first (triggering) signal: source, origin, kind, severity, summary,
	// source_event_id, credential{provider,type,id,principal,account}.
	Signal map[string]any
	// Signals are all signals recorded so far, each shaped like Signal.
	Signals []any
	// Credential is provider, type, id, principal, account.
	Credential map[string]any
	// Steps maps a step id to {status, verified, enforcement, output}.
	Steps map[string]any
	// Incident is id, drill, status.
	Incident map[string]any
}

var (
	mapStringDyn = cel.MapType(cel.StringType, cel.DynType)

	envOnce = sync.OnceValues(func() (*cel.Env, error) {
		return cel.NewEnv(
			cel.Variable("signal", mapStringDyn),
			cel.Variable("signals", cel.ListType(mapStringDyn)),
			cel.Variable("credential", mapStringDyn),
			cel.Variable("steps", cel.MapType(cel.StringType, mapStringDyn)),
			cel.Variable("incident", mapStringDyn),
			// Numbers from JSON are doubles while authors write ints; let the two
			// compare where types are known statically, as they already do on dyn.
			cel.CrossTypeNumericComparisons(true),
			cel.ASTValidators(determinismValidator{}),
		)
	})

	// programs caches compiled programs by expression text. It is safe in workflow code
	// because a cached program and a freshly compiled one give the same result for the
	// same input: the cache saves CPU on replay and never changes an outcome.
	programs     sync.Map // string → cel.Program
	programCount atomic.Int64
)

// Check parses and type-checks expr. It fails unless the expression can yield a bool
// (an expression over dynamic values, such as `incident.drill`, is checked again when
// it is evaluated).
func Check(expr string) error {
	_, err := compile(expr)
	return err
}

// Eval evaluates expr against v. A result that is not a bool, a missing key or an
// exceeded cost limit is an error naming the expression.
func Eval(expr string, v Vars) (bool, error) {
	prg, err := program(expr)
	if err != nil {
		return false, err
	}
	// Plain Eval, not ContextEval with a deadline: a deadline would let machine speed
	// decide the outcome, which Temporal replay cannot tolerate. costLimit bounds work.
	out, _, err := prg.Eval(v.activation())
	if err != nil {
		return false, fmt.Errorf("cond: evaluate %s: %w", quote(expr), err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("cond: evaluate %s: result is %s, not a bool", quote(expr), out.Type().TypeName())
	}
	return bool(b), nil
}

func program(expr string) (cel.Program, error) {
	if p, ok := programs.Load(expr); ok {
		return p.(cel.Program), nil
	}
	checked, err := compile(expr)
	if err != nil {
		return nil, err
	}
	env, err := envOnce()
	if err != nil {
		return nil, err
	}
	// Only a cost limit, no InterruptCheckFrequency: interrupts come from a context
	// deadline, which Eval deliberately does not use.
	prg, err := env.Program(checked, cel.CostLimit(costLimit))
	if err != nil {
		return nil, fmt.Errorf("cond: plan %s: %w", quote(expr), err)
	}
	if programCount.Load() < maxCached {
		if _, loaded := programs.LoadOrStore(expr, prg); !loaded {
			programCount.Add(1)
		}
	}
	return prg, nil
}

func compile(expr string) (*cel.Ast, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("cond: empty condition")
	}
	if len(expr) > MaxExprLen {
		return nil, fmt.Errorf("cond: condition is %d bytes long; the limit is %d", len(expr), MaxExprLen)
	}
	env, err := envOnce()
	if err != nil {
		return nil, fmt.Errorf("cond: build environment: %w", err)
	}
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("cond: invalid condition %s: %s", quote(expr), issues(iss))
	}
	switch t := checked.OutputType(); t.Kind() {
	case types.BoolKind, types.DynKind:
	default:
		return nil, fmt.Errorf("cond: condition %s has type %s; it must be a bool (e.g. signal.kind == \"credential_exposed\")",
			quote(expr), t)
	}
	return checked, nil
}

// issues renders CEL's multi-line, caret-annotated report as one line, because lint
// output prints one line per problem.
func issues(iss *cel.Issues) string {
	var parts []string
	for _, e := range iss.Errors() {
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		parts = append(parts, fmt.Sprintf("%s (column %d)", msg, e.Location.Column()+1))
	}
	return strings.Join(parts, "; ")
}

// quote keeps error messages readable when the expression is long.
func quote(expr string) string {
	const limit = 120
	if len(expr) > limit {
		return fmt.Sprintf("%q...", expr[:limit])
	}
	return fmt.Sprintf("%q", expr)
}

// StepRefs returns the step ids expr names literally, as steps.ID or steps["ID"], in
// order of first appearance. The linter uses it to require that a condition only reads
// steps that are guaranteed to have finished before it is evaluated.
func StepRefs(expr string) ([]string, error) {
	if len(expr) > MaxExprLen {
		return nil, fmt.Errorf("cond: condition is %d bytes long; the limit is %d", len(expr), MaxExprLen)
	}
	env, err := envOnce()
	if err != nil {
		return nil, fmt.Errorf("cond: build environment: %w", err)
	}
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("cond: invalid condition %s: %s", quote(expr), issues(iss))
	}
	var refs []string
	seen := map[string]bool{}
	walkStepRefs(parsed.NativeRep().Expr(), false, func(id string) {
		if !seen[id] {
			seen[id] = true
			refs = append(refs, id)
		}
	})
	return refs, nil
}

// walkStepRefs reports literal selections on the variable `steps`; shadowed is true
// inside a comprehension that rebinds the name.
func walkStepRefs(e ast.Expr, shadowed bool, found func(string)) {
	isSteps := func(x ast.Expr) bool {
		return !shadowed && x.Kind() == ast.IdentKind && x.AsIdent() == "steps"
	}
	switch e.Kind() {
	case ast.SelectKind:
		s := e.AsSelect()
		if isSteps(s.Operand()) {
			found(s.FieldName())
			return
		}
		walkStepRefs(s.Operand(), shadowed, found)
	case ast.CallKind:
		c := e.AsCall()
		args := c.Args()
		if c.FunctionName() == "_[_]" && len(args) == 2 && isSteps(args[0]) && args[1].Kind() == ast.LiteralKind {
			if s, ok := args[1].AsLiteral().(types.String); ok {
				found(string(s))
				return
			}
		}
		if c.IsMemberFunction() {
			walkStepRefs(c.Target(), shadowed, found)
		}
		for _, a := range args {
			walkStepRefs(a, shadowed, found)
		}
	case ast.ListKind:
		for _, x := range e.AsList().Elements() {
			walkStepRefs(x, shadowed, found)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			m := en.AsMapEntry()
			walkStepRefs(m.Key(), shadowed, found)
			walkStepRefs(m.Value(), shadowed, found)
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			walkStepRefs(f.AsStructField().Value(), shadowed, found)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		walkStepRefs(c.IterRange(), shadowed, found)
		walkStepRefs(c.AccuInit(), shadowed, found)
		inner := shadowed || c.IterVar() == "steps" || c.AccuVar() == "steps" ||
			(c.HasIterVar2() && c.IterVar2() == "steps")
		walkStepRefs(c.LoopCondition(), inner, found)
		walkStepRefs(c.LoopStep(), inner, found)
		// Only the accumulator is in scope in the result.
		walkStepRefs(c.Result(), shadowed || c.AccuVar() == "steps", found)
	}
}
