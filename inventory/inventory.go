// Package inventory reads the credential inventory: for each non-human identity, who owns
// it, which secrets hold it and which services depend on it. Containment actions use it to
// know what to rotate and whether deleting a key is safe; approval messages and reports
// use it to state the blast radius.
//
// The file is YAML and parsed strictly (unknown fields, duplicates, aliases and bad values
// are errors that name the file, line and field). It never holds secret values: a secret
// is named by its Secrets Manager id, and a rotation source is a reference (env:, file:).
package inventory

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/sever-ir/sever"
)

// Rotation sources for a secret without a rotation Lambda.
const (
	// RotationGenerate stores a freshly generated random value (the default).
	RotationGenerate = "generate"
	// RotationEnvPrefix and RotationFilePrefix name where a new value is read from when
	// the secret must hold a specific value (an access key created out of band).
	RotationEnvPrefix  = "env:"
	RotationFilePrefix = "file:"
)

// Criticalities a service may declare.
var Criticalities = []string{"low", "medium", "high", "critical"}

// Inventory is a parsed inventory file. A nil *Inventory is empty.
type Inventory struct {
	File    string
	Entries []Entry
}

// Entry is one credential and what depends on it.
type Entry struct {
	Provider  string               `json:"provider"`
	Type      sever.CredentialType `json:"type,omitempty"`
	ID        string               `json:"id,omitempty"`
	Principal string               `json:"principal,omitempty"`
	Account   string               `json:"account,omitempty"`
	Owner     string               `json:"owner"`
	Team      string               `json:"team,omitempty"`
	Secrets   []Secret             `json:"secrets,omitempty"`
	Services  []Service            `json:"services,omitempty"`
	// SecretsListed is true when the file has a secrets key for the entry, even an empty
	// list: "holds in no secret" is then a statement, not a gap.
	SecretsListed bool `json:"secrets_listed"`
	Line          int  `json:"line,omitempty"`
}

// Secret is a Secrets Manager secret that holds the credential.
type Secret struct {
	ID       string `json:"id"` // name or ARN
	Region   string `json:"region,omitempty"`
	Account  string `json:"account,omitempty"`
	Rotation string `json:"rotation,omitempty"` // generate (default), env:NAME or file:/path
}

// Service is something that breaks, or must be redeployed, when the credential changes.
type Service struct {
	Name        string `json:"name"`
	Criticality string `json:"criticality,omitempty"`
	Notes       string `json:"notes,omitempty"`
}

// maxFileBytes bounds an inventory file; real ones are far smaller.
const maxFileBytes = 4 << 20

