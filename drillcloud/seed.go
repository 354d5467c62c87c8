package drillcloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Seed is the initial state of a drill cloud. It is usually written in YAML
// (see ParseSeed) but can be built in Go.
type Seed struct {
	// RandSeed seeds the RNG behind fault probabilities, so a flaky drill can
	// be replayed; zero means "derive from the clock". Ids and secrets are
	// always cryptographically random.
	RandSeed int64         `yaml:"rand_seed"`
	Accounts []SeedAccount `yaml:"accounts"`
	// Providers are the Anthropic and OpenAI organizations, served next to AWS.
	Providers SeedProviders `yaml:"providers"`
	Faults    []Fault       `yaml:"faults"`
}

// SeedAccount is one AWS account. The first account is the default for
// getters that take no account.
type SeedAccount struct {
	ID              string              `yaml:"id"`
	Alias           string              `yaml:"alias"`
	Users           []SeedUser          `yaml:"users"`
	Roles           []SeedRole          `yaml:"roles"`
	ManagedPolicies []SeedManagedPolicy `yaml:"managed_policies"`
	Secrets         []SeedSecret        `yaml:"secrets"`
	Volumes         []SeedVolume        `yaml:"volumes"`
	Instances       []SeedInstance      `yaml:"instances"`
	Buckets         []SeedBucket        `yaml:"buckets"`
	BedrockLogging  []SeedBedrockLog    `yaml:"bedrock_logging"`
}

type SeedUser struct {
	Name             string            `yaml:"name"`
	Path             string            `yaml:"path"`
	Created          time.Time         `yaml:"created"`
	Keys             []SeedKey         `yaml:"keys"`
	Sessions         []SeedSession     `yaml:"sessions"`
	InlinePolicies   map[string]string `yaml:"inline_policies"`
	AttachedPolicies []string          `yaml:"attached_policies"`
}

// SeedKey is a long-term access key. An empty Secret gets a random one.
type SeedKey struct {
	ID       string        `yaml:"id"`
	Secret   string        `yaml:"secret"`
	Status   string        `yaml:"status"` // Active (default) or Inactive
	Created  time.Time     `yaml:"created"`
	LastUsed *SeedLastUsed `yaml:"last_used"`
}

type SeedLastUsed struct {
	Time    time.Time `yaml:"time"`
	Service string    `yaml:"service"`
	Region  string    `yaml:"region"`
}

// SeedSession is pre-existing temporary credentials (ASIA…), for a user
// (as from GetSessionToken) or a role (as from AssumeRole).
type SeedSession struct {
	ID      string    `yaml:"id"`
	Secret  string    `yaml:"secret"`
	Token   string    `yaml:"token"`
	Name    string    `yaml:"name"` // role session name
	Issued  time.Time `yaml:"issued"`
	Expires time.Time `yaml:"expires"`
}

type SeedRole struct {
	Name             string            `yaml:"name"`
	Path             string            `yaml:"path"`
	Created          time.Time         `yaml:"created"`
	Sessions         []SeedSession     `yaml:"sessions"`
	InlinePolicies   map[string]string `yaml:"inline_policies"`
	AttachedPolicies []string          `yaml:"attached_policies"`
}

// SeedManagedPolicy defines a customer managed policy, or overrides the
// document of an AWS managed one (for example a quarantine policy version).
type SeedManagedPolicy struct {
	ARN      string `yaml:"arn"`
	Document string `yaml:"document"`
}

type SeedSecret struct {
	Name        string `yaml:"name"`
	Region      string `yaml:"region"`
	Description string `yaml:"description"`
	// Value becomes the AWSCURRENT version when Versions is empty.
	Value             string              `yaml:"value"`
	Versions          []SeedSecretVersion `yaml:"versions"`
	RotationLambdaARN string              `yaml:"rotation_lambda_arn"`
	RotationDays      int                 `yaml:"rotation_days"`
	// RotationStalls leaves RotateSecret's AWSPENDING version in place, as a
	// rotation Lambda that never finishes would.
	RotationStalls bool `yaml:"rotation_stalls"`
}

