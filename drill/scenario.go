// Package drill runs tabletop containment drills: a scenario describes an attacker
// using a stolen key in the drill cloud, the signals that report it (and when, or
// never), simulated approvers and injected faults; Run plays it against the real
// workflows and activities on an embedded stack and measures how fast the key was
// contained, and by whom, against the scenario's objectives.
package drill

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// Scenario is one drill. It is usually written in YAML (see Parse); every duration
// is measured from the start of the drill unless a field says otherwise.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed drives every random choice of the drill (responders missing a deadline), so
	// a run can be replayed.
	Seed int64 `yaml:"seed"`
	// Policy is "default" (the built-in runtime policy) or the path of a policy file,
	// relative to the scenario file.
	Policy string `yaml:"policy"`
	// ApprovalDeadline replaces the deadline of every approval rule of the policy, for
	// this drill only: rehearsing an expired approval should not take the policy's 15
	// minutes, and the policy linter's one-minute minimum does not apply here. The
	// workflow escalates once, so an unanswered request expires after twice this.
	ApprovalDeadline time.Duration `yaml:"approval_deadline"`
	// CloudSeed is a drill cloud seed file (relative to the scenario file) for
	// credentials other than the default seed's; only used when the drill starts its
	// own stack.
	CloudSeed string `yaml:"cloud_seed"`
	// Timeout ends the drill, objectives unmet, if it has not finished by then.
	Timeout time.Duration `yaml:"timeout"`
	// Settle keeps the attackers running after the last incident ended, so the report
	// shows whether their calls were refused.
	Settle      time.Duration `yaml:"settle"`
	Credentials []Credential  `yaml:"credentials"`
	Attackers   []Attacker    `yaml:"attackers"`
	Signals     []Signal      `yaml:"signals"`
	Responders  []Responder   `yaml:"responders"`
	Faults      []Fault       `yaml:"faults"`
	Objectives  Objectives    `yaml:"objectives"`

	// File is where the scenario was read from ("builtin:NAME" for a built-in one).
	File string `yaml:"-"`
	// SHA256 is the hash of the scenario's source, so results name what they ran.
	SHA256 string `yaml:"-"`
}

// Credential is a stolen credential of the drill cloud, named so attackers and
// signals can refer to it.
type Credential struct {
	Name string `yaml:"name"`
	// Type is its wire type: aws_access_key (the default), aws_bedrock_api_key,
	// anthropic_api_key, openai_api_key, gcp_service_account_key, google_api_key,
	// azure_app_secret, azure_openai_key or vault_token.
	Type string `yaml:"type"`
	// ID is the access key id (AKIA…); a Bedrock API key's credential id (ACCA…,
	// or left out to have the drill create a long-term key for User) or
	// "short-term:" and the ARN of the identity that minted short-term keys; a
	// provider key's id (apikey_…, key_…); for the GCP, Azure and Vault families
	// the id sever names the credential by (a resource name, appID/keyID, an ARM
	// id, an accessor), or left out to have the drill create one in its twin.
	ID string `yaml:"id"`
	// User is the IAM user of an access key or of a long-term Bedrock API key.
	User string `yaml:"user"`
	// Account is the AWS account, or the provider's organization (Anthropic) or
	// project (OpenAI) of the key, the GCP project, the Entra tenant (app
	// secrets) or Azure subscription (OpenAI keys), or the Vault namespace;
	// defaults to the default seed's (the drill twins').
	Account string `yaml:"account"`
}

// Attacker uses a credential from StartAfter until StopAfter (or the end of the drill).
type Attacker struct {
	// Name tells attackers apart in the report, e.g. the tool an agent drives.
	Name       string        `yaml:"name"`
	Credential string        `yaml:"credential"`
	Rate       float64       `yaml:"rate"` // calls per second
	Operations []string      `yaml:"operations"`
	Start      time.Duration `yaml:"start"`
	Stop       time.Duration `yaml:"stop"`
	// PivotToSession switches to temporary credentials from sts:GetSessionToken,
	// which outlive the key's deactivation until sessions are revoked.
	PivotToSession bool   `yaml:"pivot_to_session"`
	SourceIP       string `yaml:"source_ip"`
}