// Load reads the inventory at path. An empty path is an empty inventory.
func Load(path string) (*Inventory, error) {
	if path == "" {
		return &Inventory{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("inventory: %s: %w", path, err)
	}
	return Parse(path, data)
}

// Lookup finds the entry for a credential: by provider and id first, then by provider and
// principal (an entry that names a principal but no id covers every key of it).
func (inv *Inventory) Lookup(c sever.Credential) (Entry, bool) {
	if inv == nil {
		return Entry{}, false
	}
	for _, e := range inv.Entries {
		if strings.EqualFold(e.Provider, c.Provider) && e.ID != "" && e.ID == c.ID {
			return e, true
		}
	}
	if c.Principal == "" {
		return Entry{}, false
	}
	for _, e := range inv.Entries {
		if !strings.EqualFold(e.Provider, c.Provider) || e.ID != "" || e.Principal == "" {
			continue
		}
		if e.Account != "" && c.Account != "" && e.Account != c.Account {
			continue
		}
		if samePrincipal(e.Principal, c.Principal) {
			return e, true
		}
	}
	return Entry{}, false
}

// samePrincipal compares principals written as a name or an ARN whose last path element
// is that name (arn:aws:iam::111122223333:user/ci/ci-deployer and ci-deployer).
func samePrincipal(a, b string) bool {
	if a == b {
		return true
	}
	isARN := func(s string) bool { return strings.HasPrefix(s, "arn:") }
	last := func(s string) string { return s[strings.LastIndex(s, "/")+1:] }
	switch {
	case isARN(a) && isARN(b):
		return false
	case isARN(a):
		return last(a) == b
	case isARN(b):
		return last(b) == a
	}
	return false
}

// BlastRadius describes what a credential touches, for approval messages and reports. A
// credential that is not in the inventory is said to have an unknown blast radius.
func (inv *Inventory) BlastRadius(c sever.Credential) string {
	e, ok := inv.Lookup(c)
	if !ok {
		return fmt.Sprintf("%s credential %s is not in the inventory: owner, dependent secrets and services are unknown", c.Provider, c.ID)
	}
	return e.BlastRadius()
}

// BlastRadius describes the entry in one paragraph.
func (e Entry) BlastRadius() string {
	var b strings.Builder
	name := e.ID
	if name == "" {
		name = "every key of " + e.Principal
	}
	fmt.Fprintf(&b, "%s credential %s", e.Provider, name)
	switch {
	case e.ID != "" && e.Principal != "" && e.Account != "":
		fmt.Fprintf(&b, " (%s in account %s)", e.Principal, e.Account)
	case e.ID != "" && e.Principal != "":
		fmt.Fprintf(&b, " (%s)", e.Principal)
	case e.Account != "":
		fmt.Fprintf(&b, " (account %s)", e.Account)
	}
	fmt.Fprintf(&b, " is owned by %s", e.Owner)
	if e.Team != "" {
		fmt.Fprintf(&b, " (team %s)", e.Team)
	}
	b.WriteString(". ")
	switch {
	case !e.SecretsListed:
		b.WriteString("The secrets that hold it are not listed. ")
	case len(e.Secrets) == 0:
		b.WriteString("It is held in no secret. ")
	default:
		fmt.Fprintf(&b, "Held in %s: ", plural(len(e.Secrets), "secret"))
		for i, s := range e.Secrets {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s.ID)
			if where := strings.Trim(s.Region+" "+s.Account, " "); where != "" {
				fmt.Fprintf(&b, " (%s)", strings.ReplaceAll(where, " ", ", "))
			}
		}
		b.WriteString(". ")
	}
	if len(e.Services) == 0 {
		b.WriteString("No dependent services are listed.")
		return b.String()
	}
	fmt.Fprintf(&b, "%s depend on it: ", plural(len(e.Services), "service"))
	for i, s := range e.Services {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.Name)
		if s.Criticality != "" {
			fmt.Fprintf(&b, " (%s)", s.Criticality)
		}
	}
	b.WriteString(".")
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

var (
	providerRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	awsAccount  = regexp.MustCompile(`^[0-9]{12}$`)
	awsRegion   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretARNRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:secretsmanager:([a-z0-9-]+):([0-9]{12}):secret:.+$`)
)

// SecretARNParts returns the region and account of a secret named by ARN, or "" for a name.
func SecretARNParts(id string) (region, account string) {
	if m := secretARNRE.FindStringSubmatch(id); m != nil {
		return m[2], m[3]
	}
	return "", ""
}

// validRotation reports whether s is a rotation source; the message never repeats s,
// since someone may have pasted a secret value there.
func validRotation(s string) string {
	switch {
	case s == "" || s == RotationGenerate:
		return ""
	case strings.HasPrefix(s, RotationEnvPrefix):
		if !envName.MatchString(strings.TrimPrefix(s, RotationEnvPrefix)) {
			return "env: needs a variable name, e.g. env:NEW_CI_KEY"
		}
		return ""
	case strings.HasPrefix(s, RotationFilePrefix):
		p := strings.TrimPrefix(s, RotationFilePrefix)
		if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
			return "file: needs an absolute path, e.g. file:/etc/sever/new-ci-key"
		}
		return ""
	}
	return "must be generate, env:NAME or file:/path (never a secret value)"
}

func criticalityOK(s string) bool { return s == "" || slices.Contains(Criticalities, s) }
