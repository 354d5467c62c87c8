package secretscan

import (
	_ "embed"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// rulesYAML is the rule set, kept as data so it can follow its upstream (see the
// file's header for the source and licence).
//
//go:embed rules.yaml
var rulesYAML []byte

// ruleFile is the shape of rules.yaml.
type ruleFile struct {
	Source struct {
		Project string `yaml:"project"`
		File    string `yaml:"file"`
		Commit  string `yaml:"commit"`
		License string `yaml:"license"`
	} `yaml:"source"`
	Rules []ruleSpec `yaml:"rules"`
}

type ruleSpec struct {
	ID          string   `yaml:"id"`
	From        []string `yaml:"from"`
	Description string   `yaml:"description"`
	Regex       string   `yaml:"regex"`
	Keywords    []string `yaml:"keywords"`
	KeywordAt   int      `yaml:"keywordAt"`
	SecretGroup int      `yaml:"secretGroup"`
	Entropy     float64  `yaml:"entropy"`
	Boundary    *string  `yaml:"boundary"`
	BoundRight  *string  `yaml:"boundaryRight"`
	OpenLeft    bool     `yaml:"openLeft"`
	Join        bool     `yaml:"join"`
	Require     []string `yaml:"require"`
	MaxSlashes  *int     `yaml:"maxSlashes"`
	MaxLen      int      `yaml:"maxLen"`
	Near        struct {
		Chars  string `yaml:"chars"`
		Within int    `yaml:"within"`
	} `yaml:"near"`
	Allowlist struct {
		Regexes   []string `yaml:"regexes"`
		Stopwords []string `yaml:"stopwords"`
	} `yaml:"allowlist"`
}

// rule is a compiled ruleSpec.
type rule struct {
	id, description string
	// anchored is the regex anchored at the start, for running at a keyword;
	// whole is anchored at both ends, for keywordless rules tested on whole runs.
	anchored, whole *regexp.Regexp
	keywords        [][]byte
	keywordAt       int
	secretGroup     int
	entropy         float64
	boundary        [256]bool // may not come before the match
	boundRight      [256]bool // may not come after it
	openLeft        bool
	join            bool
	needUpper       bool
	needLower       bool
	needDigit       bool
	needLetter      bool
	maxSlashes      int // -1: no limit
	maxLen          int
	minLen, maxRun  int // bounds on a match's length in bytes; maxRun -1: unbounded
	nearChars       string
	nearWithin      int
	allowRegexes    []*regexp.Regexp
	stopwords       []string
}

const defaultMaxLen = 512

// rules are compiled once at init; a rule that does not compile is a build defect,
// caught by TestRulesCompile, so init panics rather than scanning with fewer rules.
var rules = mustCompileRules(rulesYAML)

func mustCompileRules(b []byte) []rule {
	rs, err := compileRules(b)
	if err != nil {
		panic("secretscan: " + err.Error())
	}
	return rs
}

func compileRules(b []byte) ([]rule, error) {
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse rules.yaml: %w", err)
	}
	if f.Source.Commit == "" || f.Source.License == "" {
		return nil, fmt.Errorf("rules.yaml: source commit and license are required")
	}
	seen := map[string]bool{}
	out := make([]rule, 0, len(f.Rules))
	for _, s := range f.Rules {
		r, err := compileRule(s)
		if err != nil {
			return nil, fmt.Errorf("rules.yaml: rule %q: %w", s.ID, err)
		}
		if seen[r.id] {
			return nil, fmt.Errorf("rules.yaml: rule %q is defined twice", s.ID)
		}
		seen[r.id] = true
		out = append(out, r)
	}
	return out, nil
}

func compileRule(s ruleSpec) (rule, error) {
	if s.ID == "" || s.Description == "" || s.Regex == "" {
		return rule{}, fmt.Errorf("id, description and regex are required")
	}
	r := rule{id: s.ID, description: s.Description, keywordAt: s.KeywordAt, secretGroup: s.SecretGroup,
		entropy: s.Entropy, openLeft: s.OpenLeft, join: s.Join, maxSlashes: -1, maxLen: s.MaxLen,
		stopwords: s.Allowlist.Stopwords, nearChars: s.Near.Chars, nearWithin: s.Near.Within}
	if (s.Near.Chars == "") != (s.Near.Within == 0) || s.Near.Within < 0 {
		return rule{}, fmt.Errorf("near needs both chars and a positive within")
	}
	if r.maxLen == 0 {
		r.maxLen = defaultMaxLen
	}
	var err error
	if r.anchored, err = regexp.Compile(`^(?:` + s.Regex + `)`); err != nil {
		return rule{}, fmt.Errorf("regex: %w", err)
	}
	if r.whole, err = regexp.Compile(`^(?:` + s.Regex + `)$`); err != nil {
		return rule{}, fmt.Errorf("regex: %w", err)
	}
	re, err := syntax.Parse(s.Regex, syntax.Perl)
	if err != nil {
		return rule{}, fmt.Errorf("regex: %w", err)
	}
	r.minLen, r.maxRun = lenBounds(re.Simplify())
	if s.SecretGroup < 0 || s.SecretGroup > r.anchored.NumSubexp() {
		return rule{}, fmt.Errorf("secretGroup %d: the regex has %d groups", s.SecretGroup, r.anchored.NumSubexp())
	}
	for _, k := range s.Keywords {
		if k == "" || k != strings.ToLower(k) {
			return rule{}, fmt.Errorf("keyword %q: keywords are non-empty and lower case", k)
		}
		r.keywords = append(r.keywords, []byte(k))
	}
	if len(r.keywords) == 0 && (s.Join || s.KeywordAt != 0 || s.OpenLeft) {
		return rule{}, fmt.Errorf("join, keywordAt and openLeft need keywords")
	}
	if s.KeywordAt < 0 || s.Entropy < 0 || math.IsNaN(s.Entropy) || s.MaxLen < 0 {
		return rule{}, fmt.Errorf("keywordAt, entropy and maxLen must not be negative")
	}
	class := "A-Za-z0-9_"
	if s.Boundary != nil {
		class = *s.Boundary
	}
	if r.boundary, err = parseClass(class); err != nil {
		return rule{}, fmt.Errorf("boundary: %w", err)
	}
	r.boundRight = r.boundary
	if s.BoundRight != nil {
		if r.boundRight, err = parseClass(*s.BoundRight); err != nil {
			return rule{}, fmt.Errorf("boundaryRight: %w", err)
		}
	}
	if len(r.keywords) == 0 && class == "" {
		return rule{}, fmt.Errorf("a rule without keywords needs a boundary class to cut the text into runs")
	}
	for _, k := range s.Require {
		switch k {
		case "upper":
			r.needUpper = true
		case "lower":
			r.needLower = true
		case "digit":
			r.needDigit = true
		case "letter":
			r.needLetter = true
		default:
			return rule{}, fmt.Errorf("require %q: want upper, lower, digit or letter", k)
		}
	}
	if s.MaxSlashes != nil {
		r.maxSlashes = *s.MaxSlashes
	}
	for _, a := range s.Allowlist.Regexes {
		re, err := regexp.Compile(a)
		if err != nil {
			return rule{}, fmt.Errorf("allowlist regex: %w", err)
		}
		r.allowRegexes = append(r.allowRegexes, re)
	}
	for _, w := range s.Allowlist.Stopwords {
		if w != strings.ToLower(w) {
			return rule{}, fmt.Errorf("stopword %q: stopwords are lower case", w)
		}
	}
	return r, nil
}