// Signal is a signal submitted through the HTTP API, Repeat times per event, for
// Events distinct events.
type Signal struct {
	At time.Duration `yaml:"at"`
	// After is "start" (the default) or "containment": At then counts from the
	// moment the credential's incident stopped being open (contained or failed).
	After      string `yaml:"after"`
	Source     string `yaml:"source"`
	Origin     string `yaml:"origin"`
	Kind       string `yaml:"kind"`
	Credential string `yaml:"credential"`
	EventID    string `yaml:"event_id"`
	Severity   string `yaml:"severity"`
	Summary    string `yaml:"summary"`
	// ObservedLag is how long before sending the source saw the event: a provider
	// that tells you late has a lag.
	ObservedLag time.Duration `yaml:"observed_lag"`
	Repeat      int           `yaml:"repeat"`
	Events      int           `yaml:"events"`
	Interval    time.Duration `yaml:"interval"`
	// Quarantine names the AWS quarantine policy the vendor attaches to the key's
	// user just before this signal is sent (AWSCompromisedKeyQuarantineV3, say).
	Quarantine string `yaml:"quarantine"`
	// VendorDisables has a model provider disable (Anthropic) or delete (OpenAI)
	// the key itself just before this signal is sent, as providers do when they
	// find a leaked key, or Google mark a service-account key exposed and disable
	// it, as its exposed-key response does.
	VendorDisables bool `yaml:"vendor_disables"`
}

// Responder is a simulated approver: a member of the policy's approver groups who
// answers every approval request after Delay, unless they miss it.
type Responder struct {
	Name string `yaml:"name"`
	// Groups default to every group the policy's approval rules name.
	Groups []string      `yaml:"groups"`
	Delay  time.Duration `yaml:"delay"`
	// Miss never answers; MissProbability misses each request with that chance.
	Miss            bool    `yaml:"miss"`
	MissProbability float64 `yaml:"miss_probability"`
	Decision        string  `yaml:"decision"` // approve (default) or deny
	// Steps limits the responder to these runbook steps.
	Steps []string `yaml:"steps"`
}

// Fault is a drill cloud fault injected at At.
type Fault struct {
	At        time.Duration `yaml:"at"`
	Service   string        `yaml:"service"`
	Operation string        `yaml:"operation"`
	// Caller is "sever" (sever's own identity with the service: its responder
	// key for AWS, its service account, application, Vault token or GitHub App for
	// the family twins), a credential name, or empty for any caller.
	Caller      string        `yaml:"caller"`
	Kind        string        `yaml:"kind"`
	Count       int           `yaml:"count"`
	Probability float64       `yaml:"probability"`
	Latency     time.Duration `yaml:"latency"`
}

// Objectives are what the drill must show. Each one set is reported with the
// measured value; unset ones are not checked.
type Objectives struct {
	// ContainedWithin: every incident contained by the enterprise, verified, within
	// this long of its first signal.
	ContainedWithin   time.Duration `yaml:"contained_within"`
	FirstActionWithin time.Duration `yaml:"first_action_within"`
	// MaxAttackerSuccessesAfterSignal bounds the attacker calls that still succeeded
	// after the first signal about their credential.
	MaxAttackerSuccessesAfterSignal *int   `yaml:"max_attacker_successes_after_signal"`
	ExpectStatus                    string `yaml:"expect_status"`
	NoExpiredApprovals              bool   `yaml:"no_expired_approvals"`
	// ExpectApprovalExpired wants at least one approval recorded as approval_expired.
	ExpectApprovalExpired bool `yaml:"expect_approval_expired"`
	// RequireEnterpriseEnforced wants every incident's containment steps enforced by
	// the enterprise and verified by read-back.
	RequireEnterpriseEnforced bool `yaml:"require_enterprise_enforced"`
	// VendorRelianceAllowed false fails the drill when containment relied on a vendor.
	VendorRelianceAllowed *bool `yaml:"vendor_reliance_allowed"`
	ExpectIncidents       *int  `yaml:"expect_incidents"`
	// AllSignalsAccounted wants every delivery recorded: once as a signal, the rest
	// as duplicates, in the incident of its credential.
	AllSignalsAccounted bool `yaml:"all_signals_accounted"`
}

