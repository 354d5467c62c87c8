package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	nameRE         = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)
	slackUserRE    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	slackChannelRE = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
	accountIDRE    = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNRE      = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::([0-9]{12}):role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	bucketRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// openAIProjectRE is the form of OpenAI project ids, which key ids are relative to.
	openAIProjectRE = regexp.MustCompile(`^proj_[A-Za-z0-9]{1,128}$`)
	// gcpProjectRE is the form of a Google Cloud project id.
	gcpProjectRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// guidRE is the form of Entra tenant and application ids.
	guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// vaultNamespaceRE is one or more namespace segments (admin, admin/ir), as Vault
	// Enterprise names them; a trailing slash is allowed, as Vault accepts it.
	vaultNamespaceRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}(/[A-Za-z0-9_.-]{1,64}){0,15}/?$`)
	// hostnameRE is a DNS name (an IP address is checked separately).
	hostnameRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

var (
	logLevels         = []string{"debug", "info", "warn", "error"}
	logFormats        = []string{"text", "json"}
	evidenceLockModes = []string{"COMPLIANCE", "GOVERNANCE"}
)

// Validate checks the whole configuration and returns an *Error listing every problem, or nil.
// It only looks at the values (no files, no network); see Warnings for checks against this
// machine. Messages name the field and never contain its value.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.run()
	if len(v.probs) == 0 {
		return nil
	}
	return &Error{Problems: v.probs}
}

type validator struct {
	c     *Config
	probs []Problem
}

func (v *validator) add(field, format string, args ...any) {
	p := Problem{Field: field, Message: fmt.Sprintf(format, args...)}
	if src := v.c.src; src != nil {
		// The nearest enclosing field that an environment variable set or the file holds.
		for f := field; f != ""; f = parentPath(f) {
			if env, ok := src.envs[f]; ok {
				p.Env = env
				break
			}
			if line, ok := src.lines[f]; ok {
				p.File, p.Line = src.file, line
				break
			}
		}
	}
	v.probs = append(v.probs, p)
}

func (v *validator) run() {
	c := v.c
	if c.DataDir == "" {
		v.add("data_dir", "must not be empty")
	}

	// Temporal.
	if c.Temporal.Address != "" {
		v.hostPort("temporal.address", c.Temporal.Address, true)
	}
	v.required("temporal.namespace", c.Temporal.Namespace)
	v.required("temporal.task_queue", c.Temporal.TaskQueue)
	if n := c.Temporal.StickyCacheSize; n < 1 || n > 100000 {
		v.add("temporal.sticky_cache_size", "%d is out of range (1..100000)", n)
	}
	v.port("temporal.frontend_port", c.Temporal.FrontendPort, 1)
	v.port("temporal.ui_port", c.Temporal.UIPort, 0)
	if c.Temporal.UIPort != 0 && c.Temporal.UIPort == c.Temporal.FrontendPort {
		v.add("temporal.ui_port", "must differ from temporal.frontend_port")
	}
	v.temporalConnection(c.Temporal)

	// HTTP.
	v.hostPort("http.listen", c.HTTP.Listen, false)
	if c.HTTP.MaxBodyBytes <= 0 {
		v.add("http.max_body_bytes", "must be positive")
	}
	v.url("http.public_url", c.HTTP.PublicURL)

	// Intake tokens and operators: names unique across both (they are actors in the ledger).
	names := map[string]string{}
	approverIDs := c.approverIDs()
	for i, t := range c.Intake.Tokens {
		p := indexPath("intake.tokens", i)
		v.principalName(p+".name", t.Name, names)
		if what := approverCollision(t.Name, approverIDs); what != "" {
			v.add(p+".name", "is %s: an intake token's name must not look like an approver, or it could be taken for one; rename the token", what)
		}
		v.requiredSecret(p+".secret", t.Secret)
		v.scopes(p+".scopes", t.Scopes)
	}
	v.rateLimit("intake.limits.per_credential", c.Intake.Limits.PerCredential)
	v.rateLimit("intake.limits.per_token", c.Intake.Limits.PerToken)
	// The window, like every duration, must be positive (checked below).
	if c.Intake.Limits.Incidents.Count < 0 {
		v.add("intake.limits.incidents.count", "must not be negative (0 turns the quota off)")
	}
	for i, o := range c.Operators {
		p := indexPath("operators", i)
		v.principalName(p+".name", o.Name, names)
		if o.SlackUser != "" && !slackUserRE.MatchString(o.SlackUser) {
			v.add(p+".slack_user", "not a Slack user id (U… or W…)")
		}
		v.requiredSecret(p+".token", o.Token)
		v.scopes(p+".scopes", o.Scopes)
	}

	// Approver groups.
	for _, g := range slices.Sorted(maps.Keys(c.Approvers.Groups)) {
		p := joinPath("approvers.groups", g)
		if !nameRE.MatchString(g) {
			v.add(p, "group names are letters, digits and _ . @ - (at most 64)")
		}
		members := c.Approvers.Groups[g]
		if len(members) == 0 {
			v.add(p, "group has no members")
		}
		seen := map[string]bool{}
		for i, m := range members {
			mp := indexPath(p, i)
			switch {
			case !slackUserRE.MatchString(m):
				v.add(mp, "not a Slack user id (U… or W…)")
			case seen[m]:
				v.add(mp, "listed twice in the group")
			}
			seen[m] = true
		}
	}

	// Slack.
	s := c.Slack
	if s.Channel != "" && !slackChannelRE.MatchString(s.Channel) {
		v.add("slack.channel", "not a Slack channel id (C…, G… or D…); use the id, not the name")
	}
	if s.EscalationChannel != "" {
		if !slackChannelRE.MatchString(s.EscalationChannel) {
			v.add("slack.escalation_channel", "not a Slack channel id (C…, G… or D…); use the id, not the name")
		}
		if s.Channel == "" {
			v.add("slack.escalation_channel", "needs slack.channel")
		}
	}
	if !s.BotToken.IsZero() && s.Channel == "" {
		v.add("slack.channel", "required when slack.bot_token is set")
	}
	if s.BotToken.IsZero() && s.Channel != "" {
		v.add("slack.bot_token", "required when slack.channel is set")
	}
	if !s.BotToken.IsZero() && s.SigningSecret.IsZero() && s.AppToken.IsZero() {
		v.add("slack.signing_secret", "required to receive approval clicks (or set slack.app_token for Socket Mode)")
	}
	v.url("slack.api_url", s.APIURL)

	// AWS.
	a := c.AWS
	if a.Region != "" && !regionRE.MatchString(a.Region) {
		v.add("aws.region", "not an AWS region name such as us-east-1")
	}
	v.regions("aws.regions", a.Regions)
	v.url("aws.endpoint_url", a.EndpointURL)
	ep := reflect.ValueOf(a.Endpoints)
	for _, f := range fieldsOf(ep.Type()) {
		v.url("aws.endpoints."+f.name, ep.Field(f.index).String())
	}
	ids := map[string]string{}
	for i, acct := range a.Accounts {
		p := indexPath("aws.accounts", i)
		switch {
		case !accountIDRE.MatchString(acct.ID):
			v.add(p+".id", "must be a 12-digit AWS account id (quote it in YAML)")
		case ids[acct.ID] != "":
			v.add(p+".id", "account is listed twice (also %s)", ids[acct.ID])
		default:
			ids[acct.ID] = p + ".id"
		}
		if acct.RoleARN != "" {
			m := roleARNRE.FindStringSubmatch(acct.RoleARN)
			switch {
			case m == nil:
				v.add(p+".role_arn", "not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
			case accountIDRE.MatchString(acct.ID) && m[2] != acct.ID:
				v.add(p+".role_arn", "the role's account differs from %s.id", p)
			}
		}
		v.regions(p+".regions", acct.Regions)
	}
	if b := a.EvidenceBucket; b != "" && (!bucketRE.MatchString(b) || strings.Contains(b, "..")) {
		v.add("aws.evidence_bucket", "not a valid S3 bucket name")
	}
	if r := a.EvidenceRetention; r > 0 && r < 24*time.Hour {
		v.add("aws.evidence_retention", "must be at least 24h (Object Lock retains whole days)")
	}
	if !slices.Contains(evidenceLockModes, a.EvidenceLockMode) {
		v.add("aws.evidence_lock_mode", "must be one of %s", strings.Join(evidenceLockModes, ", "))
	}
	if a.MaxAttempts < 1 || a.MaxAttempts > 10 {
		v.add("aws.max_attempts", "must be in 1..10")
	}

	// Providers.
	v.url("providers.anthropic.base_url", c.Providers.Anthropic.BaseURL)
	v.url("providers.openai.base_url", c.Providers.OpenAI.BaseURL)
	v.url("github.api_url", c.GitHub.APIURL)
	// The App's settings come as a set: any one alone is a half-finished setup.
	if g := c.GitHub; g.AppID != "" || g.InstallationID != "" || !g.PrivateKey.IsZero() {
		for _, f := range []struct{ name, val string }{{"github.app_id", g.AppID}, {"github.installation_id", g.InstallationID}} {
			if n, err := strconv.ParseUint(f.val, 10, 63); err != nil || n == 0 {
				v.add(f.name, "must be the GitHub App's numeric id when any github.* setting is given")
			}
		}
		if g.PrivateKey.IsZero() {
			v.add("github.private_key", "must reference the GitHub App's private key when any github.* setting is given")
		}
	}
	if p := c.Providers.OpenAI.Project; p != "" && !openAIProjectRE.MatchString(p) {
		v.add("providers.openai.project", "not an OpenAI project id (proj_…)")
	}

	v.gcp(c.GCP)
	v.azure(c.Azure)
	v.vault(c.Vault)

	// Incidents and every other duration.
	v.durations(reflectValueOf(c), "")
	if h := c.Incidents.Hold; h > 0 && h < time.Minute {
		v.add("incidents.hold", "must be at least 1m")
	}

	v.ledgerS3(c.Ledger.S3)
	v.ledgerAnchors(c.Ledger)

	// Log.
	if !slices.Contains(logLevels, c.Log.Level) {
		v.add("log.level", "must be one of %s", strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		v.add("log.format", "must be one of %s", strings.Join(logFormats, ", "))
	}

	// Every secret field, wherever it is, holds a reference.
	walkSecrets(reflectValueOf(c), "", func(path string, r SecretRef) {
		if err := r.Validate(); err != nil {
			v.add(path, "%s", err.Error())
		}
	})
}

func (v *validator) required(field, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(field, "must not be empty")
	}
}

func (v *validator) requiredSecret(field string, r SecretRef) {
	if r.IsZero() {
		v.add(field, "required (a secret reference such as env:NAME)")
	}
}

func (v *validator) principalName(field, name string, seen map[string]string) {
	switch {
	case name == "":
		v.add(field, "must not be empty")
	case !nameRE.MatchString(name):
		v.add(field, "names are letters, digits and _ . @ - (at most 64)")
	case seen[name] != "":
		v.add(field, "name is already used by %s", seen[name])
	default:
		seen[name] = field
	}
}

// rateLimit checks a token bucket: both parts non-negative, and a burst of at least
// one for a rate that is on.
func (v *validator) rateLimit(field string, r RateLimit) {
	switch {
	case r.Rate < 0:
		v.add(field+".rate", "must not be negative (0 turns the limit off)")
	case r.Burst < 0:
		v.add(field+".burst", "must not be negative")
	case r.Rate > 0 && r.Burst == 0:
		v.add(field+".burst", "must be at least 1 when rate is set")
	}
}

func (v *validator) scopes(field string, scopes []string) {
	if len(scopes) == 0 {
		v.add(field, "at least one scope is required (%s)", strings.Join(Scopes, ", "))
	}
	for i, s := range scopes {
		if !slices.Contains(Scopes, s) {
			v.add(indexPath(field, i), "unknown scope (known: %s)", strings.Join(Scopes, ", "))
		}
	}
}

func (v *validator) regions(field string, regions []string) {
	seen := map[string]bool{}
	for i, r := range regions {
		switch {
		case !regionRE.MatchString(r):
			v.add(indexPath(field, i), "not an AWS region name such as us-east-1")
		case seen[r]:
			v.add(indexPath(field, i), "region is listed twice")
		}
		seen[r] = true
	}
}

func (v *validator) port(field string, p, lo int) {
	if p < lo || p > 65535 {
		v.add(field, "port must be in %d..65535", lo)
	}
}

// hostPort checks host:port; the host may be empty (all interfaces) unless needHost.
func (v *validator) hostPort(field, s string, needHost bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(field, "must be host:port")
		return
	}
	if needHost && host == "" {
		v.add(field, "must be host:port with a host")
	}
	lo := 0
	if needHost {
		lo = 1
	}
	if n, err := strconv.Atoi(port); err != nil || n < lo || n > 65535 {
		v.add(field, "port must be a number in %d..65535", lo)
	}
}

// url checks an optional absolute http(s) URL without credentials in it.
func (v *validator) url(field, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		v.add(field, "must be an absolute URL such as https://host[:port]/path")
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(field, "URL scheme must be http or https")
	case u.User != nil:
		v.add(field, "URL must not contain credentials")
	}
}

// durations requires every time.Duration in the config to be positive.
func (v *validator) durations(val reflect.Value, path string) {
	switch {
	case val.Type() == durationType:
		if val.Int() <= 0 {
			v.add(path, "must be a positive duration")
		}
	case val.Kind() == reflect.Struct:
		for _, f := range fieldsOf(val.Type()) {
			v.durations(val.Field(f.index), joinPath(path, f.name))
		}
	case val.Kind() == reflect.Slice && val.Type().Elem().Kind() == reflect.Struct:
		for i := 0; i < val.Len(); i++ {
			v.durations(val.Index(i), indexPath(path, i))
		}
	}
}

var hexKey = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func (v *validator) ledgerAnchors(l LedgerConfig) {
	if f := l.Anchors.File; f != "" && !filepath.IsAbs(f) {
		v.add("ledger.anchors.file", "must be an absolute path")
	}
	if l.Anchors.Every < 1 {
		v.add("ledger.anchors.every", "must be at least 1")
	}
	if k := l.TrustedSigner; k != "" && !hexKey.MatchString(k) && !filepath.IsAbs(k) {
		v.add("ledger.trusted_signer", "must be 64 hex digits or the absolute path of a PEM public key")
	}
}

// ledgerS3Prefix is one or more S3-safe key segments, each ending in "/".
var ledgerS3Prefix = regexp.MustCompile(`^([A-Za-z0-9!_.*'()-]+/)+$`)

func (v *validator) ledgerS3(l LedgerS3Config) {
	if b := l.Bucket; b != "" && (!bucketRE.MatchString(b) || strings.Contains(b, "..")) {
		v.add("ledger.s3.bucket", "not a valid S3 bucket name")
	}
	if p := l.Prefix; p != "" {
		bad := !ledgerS3Prefix.MatchString(p) || len(p) > 512
		for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
			bad = bad || seg == "." || seg == ".."
		}
		if bad {
			v.add("ledger.s3.prefix", "must be empty or key segments of letters, digits and ! _ . * ' ( ) -, each ending in / (such as sever-ledger/), at most 512 bytes")
		}
	}
	if r := l.Retention; r > 0 && r < MinLedgerS3Retention {
		v.add("ledger.s3.retention", "must be at least 24h (Object Lock retains whole days)")
	}
	if !slices.Contains(evidenceLockModes, l.LockMode) {
		v.add("ledger.s3.lock_mode", "must be one of %s", strings.Join(evidenceLockModes, ", "))
	}
	if l.Region != "" && !regionRE.MatchString(l.Region) {
		v.add("ledger.s3.region", "not an AWS region name such as us-east-1")
	}
}

// approverIDs lists the approver identities the config itself names: approver group
// members and operators' Slack users.
func (c *Config) approverIDs() map[string]bool {
	ids := map[string]bool{}
	for _, members := range c.Approvers.Groups {
		for _, m := range members {
			ids[m] = true
		}
	}
	for _, o := range c.Operators {
		if o.SlackUser != "" {
			ids[o.SlackUser] = true
		}
	}
	return ids
}

// approverCollision says how name could be taken for an approver identity, or "".
func approverCollision(name string, ids map[string]bool) string {
	switch {
	case ids[name]:
		return "an approver identity (an approver group member or an operator's slack_user)"
	case slackUserRE.MatchString(name):
		return "shaped like a Slack user id (U… or W…)"
	}
	return ""
}

// CheckIntakeTokenNames refuses intake tokens whose name is one of approvers: the
// approver identities that the policy and the runbooks name, which Validate cannot
// see. Group references ("group:…") and Slack user groups are not identities.
func (c *Config) CheckIntakeTokenNames(approvers []string) error {
	ids := map[string]bool{}
	for _, a := range approvers {
		ids[a] = true
	}
	v := &validator{c: c}
	for i, t := range c.Intake.Tokens {
		if ids[t.Name] {
			v.add(indexPath("intake.tokens", i)+".name", "is an approver named in the policy or a runbook: an intake token's name must not look like an approver, or it could be taken for one; rename the token")
		}
	}
	if len(v.probs) == 0 {
		return nil
	}
	return &Error{Problems: v.probs}
}

func (v *validator) gcp(g GCPConfig) {
	if p := g.QuotaProject; p != "" && !gcpProjectRE.MatchString(p) {
		v.add("gcp.quota_project", "not a Google Cloud project id (6 to 30 lower-case letters, digits and -, starting with a letter)")
	}
}

// azure checks the application sever signs in as: all three keys or none, since
// any one alone would silently fall back to DefaultAzureCredential.
func (v *validator) azure(a AzureConfig) {
	if a.IsZero() {
		return
	}
	if !guidRE.MatchString(a.TenantID) {
		v.add("azure.tenant_id", "must be the directory (tenant) id, a GUID, when any azure.* setting is given")
	}
	if !guidRE.MatchString(a.ClientID) {
		v.add("azure.client_id", "must be the application (client) id, a GUID, when any azure.* setting is given")
	}
	if a.ClientSecret.IsZero() {
		v.add("azure.client_secret", "must reference the application's client secret when any azure.* setting is given "+
			"(leave every azure.* key out to use DefaultAzureCredential)")
	}
}

func (v *validator) vault(c VaultConfig) {
	v.url("vault.address", c.Address)
	if c.Namespace != "" && (!vaultNamespaceRE.MatchString(c.Namespace) || strings.HasPrefix(c.Namespace, "/")) {
		v.add("vault.namespace", "not a Vault namespace path such as admin or admin/ir")
	}
	if f := c.CACert; f != "" && !filepath.IsAbs(f) {
		v.add("vault.ca_cert", "must be an absolute path of a PEM file")
	}
	if n := c.TLSServerName; n != "" && net.ParseIP(n) == nil && (len(n) > 253 || !hostnameRE.MatchString(n)) {
		v.add("vault.tls_server_name", "not a host name")
	}
	if (c.CACert != "" || c.TLSServerName != "") && strings.HasPrefix(c.Address, "http://") {
		v.add("vault.address", "uses http:// but vault.ca_cert or vault.tls_server_name is set; use https://")
	}
}