type SeedSecretVersion struct {
	ID      string    `yaml:"id"`
	Value   string    `yaml:"value"`
	Stages  []string  `yaml:"stages"`
	Created time.Time `yaml:"created"`
}

type SeedVolume struct {
	ID               string            `yaml:"id"`
	Region           string            `yaml:"region"`
	AvailabilityZone string            `yaml:"availability_zone"`
	SizeGiB          int               `yaml:"size_gib"`
	Encrypted        bool              `yaml:"encrypted"`
	Tags             map[string]string `yaml:"tags"`
}

// SeedInstance is an EC2 instance: the volumes attached to it (seeded volumes of
// the same account and region) and the instance profile whose role hands out its
// metadata-service credentials.
type SeedInstance struct {
	ID              string   `yaml:"id"`
	Region          string   `yaml:"region"`
	Volumes         []string `yaml:"volumes"`
	InstanceProfile string   `yaml:"instance_profile"` // profile name; empty means none
	Role            string   `yaml:"role"`             // the profile's role (descriptive)
}

type SeedBucket struct {
	Name       string          `yaml:"name"`
	Region     string          `yaml:"region"`
	Versioning bool            `yaml:"versioning"`
	ObjectLock *SeedObjectLock `yaml:"object_lock"`
}

// SeedObjectLock enables Object Lock (and so versioning) on a bucket, with an
// optional default retention.
type SeedObjectLock struct {
	Mode  string `yaml:"mode"` // GOVERNANCE or COMPLIANCE; empty means no default retention
	Days  int    `yaml:"days"`
	Years int    `yaml:"years"`
}

// SeedBedrockLog is a region's model invocation logging configuration, in
// the shape of Bedrock's loggingConfig JSON object.
type SeedBedrockLog struct {
	Region string         `yaml:"region"`
	Config map[string]any `yaml:"config"`
}

// Well-known names in DefaultSeed.
const (
	DefaultAccountID        = "111122223333"
	DefaultRegion           = "us-east-1"
	DefaultCompromisedUser  = "ci-deployer"
	DefaultCompromisedKeyID = "AKIADRILLEXPOSED0001"
	DefaultResponderUser    = "sever-responder"
	DefaultResponderKeyID   = "AKIADRILLRESPONDER01"
	DefaultSecretName       = "prod/ci-deployer/aws"
	DefaultVolumeID         = "vol-0drill0000000001"
	DefaultEvidenceBucket   = "sever-evidence"
	DefaultRotationLambda   = "arn:aws:lambda:us-east-1:111122223333:function:rotate-ci-deployer"

	// The model-provider keys of DefaultSeed, each held in a Secrets Manager secret
	// of DefaultAccountID (without a rotation Lambda) by the same gateway.
	DefaultAnthropicOrgID      = "drill-anthropic-org"
	DefaultAnthropicKeyID      = "apikey_01DrillExposedAnthropic1"
	DefaultAnthropicSecretName = "prod/llm-gateway/anthropic"
	DefaultOpenAIOrgID         = "org-drill"
	DefaultOpenAIProjectID     = "proj_drill"
	DefaultOpenAIKeyID         = "key_DrillExposedOpenAI01"
	DefaultOpenAISecretName    = "prod/llm-gateway/openai"

	// An EC2 instance role with live temporary credentials, as the instance
	// metadata service hands them out: the role session is named after the
	// instance, and the ASIA key is what GuardDuty's InstanceCredentialExfiltration
	// findings report.
	DefaultInstanceRole      = "ci-runner"
	DefaultInstanceID        = "i-0drill0000000001"
	DefaultInstanceSessionID = "ASIADRILLINSTANCE001"
	DefaultInstanceProfile   = "ci-runner-profile"
)