func (o Objectives) empty() bool { return reflect.ValueOf(o).IsZero() }

// Defaults and limits.
const (
	DefaultTimeout         = 2 * time.Minute
	DefaultSettle          = time.Second
	DefaultAttackerRate    = 5.0
	DefaultCredential      = "ci-key"
	maxTimeout             = time.Hour
	maxOffset              = time.Hour
	maxRate                = 200.0
	maxDeliveries          = 20000
	maxNameLen             = 48
	afterStart             = "start"
	afterContainment       = "containment"
	callerSever            = "sever"
	decisionApprove        = "approve"
	decisionDeny           = "deny"
	awsManagedPolicyPrefix = "arn:aws:iam::aws:policy/"
)

// QuarantinePolicies are the AWS managed policies a vendor quarantine can attach.
var QuarantinePolicies = []string{
	"AWSCompromisedKeyQuarantine", "AWSCompromisedKeyQuarantineV2",
	"AWSCompromisedKeyQuarantineV3", "AWSCompromisedKeyQuarantineV4",
}

// FaultKinds and FaultServices are what the drill cloud can disturb: the AWS
// services, the model providers, and the family twins (gcp, azure, vault,
// github), whose operations drillcloud.FaultOperations lists.
var (
	FaultKinds    = []string{"throttle", "server_error", "latency", "drop_response"}
	FaultServices = []string{"iam", "sts", "s3", "secretsmanager", "cloudtrail", "ec2", "bedrock", "anthropic", "openai",
		drillcloud.GCPService, drillcloud.AzureService, drillcloud.VaultService, drillcloud.GitHubService}
)

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	ipRE    = regexp.MustCompile(`^[0-9a-fA-F.:]{2,45}$`)
	groupRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// FieldError is one problem with a scenario, at a field and (from YAML) a line.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxSource bounds a scenario file: a drill description, not a data set.
const maxSource = 1 << 20

// Load reads and parses a scenario file.
func Load(path string) (Scenario, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, src)
}

