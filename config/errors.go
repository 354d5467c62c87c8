package config

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration. Messages never contain the value of the field
// (it may be a secret pasted by mistake).
type Problem struct {
	File    string // config file, when the problem points into it
	Line    int    // 1-based line in File; 0 if unknown
	Env     string // environment variable that set the field, if any
	Field   string // yaml path, e.g. "slack.channel" or "operators[1].name"; "" for the whole file
	Message string
}

// String formats the problem as "file:line: field: message", or "SEVER_VAR: field: message"
// when an environment variable set the field.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Env != "":
		b.WriteString(p.Env)
		b.WriteString(": ")
	case p.File != "" && p.Line > 0:
		b.WriteString(p.File)
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	case p.File != "":
		b.WriteString(p.File)
		b.WriteString(": ")
	case p.Line > 0:
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is every problem found while loading or validating a configuration.
type Error struct {
	Problems []Problem
}

// Error lists the problems, one a line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Fields returns the field path of each problem, in order (for tests and tooling).
func (e *Error) Fields() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Field
	}
	return out
}

// levenshtein is the edit distance between a and b.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// suggest returns the candidate closest to s, if it is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	if len(s) > 64 {
		return ""
	}
	best, bestD := "", 0
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(s), c)
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, min(3, len([]rune(s))/3))
	if best == "" || bestD > limit {
		return ""
	}
	return best
}