// DefaultSeed is one account with a compromised CI user, sever's own
// responder user, an EC2 instance role with live temporary credentials, the secret that stores the CI key, a volume to snapshot,
// an Object Lock evidence bucket and Bedrock logging switched on; and an
// Anthropic organization and an OpenAI project, each with one API key of an LLM
// gateway that keeps it in a secret of that account.
func DefaultSeed() Seed {
	created := time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)
	// Instance credentials live for hours; relative to now, so the session is
	// valid whenever the seed is made (the cloud has no clock of its own).
	issued := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	return Seed{
		Accounts: []SeedAccount{{
			ID:    DefaultAccountID,
			Alias: "drill",
			Users: []SeedUser{
				{
					Name:    DefaultCompromisedUser,
					Created: created,
					Keys:    []SeedKey{{ID: DefaultCompromisedKeyID, Created: created}},
				},
				{
					Name:    DefaultResponderUser,
					Created: created,
					Keys:    []SeedKey{{ID: DefaultResponderKeyID, Created: created}},
				},
			},
			Roles: []SeedRole{{
				Name:    DefaultInstanceRole,
				Created: created,
				Sessions: []SeedSession{{ID: DefaultInstanceSessionID, Name: DefaultInstanceID,
					Issued: issued, Expires: issued.Add(6 * time.Hour)}},
			}},
			Secrets: []SeedSecret{{
				Name:              DefaultSecretName,
				Region:            DefaultRegion,
				Description:       "CI deploy credentials",
				Value:             `{"AccessKeyId":"` + DefaultCompromisedKeyID + `","UserName":"` + DefaultCompromisedUser + `"}`,
				RotationLambdaARN: DefaultRotationLambda,
				RotationDays:      30,
			}, {
				// The drill cloud cannot know the random key value when the seed is
				// written; what matters to a drill is which key the secret holds.
				Name:        DefaultAnthropicSecretName,
				Region:      DefaultRegion,
				Description: "LLM gateway: Anthropic API key",
				Value:       `{"key_id":"` + DefaultAnthropicKeyID + `"}`,
			}, {
				Name:        DefaultOpenAISecretName,
				Region:      DefaultRegion,
				Description: "LLM gateway: OpenAI API key",
				Value:       `{"key_id":"` + DefaultOpenAIKeyID + `","project":"` + DefaultOpenAIProjectID + `"}`,
			}},
			Volumes: []SeedVolume{{
				ID:               DefaultVolumeID,
				Region:           DefaultRegion,
				AvailabilityZone: "us-east-1a",
				SizeGiB:          8,
				Tags:             map[string]string{"Name": "ci-runner-root"},
			}},
			// The instance behind DefaultInstanceSessionID, so evidence of stolen
			// instance credentials can find its volumes and instance profile.
			Instances: []SeedInstance{{
				ID:              DefaultInstanceID,
				Region:          DefaultRegion,
				Volumes:         []string{DefaultVolumeID},
				InstanceProfile: DefaultInstanceProfile,
				Role:            DefaultInstanceRole,
			}},
			Buckets: []SeedBucket{{
				Name:       DefaultEvidenceBucket,
				Region:     DefaultRegion,
				ObjectLock: &SeedObjectLock{Mode: "COMPLIANCE", Days: 1},
			}},
			BedrockLogging: []SeedBedrockLog{{
				Region: DefaultRegion,
				Config: map[string]any{
					"cloudWatchConfig": map[string]any{
						"logGroupName": "/aws/bedrock/invocations",
						"roleArn":      "arn:aws:iam::" + DefaultAccountID + ":role/bedrock-logging",
					},
					"textDataDeliveryEnabled": true,
				},
			}},
		}},
		Providers: SeedProviders{
			Anthropic: SeedAnthropic{Organizations: []SeedAnthropicOrg{{
				ID: DefaultAnthropicOrgID, Name: "Drill",
				Keys: []SeedAnthropicKey{{ID: DefaultAnthropicKeyID, Name: "llm-gateway-prod", Created: created}},
			}}},
			OpenAI: SeedOpenAI{Organizations: []SeedOpenAIOrg{{
				ID: DefaultOpenAIOrgID, Name: "Drill",
				Projects: []SeedOpenAIProject{{ID: DefaultOpenAIProjectID, Name: "llm-gateway",
					Keys: []SeedOpenAIKey{{ID: DefaultOpenAIKeyID, Name: "llm-gateway-prod", Created: created}}}},
			}}},
		},
	}
}