// Parse reads a scenario from YAML, strictly: unknown fields, wrong types and
// invalid values are errors that name file:line and the field (all of them, joined).
// Defaults are filled in.
func Parse(file string, src []byte) (Scenario, error) {
	var s Scenario
	if len(src) > maxSource {
		return s, &FieldError{File: file, Msg: fmt.Sprintf("scenario is %d bytes; the limit is %d", len(src), maxSource)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return s, yamlError(file, err, nil)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return s, &FieldError{File: file, Msg: "empty scenario; want a mapping with name, signals and objectives"}
	}
	if top := root.Content[0]; top.Kind != yaml.MappingNode {
		return s, &FieldError{File: file, Line: top.Line, Msg: "a scenario is a mapping (name: …, signals: …, objectives: …)"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, yamlError(file, err, &root)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Scenario{}, &FieldError{File: file, Line: extra.Line, Msg: "a scenario file holds one YAML document"}
	}
	s.File, s.SHA256 = file, sever.SHA256Hex(src)
	s = s.withDefaults()
	if errs := s.problems(); len(errs) > 0 {
		for _, e := range errs {
			e.File, e.Line = file, lineOf(&root, e.Field)
		}
		return Scenario{}, joinErrors(errs)
	}
	return s, nil
}

// Validate checks a scenario built in Go (Parse has checked one read from YAML).
func (s Scenario) Validate() error {
	s = s.withDefaults()
	errs := s.problems()
	for _, e := range errs {
		e.File = cmp.Or(s.File, "scenario")
	}
	return joinErrors(errs)
}

func joinErrors(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// withDefaults fills in what a scenario may leave out.
func (s Scenario) withDefaults() Scenario {
	if s.Policy == "" {
		s.Policy = "default"
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Settle == 0 {
		s.Settle = DefaultSettle
	}
	if len(s.Credentials) == 0 {
		s.Credentials = []Credential{{Name: DefaultCredential, ID: drillcloud.DefaultCompromisedKeyID}}
	}
	s.Credentials = slices.Clone(s.Credentials)
	for i := range s.Credentials {
		c := &s.Credentials[i]
		c.Type = cmp.Or(c.Type, string(sever.CredAWSAccessKey))
		if c.User == "" && c.ID == drillcloud.DefaultCompromisedKeyID {
			c.User = drillcloud.DefaultCompromisedUser
		}
		if arn, ok := strings.CutPrefix(c.ID, drillcloud.ShortTermBedrockKeyIDPrefix); ok && c.Account == "" {
			if parts := strings.Split(arn, ":"); len(parts) > 4 {
				c.Account = parts[4]
			}
		}
		if k := c.kind(); k != nil && c.Account == "" {
			c.Account = k.defaultAccount
		}
	}
	credOf := func(name string) Credential {
		for _, c := range s.Credentials {
			if c.Name == name {
				return c
			}
		}
		return Credential{}
	}
	only := ""
	if len(s.Credentials) == 1 {
		only = s.Credentials[0].Name
	}
	s.Attackers = slices.Clone(s.Attackers)
	for i := range s.Attackers {
		a := &s.Attackers[i]
		a.Credential = cmp.Or(a.Credential, only)
		if a.Rate == 0 {
			a.Rate = DefaultAttackerRate
		}
		if k := credOf(a.Credential).kind(); len(a.Operations) == 0 && k != nil {
			a.Operations = slices.Clone(k.defaultOps)
		}
		if a.Name == "" {
			a.Name = fmt.Sprintf("attacker-%d", i+1)
		}
	}
	s.Signals = slices.Clone(s.Signals)
	for i := range s.Signals {
		g := &s.Signals[i]
		g.Credential = cmp.Or(g.Credential, only)
		g.After = cmp.Or(g.After, afterStart)
		g.Severity = cmp.Or(g.Severity, "high")
		if g.Repeat == 0 {
			g.Repeat = 1
		}
		if g.Events == 0 {
			g.Events = 1
		}
		if g.EventID == "" {
			g.EventID = fmt.Sprintf("%s-%d", s.Name, i+1)
		}
	}
	s.Responders = slices.Clone(s.Responders)
	for i := range s.Responders {
		s.Responders[i].Decision = cmp.Or(s.Responders[i].Decision, decisionApprove)
	}
	return s
}

// problems lists every invalid value, each naming its field by path.
func (s Scenario) problems() []*FieldError {
	var errs []*FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	offset := func(field string, d time.Duration) {
		if d < 0 || d > maxOffset {
			bad(field, "%s must be within 0s..%s", d, maxOffset)
		}
	}
	name := func(field, v string) {
		switch {
		case v == "":
			bad(field, "is required (lowercase letters, digits and -)")
		case len(v) > maxNameLen:
			bad(field, "%q is %d characters long; the limit is %d", v, len(v), maxNameLen)
		case !nameRE.MatchString(v):
			bad(field, "%q may only hold lowercase letters, digits and -, starting with a letter or digit", v)
		}
	}

	name("name", s.Name)
	if len(s.Description) > 2048 {
		bad("description", "is longer than 2048 characters")
	}
	if s.Policy != "default" && !strings.HasSuffix(s.Policy, ".yaml") && !strings.HasSuffix(s.Policy, ".yml") {
		bad("policy", "%q: want default or the path of a policy file (.yaml)", s.Policy)
	}
	if s.ApprovalDeadline != 0 && (s.ApprovalDeadline < time.Second || s.ApprovalDeadline > time.Hour) {
		bad("approval_deadline", "%s must be within 1s..1h", s.ApprovalDeadline)
	}
	if s.CloudSeed != "" && !strings.HasSuffix(s.CloudSeed, ".yaml") && !strings.HasSuffix(s.CloudSeed, ".yml") {
		bad("cloud_seed", "%q: want the path of a drill cloud seed file (.yaml)", s.CloudSeed)
	}
	if s.Timeout < time.Second || s.Timeout > maxTimeout {
		bad("timeout", "%s must be within 1s..%s", s.Timeout, maxTimeout)
	}
	if s.Settle < 0 || s.Settle > time.Minute {
		bad("settle", "%s must be within 0s..1m", s.Settle)
	}

	creds := map[string]bool{}
	for i, c := range s.Credentials {
		f := fmt.Sprintf("credentials[%d]", i)
		name(f+".name", c.Name)
		if creds[c.Name] {
			bad(f+".name", "duplicate credential name %q", c.Name)
		}
		creds[c.Name] = true
		k := c.kind()
		if k == nil {
			bad(f+".type", "%q: want one of %s", c.Type, joinStrings(CredentialTypes))
			continue
		}
		for _, e := range k.check(c) {
			bad(f+"."+e.Field, "%s", e.Msg)
		}
		if !k.accountRE.MatchString(c.Account) {
			bad(f+".account", "%q is not %s", c.Account, k.accountWhat)
		}
	}
	kindOf := func(name string) *credKind {
		for _, c := range s.Credentials {
			if c.Name == name {
				return c.kind()
			}
		}
		return nil
	}
	credRef := func(field, v string) {
		switch {
		case v == "" && len(s.Credentials) > 1:
			bad(field, "is required when the scenario names more than one credential")
		case v != "" && !creds[v]:
			bad(field, "unknown credential %q (credentials: %s)", v, strings.Join(credentialNames(s.Credentials), ", "))
		}
	}

	for i, a := range s.Attackers {
		f := fmt.Sprintf("attackers[%d]", i)
		name(f+".name", a.Name)
		credRef(f+".credential", a.Credential)
		if a.Rate <= 0 || a.Rate > maxRate {
			bad(f+".rate", "%v calls per second must be within (0, %v]", a.Rate, maxRate)
		}
		k := kindOf(a.Credential)
		for j, op := range a.Operations {
			switch {
			case !slices.Contains(AttackOperations, op):
				bad(fmt.Sprintf("%s.operations[%d]", f, j), "unknown operation %q (one of %s)", op, strings.Join(AttackOperations, ", "))
			case k != nil && !slices.Contains(k.ops, op):
				bad(fmt.Sprintf("%s.operations[%d]", f, j), "a %s does not serve %q (it serves %s)", k.typ, op, strings.Join(k.ops, ", "))
			}
		}
		if k != nil && a.PivotToSession && k.typ != sever.CredAWSAccessKey {
			bad(f+".pivot_to_session", "only an AWS access key can mint sessions, not a %s", k.typ)
		}
		offset(f+".start", a.Start)
		if a.Stop != 0 && a.Stop <= a.Start {
			bad(f+".stop", "%s must come after start (%s)", a.Stop, a.Start)
		}
		offset(f+".stop", a.Stop)
		if a.SourceIP != "" && !ipRE.MatchString(a.SourceIP) {
			bad(f+".source_ip", "%q is not an IP address", a.SourceIP)
		}
	}

	if len(s.Signals) == 0 {
		bad("signals", "at least one signal is required: a drill rehearses the response to one")
	}
	deliveries := 0
	for i, g := range s.Signals {
		f := fmt.Sprintf("signals[%d]", i)
		offset(f+".at", g.At)
		if g.After != afterStart && g.After != afterContainment {
			bad(f+".after", "%q: want start or containment", g.After)
		}
		switch {
		case strings.TrimSpace(g.Source) == "":
			bad(f+".source", "is required: who reports the signal (e.g. siem, aws-health)")
		case len(g.Source) > 128:
			bad(f+".source", "is longer than 128 characters")
		}
		if !slices.Contains(sever.Origins, sever.Origin(g.Origin)) {
			bad(f+".origin", "%q: want one of %s", g.Origin, joinStrings(sever.Origins))
		}
		if !slices.Contains(sever.SignalKinds, sever.SignalKind(g.Kind)) {
			bad(f+".kind", "%q: want one of %s", g.Kind, joinStrings(sever.SignalKinds))
		}
		credRef(f+".credential", g.Credential)
		if len(g.EventID) > 200 {
			bad(f+".event_id", "is longer than 200 characters")
		}
		if !slices.Contains(sever.Severities, g.Severity) {
			bad(f+".severity", "%q: want one of %s", g.Severity, strings.Join(sever.Severities, ", "))
		}
		if len(g.Summary) > 1024 {
			bad(f+".summary", "is longer than 1024 characters")
		}
		if g.ObservedLag < 0 || g.ObservedLag > 30*24*time.Hour {
			bad(f+".observed_lag", "%s must be within 0s..720h", g.ObservedLag)
		}
		if g.Repeat < 1 || g.Repeat > maxDeliveries {
			bad(f+".repeat", "%d must be within 1..%d", g.Repeat, maxDeliveries)
		}
		if g.Events < 1 || g.Events > 1000 {
			bad(f+".events", "%d must be within 1..1000", g.Events)
		}
		if g.Interval < 0 || g.Interval > time.Minute {
			bad(f+".interval", "%s must be within 0s..1m", g.Interval)
		}
		if g.Quarantine != "" {
			switch {
			case !slices.Contains(QuarantinePolicies, strings.TrimPrefix(g.Quarantine, awsManagedPolicyPrefix)):
				bad(f+".quarantine", "%q is not an AWS quarantine policy (one of %s)", g.Quarantine, strings.Join(QuarantinePolicies, ", "))
			case g.Origin != string(sever.OriginVendor):
				bad(f+".quarantine", "only a vendor quarantines a key; set origin: vendor")
			case kindOf(g.Credential) != nil && !kindOf(g.Credential).quarantinable:
				bad(f+".quarantine", "AWS quarantines the user of an access key, not a %s", kindOf(g.Credential).typ)
			}
		}
		if g.VendorDisables {
			switch k := kindOf(g.Credential); {
			case g.Origin != string(sever.OriginVendor):
				bad(f+".vendor_disables", "only a vendor disables its own key; set origin: vendor")
			case k != nil && k.vendorDisable == nil:
				bad(f+".vendor_disables", "the drill cloud's vendor does not disable a %s itself; for AWS use quarantine", k.typ)
			}
		}
		if g.Repeat > 0 && g.Events > 0 {
			deliveries += g.Repeat * g.Events
		}
	}
	for i, g := range s.Signals {
		if g.After != afterContainment {
			continue
		}
		if !slices.ContainsFunc(s.Signals, func(o Signal) bool { return o.After == afterStart && o.Credential == g.Credential }) {
			bad(fmt.Sprintf("signals[%d].after", i), "containment of %s never comes: no signal with after: start opens its incident", cmp.Or(g.Credential, "the credential"))
		}
	}
	if deliveries > maxDeliveries {
		bad("signals", "%d deliveries in all (repeat × events); the limit is %d", deliveries, maxDeliveries)
	}

	responders := map[string]bool{}
	for i, r := range s.Responders {
		f := fmt.Sprintf("responders[%d]", i)
		name(f+".name", r.Name)
		if responders[r.Name] {
			bad(f+".name", "duplicate responder name %q", r.Name)
		}
		responders[r.Name] = true
		for j, g := range r.Groups {
			if !groupRE.MatchString(g) {
				bad(fmt.Sprintf("%s.groups[%d]", f, j), "%q is not a group name (no group: prefix)", g)
			}
		}
		if r.Delay < 0 || r.Delay > time.Hour {
			bad(f+".delay", "%s must be within 0s..1h", r.Delay)
		}
		if r.MissProbability < 0 || r.MissProbability > 1 {
			bad(f+".miss_probability", "%v must be within 0..1", r.MissProbability)
		}
		if r.Decision != decisionApprove && r.Decision != decisionDeny {
			bad(f+".decision", "%q: want approve or deny", r.Decision)
		}
		for j, st := range r.Steps {
			if !nameRE.MatchString(st) {
				bad(fmt.Sprintf("%s.steps[%d]", f, j), "%q is not a step id", st)
			}
		}
	}

	for i, ft := range s.Faults {
		f := fmt.Sprintf("faults[%d]", i)
		offset(f+".at", ft.At)
		if !slices.Contains(FaultKinds, ft.Kind) {
			bad(f+".kind", "%q: want one of %s", ft.Kind, strings.Join(FaultKinds, ", "))
		}
		if ft.Service != "" && !slices.Contains(FaultServices, ft.Service) {
			bad(f+".service", "%q is not served by the drill cloud (one of %s)", ft.Service, strings.Join(FaultServices, ", "))
		}
		if ops := drillcloud.FaultOperations(ft.Service); ops != nil && ft.Operation != "" && !slices.Contains(ops, ft.Operation) {
			bad(f+".operation", "%q is not an operation of the %s twin (one of %s)", ft.Operation, ft.Service, strings.Join(ops, ", "))
		}
		if ft.Caller != "" && ft.Caller != callerSever && !creds[ft.Caller] {
			bad(f+".caller", "%q: want sever, a credential name (%s) or nothing for any caller", ft.Caller, strings.Join(credentialNames(s.Credentials), ", "))
		}
		if ft.Count < 0 {
			bad(f+".count", "%d must not be negative", ft.Count)
		}
		if ft.Probability < 0 || ft.Probability > 1 {
			bad(f+".probability", "%v must be within 0..1", ft.Probability)
		}
		switch {
		case ft.Kind == "latency" && ft.Latency <= 0:
			bad(f+".latency", "a latency fault needs a positive latency")
		case ft.Latency < 0 || ft.Latency > time.Minute:
			bad(f+".latency", "%s must be within 0s..1m", ft.Latency)
		}
	}

	o := s.Objectives
	if o.empty() {
		bad("objectives", "at least one objective is required: a drill without one cannot fail")
	}
	if o.ContainedWithin < 0 {
		bad("objectives.contained_within", "%s must be positive", o.ContainedWithin)
	}
	if o.FirstActionWithin < 0 {
		bad("objectives.first_action_within", "%s must be positive", o.FirstActionWithin)
	}
	if p := o.MaxAttackerSuccessesAfterSignal; p != nil && *p < 0 {
		bad("objectives.max_attacker_successes_after_signal", "%d must not be negative", *p)
	}
	if o.ExpectStatus != "" && !slices.Contains([]sever.IncidentStatus{sever.IncidentOpen, sever.IncidentContained,
		sever.IncidentFailed, sever.IncidentClosed}, sever.IncidentStatus(o.ExpectStatus)) {
		bad("objectives.expect_status", "%q: want open, contained, failed or closed", o.ExpectStatus)
	}
	if o.NoExpiredApprovals && o.ExpectApprovalExpired {
		bad("objectives.expect_approval_expired", "contradicts no_expired_approvals; set one of them")
	}
	if p := o.ExpectIncidents; p != nil && *p < 0 {
		bad("objectives.expect_incidents", "%d must not be negative", *p)
	}
	return errs
}

func credentialNames(cs []Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func joinStrings[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

var (
	yamlLineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	yamlTypeNames = map[string]string{
		"time.Duration": "a duration such as 1.5s or 2m",
		"int":           "a whole number",
		"int64":         "a whole number",
		"float64":       "a number",
		"bool":          "true or false",
		"string":        "a string",
	}
	cannotUnmarshal = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// yamlError turns yaml's errors into FieldErrors that name file:line and, where the
// line holds one, the field.
func yamlError(file string, err error, root *yaml.Node) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		fe := &FieldError{File: file, Msg: msg}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			fe.Line, _ = strconv.Atoi(m[1])
			fe.Msg = m[2]
		}
		return fe
	}
	var errs []*FieldError
	for _, e := range te.Errors {
		fe := &FieldError{File: file, Msg: e}
		m := yamlLineRE.FindStringSubmatch(e)
		if m == nil {
			errs = append(errs, fe)
			continue
		}
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = m[2]
		if u := unknownField.FindStringSubmatch(fe.Msg); u != nil {
			parent, _ := keyAt(root, fe.Line, u[1])
			fe.Field = parent
			fe.Msg = fmt.Sprintf("unknown field %q", u[1])
			if known := knownFields(parent); len(known) > 0 {
				fe.Msg += " (known: " + strings.Join(known, ", ") + ")"
			}
		} else if c := cannotUnmarshal.FindStringSubmatch(fe.Msg); c != nil {
			_, fe.Field = keyAt(root, fe.Line, "")
			want := yamlTypeNames[c[3]]
			if want == "" {
				want = "a " + strings.TrimPrefix(strings.TrimPrefix(c[3], "[]"), "drill.")
				if strings.HasPrefix(c[3], "[]") {
					want = "a list"
				}
			}
			fe.Msg = fmt.Sprintf("%q is not %s", c[2], want)
		}
		errs = append(errs, fe)
	}
	return joinErrors(errs)
}

// keyAt finds the mapping key named key on a line and returns the path of its
// mapping; for key "" it finds a scalar value on the line and returns its own path.
func keyAt(root *yaml.Node, line int, key string) (parent, field string) {
	if root == nil {
		return "", ""
	}
	var walk func(n *yaml.Node, path string) bool
	walk = func(n *yaml.Node, path string) bool {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if walk(c, path) {
					return true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinField(path, k.Value)
				if key != "" && k.Line == line && k.Value == key {
					parent, field = path, p
					return true
				}
				if key == "" && v.Kind == yaml.ScalarNode && v.Line == line {
					parent, field = path, p
					return true
				}
				if walk(v, p) {
					return true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if key == "" && c.Kind == yaml.ScalarNode && c.Line == line {
					parent, field = path, p
					return true
				}
				if walk(c, p) {
					return true
				}
			}
		}
		return false
	}
	walk(root, "")
	return parent, field
}

func joinField(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// knownFields lists the YAML fields of the struct at a scenario path.
func knownFields(path string) []string {
	t := reflect.TypeFor[Scenario]()
	for _, part := range splitPath(path) {
		if strings.HasPrefix(part, "[") {
			continue
		}
		f, ok := fieldByTag(t, part)
		if !ok {
			return nil
		}
		t = f.Type
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// splitPath splits "signals[2].origin" into "signals", "[2]", "origin".
func splitPath(path string) []string {
	var out []string
	for part := range strings.SplitSeq(path, ".") {
		for part != "" {
			i := strings.IndexByte(part[1:], '[')
			if i < 0 {
				out = append(out, part)
				break
			}
			out = append(out, part[:i+1])
			part = part[i+1:]
		}
	}
	return out
}

// lineOf finds the line of the deepest node along a field path, so an error names
// the line of the offending value (or of the nearest parent present).
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range splitPath(path) {
		if strings.HasPrefix(part, "[") {
			i, err := strconv.Atoi(strings.Trim(part, "[]"))
			if err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}