// parseClass reads an ASCII character class such as "A-Za-z0-9_-" (a "-" that
// cannot start a range is literal).
func parseClass(s string) ([256]bool, error) {
	var set [256]bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return set, fmt.Errorf("%q: only ASCII characters", s)
		}
		if i+2 < len(s) && s[i+1] == '-' {
			hi := s[i+2]
			if hi < c || hi >= 0x80 {
				return set, fmt.Errorf("%q: bad range %c-%c", s, c, hi)
			}
			for x := int(c); x <= int(hi); x++ {
				set[x] = true
			}
			i += 2
			continue
		}
		set[c] = true
	}
	return set, nil
}

// accept applies a rule's checks other than the regex and the boundaries to the
// secret part of a match.
func (r *rule) accept(secret string) bool {
	if r.entropy > 0 && entropy(secret) < r.entropy {
		return false
	}
	if r.needUpper || r.needLower || r.needDigit || r.needLetter || r.maxSlashes >= 0 {
		var up, lo, dig bool
		slashes := 0
		for i := 0; i < len(secret); i++ {
			switch c := secret[i]; {
			case c >= 'A' && c <= 'Z':
				up = true
			case c >= 'a' && c <= 'z':
				lo = true
			case c >= '0' && c <= '9':
				dig = true
			case c == '/':
				slashes++
			}
		}
		if r.needUpper && !up || r.needLower && !lo || r.needDigit && !dig ||
			r.needLetter && !up && !lo || r.maxSlashes >= 0 && slashes > r.maxSlashes {
			return false
		}
	}
	for _, re := range r.allowRegexes {
		if re.MatchString(secret) {
			return false
		}
	}
	if len(r.stopwords) > 0 {
		low := strings.ToLower(secret)
		for _, w := range r.stopwords {
			if strings.Contains(low, w) {
				return false
			}
		}
	}
	return true
}

// entropy is the Shannon entropy of s in bits per byte, as gitleaks computes it.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// lenBounds gives the shortest and longest match of re in bytes (-1: unbounded), so
// runs of text that cannot match are skipped without running the regex.
func lenBounds(re *syntax.Regexp) (lo, hi int) {
	add := func(a, b int) int {
		if a < 0 || b < 0 {
			return -1
		}
		return a + b
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			lo += utf8.RuneLen(r)
		}
		return lo, lo
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		lo, hi = 1, utf8.UTFMax
		if re.Op == syntax.OpCharClass && len(re.Rune) > 0 && re.Rune[len(re.Rune)-1] < utf8.RuneSelf {
			hi = 1
		}
		return lo, hi
	case syntax.OpCapture:
		return lenBounds(re.Sub[0])
	case syntax.OpStar:
		return 0, -1
	case syntax.OpPlus:
		lo, _ = lenBounds(re.Sub[0])
		return lo, -1
	case syntax.OpQuest:
		_, hi = lenBounds(re.Sub[0])
		return 0, hi
	case syntax.OpRepeat:
		l, h := lenBounds(re.Sub[0])
		lo = l * re.Min
		switch {
		case re.Max < 0 || h < 0:
			hi = -1
		default:
			hi = h * re.Max
		}
		return lo, hi
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			l, h := lenBounds(sub)
			lo, hi = lo+l, add(hi, h)
		}
		return lo, hi
	case syntax.OpAlternate:
		lo = -1
		for _, sub := range re.Sub {
			l, h := lenBounds(sub)
			if lo < 0 || l < lo {
				lo = l
			}
			if hi >= 0 && (h < 0 || h > hi) {
				hi = h
			}
		}
		return max(lo, 0), hi
	}
	return 0, 0 // empty-width assertions and the empty match
}