// ParseSeed parses and validates a YAML seed. Unknown fields are errors;
// every error names the line ("seed:12: …").
func ParseSeed(data []byte) (Seed, error) {
	return parseSeed("seed", data)
}

// LoadSeed reads and parses a YAML seed file; errors name path:line.
func LoadSeed(path string) (Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("load seed %s: %w", path, err)
	}
	return parseSeed(path, data)
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

func parseSeed(name string, data []byte) (Seed, error) {
	var s Seed
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return s, fmt.Errorf("%s: empty seed", name)
		}
		return s, fmt.Errorf("%s", rewriteYAMLError(name, err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return s, fmt.Errorf("%s:%d: seed must be a single YAML document", name, extra.Line)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return s, fmt.Errorf("%s", rewriteYAMLError(name, err))
	}
	if err := s.validate(); err != nil {
		var ve *seedError
		if errors.As(err, &ve) {
			return s, fmt.Errorf("%s:%d: %s: %s", name, lineOf(&root, ve.path), pathString(ve.path), ve.msg)
		}
		return s, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// rewriteYAMLError turns yaml's "line N: msg" into "name:N: msg" for every
// reported problem.
func rewriteYAMLError(name string, err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		parts := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			parts[i] = yamlLineRE.ReplaceAllString(e, name+":$1: ")
		}
		return strings.Join(parts, "; ")
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if yamlLineRE.MatchString(msg) {
		return yamlLineRE.ReplaceAllString(msg, name+":$1: ")
	}
	return name + ": " + msg
}

// seedError is a validation error at a path of map keys and list indexes.
type seedError struct {
	path []any
	msg  string
}

func (e *seedError) Error() string { return pathString(e.path) + ": " + e.msg }

// seedPath extends p with more, copying so paths of siblings never share
// their backing array.
func seedPath(p []any, more ...any) []any {
	return append(append([]any(nil), p...), more...)
}

// seedID checks one identifier at path: valid (else the invalid message) and
// not yet seen under key (else the dup message), then marks it seen. Both
// messages format id.
func seedID(valid bool, seen map[string]bool, key, id string, path []any, invalid, dup string) error {
	if !valid {
		return seedErr(path, invalid, id)
	}
	if seen[key] {
		return seedErr(path, dup, id)
	}
	seen[key] = true
	return nil
}

// seedRegion defaults an empty region to DefaultRegion and checks a given one.
func seedRegion(region *string, p []any) error {
	if *region == "" {
		*region = DefaultRegion
	} else if !regionRE.MatchString(*region) {
		return seedErr(append(p, "region"), "invalid region %q", *region)
	}
	return nil
}

func seedErr(path []any, format string, args ...any) error {
	return &seedError{path: append([]any(nil), path...), msg: fmt.Sprintf(format, args...)}
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// lineOf finds the line of the deepest node along path, so an error in a
// seed built in Go (no YAML) still reports line 0 harmlessly.
func lineOf(root *yaml.Node, path []any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		switch v := p.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == v {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || v >= len(n.Content) {
				return line
			}
			n = n.Content[v]
			line = n.Line
		}
	}
	return line
}

var (
	accountIDRE   = regexp.MustCompile(`^\d{12}$`)
	longKeyIDRE   = regexp.MustCompile(`^AKIA[A-Z0-9]{12,124}$`)
	sessionKeyRE  = regexp.MustCompile(`^ASIA[A-Z0-9]{12,124}$`)
	iamNameRE     = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	bucketNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	volumeIDRE    = regexp.MustCompile(`^vol-[0-9a-z]{8,17}$`)
	instanceIDRE  = regexp.MustCompile(`^i-[0-9a-z]{8,17}$`)
	profileNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	secretNameRE  = regexp.MustCompile(`^[\w/+=.@-]{1,512}$`)
	regionRE      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	policyARNRE   = regexp.MustCompile(`^arn:aws:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$`)
	versionIDRE   = regexp.MustCompile(`^[\w-]{1,64}$`)
	seedFaultKind = map[FaultKind]bool{FaultThrottle: true, FaultServerError: true, FaultLatency: true, FaultDropResponse: true}
)

func (s *Seed) validate() error {
	if len(s.Accounts) == 0 {
		return seedErr([]any{"accounts"}, "at least one account is required")
	}
	accounts := map[string]bool{}
	keys := map[string]bool{}
	buckets := map[string]bool{}
	for ai := range s.Accounts {
		a := &s.Accounts[ai]
		p := []any{"accounts", ai}
		if err := seedID(accountIDRE.MatchString(a.ID), accounts, a.ID, a.ID, append(p, "id"),
			"account id %q must be 12 digits", "duplicate account id %s"); err != nil {
			return err
		}
		if err := validatePrincipals(a, p, keys); err != nil {
			return err
		}
		for i, mp := range a.ManagedPolicies {
			pp := seedPath(p, "managed_policies", i)
			if !policyARNRE.MatchString(mp.ARN) {
				return seedErr(append(pp, "arn"), "invalid policy ARN %q", mp.ARN)
			}
			if _, err := parsePolicy(mp.Document); err != nil {
				return seedErr(append(pp, "document"), "%v", err)
			}
		}
		secretNames := map[string]bool{}
		for i := range a.Secrets {
			sec := &a.Secrets[i]
			sp := seedPath(p, "secrets", i)
			if !secretNameRE.MatchString(sec.Name) {
				return seedErr(append(sp, "name"), "invalid secret name %q", sec.Name)
			}
			if err := seedRegion(&sec.Region, sp); err != nil {
				return err
			}
			if secretNames[sec.Region+"/"+sec.Name] {
				return seedErr(append(sp, "name"), "duplicate secret %s in %s", sec.Name, sec.Region)
			}
			secretNames[sec.Region+"/"+sec.Name] = true
			if sec.Value != "" && len(sec.Versions) > 0 {
				return seedErr(append(sp, "value"), "give either value or versions, not both")
			}
			if sec.RotationDays < 0 || sec.RotationDays > 1000 {
				return seedErr(append(sp, "rotation_days"), "rotation_days must be 0..1000, got %d", sec.RotationDays)
			}
			current := 0
			vids := map[string]bool{}
			for vi, v := range sec.Versions {
				vp := seedPath(sp, "versions", vi)
				if v.ID != "" && !versionIDRE.MatchString(v.ID) {
					return seedErr(append(vp, "id"), "invalid version id %q", v.ID)
				}
				if v.ID != "" && vids[v.ID] {
					return seedErr(append(vp, "id"), "duplicate version id %s", v.ID)
				}
				vids[v.ID] = true
				stages := map[string]bool{}
				for _, st := range v.Stages {
					if st == "" || len(st) > 256 || stages[st] {
						return seedErr(append(vp, "stages"), "invalid or duplicate stage %q", st)
					}
					stages[st] = true
					if st == "AWSCURRENT" {
						current++
					}
				}
			}
			if len(sec.Versions) > 0 && current != 1 {
				return seedErr(append(sp, "versions"), "exactly one version must carry AWSCURRENT, found %d", current)
			}
			if err := checkUniqueStages(sec.Versions); err != "" {
				return seedErr(append(sp, "versions"), "%s", err)
			}
		}
		for i := range a.Volumes {
			v := &a.Volumes[i]
			vp := seedPath(p, "volumes", i)
			if !volumeIDRE.MatchString(v.ID) {
				return seedErr(append(vp, "id"), "invalid volume id %q (want vol- and 8-17 lowercase hex/alnum)", v.ID)
			}
			if err := seedRegion(&v.Region, vp); err != nil {
				return err
			}
			if v.AvailabilityZone == "" {
				v.AvailabilityZone = v.Region + "a"
			}
			if v.SizeGiB == 0 {
				v.SizeGiB = 8
			}
			if v.SizeGiB < 1 || v.SizeGiB > 65536 {
				return seedErr(append(vp, "size_gib"), "size_gib must be 1..65536, got %d", v.SizeGiB)
			}
		}
		if err := checkInstances(a, p); err != nil {
			return err
		}
		for i := range a.Buckets {
			b := &a.Buckets[i]
			bp := seedPath(p, "buckets", i)
			if err := seedID(bucketNameRE.MatchString(b.Name), buckets, b.Name, b.Name, append(bp, "name"),
				"invalid bucket name %q", "duplicate bucket %s (bucket names are global)"); err != nil {
				return err
			}
			if err := seedRegion(&b.Region, bp); err != nil {
				return err
			}
			if ol := b.ObjectLock; ol != nil {
				switch ol.Mode {
				case "":
					if ol.Days != 0 || ol.Years != 0 {
						return seedErr(append(bp, "object_lock", "mode"), "default retention needs a mode (GOVERNANCE or COMPLIANCE)")
					}
				case "GOVERNANCE", "COMPLIANCE":
					if (ol.Days > 0) == (ol.Years > 0) || ol.Days < 0 || ol.Years < 0 {
						return seedErr(append(bp, "object_lock"), "default retention needs exactly one of days or years, positive")
					}
				default:
					return seedErr(append(bp, "object_lock", "mode"), "mode must be GOVERNANCE or COMPLIANCE, got %q", ol.Mode)
				}
			}
		}
		logRegions := map[string]bool{}
		for i, bl := range a.BedrockLogging {
			lp := seedPath(p, "bedrock_logging", i)
			if err := seedRegion(&a.BedrockLogging[i].Region, lp); err != nil {
				return err
			}
			if logRegions[a.BedrockLogging[i].Region] {
				return seedErr(append(lp, "region"), "duplicate bedrock logging region %s", a.BedrockLogging[i].Region)
			}
			logRegions[a.BedrockLogging[i].Region] = true
			if len(bl.Config) == 0 {
				return seedErr(append(lp, "config"), "config is required")
			}
			if _, err := json.Marshal(bl.Config); err != nil {
				return seedErr(append(lp, "config"), "config is not representable as JSON: %v", err)
			}
		}
	}
	if err := s.Providers.validate(); err != nil {
		return err
	}
	for i, f := range s.Faults {
		if err := f.validate(); err != nil {
			return seedErr([]any{"faults", i}, "%v", err)
		}
	}
	return nil
}

func validatePrincipals(a *SeedAccount, p []any, keys map[string]bool) error {
	names := map[string]bool{}
	checkPolicies := func(pp []any, inline map[string]string, attached []string) error {
		for name, doc := range inline {
			if !iamNameRE.MatchString(name) {
				return seedErr(append(pp, "inline_policies", name), "invalid policy name %q", name)
			}
			if _, err := parsePolicy(doc); err != nil {
				return seedErr(append(pp, "inline_policies", name), "%v", err)
			}
		}
		for i, arn := range attached {
			if !policyARNRE.MatchString(arn) {
				return seedErr(append(pp, "attached_policies", i), "invalid policy ARN %q", arn)
			}
		}
		return nil
	}
	checkSessions := func(pp []any, sessions []SeedSession) error {
		for i, ss := range sessions {
			sp := seedPath(pp, "sessions", i)
			if err := seedID(sessionKeyRE.MatchString(ss.ID), keys, ss.ID, ss.ID, append(sp, "id"),
				"session key id %q must look like ASIA…", "duplicate access key id %s"); err != nil {
				return err
			}
			if ss.Issued.IsZero() {
				return seedErr(append(sp, "issued"), "issued is required")
			}
			if !ss.Expires.IsZero() && !ss.Expires.After(ss.Issued) {
				return seedErr(append(sp, "expires"), "expires must be after issued")
			}
		}
		return nil
	}
	// principal checks what users and roles share: a unique name, the
	// default path, then more (a user's keys), sessions and policies.
	principal := func(pp []any, kind, name string, path *string, sessions []SeedSession, inline map[string]string, attached []string, more func() error) error {
		if err := seedID(iamNameRE.MatchString(name), names, kind+"/"+name, name, append(pp, "name"),
			"invalid "+kind+" name %q", "duplicate "+kind+" %s"); err != nil {
			return err
		}
		if *path == "" {
			*path = "/"
		}
		if more != nil {
			if err := more(); err != nil {
				return err
			}
		}
		if err := checkSessions(pp, sessions); err != nil {
			return err
		}
		return checkPolicies(pp, inline, attached)
	}
	for ui := range a.Users {
		u := &a.Users[ui]
		up := seedPath(p, "users", ui)
		err := principal(up, "user", u.Name, &u.Path, u.Sessions, u.InlinePolicies, u.AttachedPolicies, func() error {
			return checkKeys(u, up, keys)
		})
		if err != nil {
			return err
		}
	}
	for ri := range a.Roles {
		r := &a.Roles[ri]
		err := principal(seedPath(p, "roles", ri), "role", r.Name, &r.Path, r.Sessions, r.InlinePolicies, r.AttachedPolicies, nil)
		if err != nil {
			return err
		}
	}
	return nil
}

// checkKeys checks a user's access keys at up, defaulting their status.
func checkKeys(u *SeedUser, up []any, keys map[string]bool) error {
	if len(u.Keys) > 2 {
		return seedErr(append(up, "keys"), "a user has at most 2 access keys, got %d", len(u.Keys))
	}
	for ki := range u.Keys {
		k := &u.Keys[ki]
		kp := seedPath(up, "keys", ki)
		if err := seedID(longKeyIDRE.MatchString(k.ID), keys, k.ID, k.ID, append(kp, "id"),
			"access key id %q must look like AKIA followed by 12+ uppercase letters or digits", "duplicate access key id %s"); err != nil {
			return err
		}
		switch k.Status {
		case "":
			k.Status = "Active"
		case "Active", "Inactive":
		default:
			return seedErr(append(kp, "status"), "status must be Active or Inactive, got %q", k.Status)
		}
		if k.Secret != "" && len(k.Secret) < 16 {
			return seedErr(append(kp, "secret"), "secret must be at least 16 characters")
		}
	}
	return nil
}

func checkUniqueStages(vs []SeedSecretVersion) string {
	owner := map[string]int{}
	for i, v := range vs {
		for _, st := range v.Stages {
			if j, ok := owner[st]; ok {
				return "stage " + st + " is on versions " + strconv.Itoa(j) + " and " + strconv.Itoa(i)
			}
			owner[st] = i
		}
	}
	return ""
}

// checkInstances validates an account's instances: each attached volume must be a
// seeded volume of the same region, attached to one instance only. A profile's role
// is descriptive: tests that replace the seed's roles keep its instance.
func checkInstances(a *SeedAccount, p []any) error {
	vols := map[string]string{}
	for _, v := range a.Volumes {
		vols[v.ID] = v.Region
	}
	attached := map[string]bool{}
	ids := map[string]bool{}
	for i := range a.Instances {
		in := &a.Instances[i]
		ip := seedPath(p, "instances", i)
		if err := seedID(instanceIDRE.MatchString(in.ID), ids, in.ID, in.ID, append(ip, "id"),
			"invalid instance id %q (want i- and 8-17 lowercase hex/alnum)", "duplicate instance id %q"); err != nil {
			return err
		}
		if err := seedRegion(&in.Region, ip); err != nil {
			return err
		}
		for j, v := range in.Volumes {
			region, ok := vols[v]
			if !ok || region != in.Region {
				return seedErr(append(ip, "volumes", j), "volume %q is not a seeded volume in %s", v, in.Region)
			}
			if attached[v] {
				return seedErr(append(ip, "volumes", j), "volume %q is attached to another instance", v)
			}
			attached[v] = true
		}
		switch {
		case in.InstanceProfile == "" && in.Role != "":
			return seedErr(append(ip, "role"), "role %q needs an instance_profile", in.Role)
		case in.InstanceProfile != "" && !profileNameRE.MatchString(in.InstanceProfile):
			return seedErr(append(ip, "instance_profile"), "invalid instance profile name %q", in.InstanceProfile)
		}
	}
	return nil
}
