// Package config loads sever.yaml, the one configuration file for everything that is not a
// runbook or a policy: the Temporal connection, the HTTP listener, intake sources and their
// authentication, operators and approver groups, Slack, AWS accounts, provider admin credentials,
// where runbooks and the policy live, the incident hold window, the token store, the ledger
// signing key and logging.
//
// Precedence, highest first: SEVER_* environment variables, the file, built-in defaults. Secrets
// are never written in the file: every secret field is a SecretRef (env:, file: or aws-sm:) that
// is resolved when it is needed. README.md in this directory documents every key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scopes granted to intake tokens and operators.
const (
	ScopeSignalsWrite   = "signals:write"   // submit signals (POST /v1/signals and adapters)
	ScopeIncidentsRead  = "incidents:read"  // list and read incidents, reports and the ledger
	ScopeIncidentsWrite = "incidents:write" // contain on demand, close or re-run incidents
	ScopeApprovalsWrite = "approvals:write" // approve or deny steps over the API/CLI
	ScopeDrillsWrite    = "drills:write"    // start drill incidents (only where the stack runs its drill cloud)
	// ScopeTokensVendor reports the issuer's state of a token-store token (PUT
	// /v1/tokens/{id}/vendor-status): for the issuer's notice feed only.
	ScopeTokensVendor = "tokens:vendor"
)

// Scopes lists every known scope.
var Scopes = []string{ScopeSignalsWrite, ScopeIncidentsRead, ScopeIncidentsWrite, ScopeApprovalsWrite, ScopeDrillsWrite, ScopeTokensVendor}

// Defaults.
const (
	DefaultDataDir   = ".sever"
	DefaultNamespace = "default"
	DefaultTaskQueue = "sever"
	// DefaultStickyCacheSize bounds a worker's cached incidents: at the bench's
	// measured cost of a parked incident it keeps the cache under about half a GB.
	DefaultStickyCacheSize = 2000
	DefaultFrontendPort    = 7233
	DefaultUIPort          = 8233
	DefaultListen          = "127.0.0.1:8080"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultHold            = 168 * time.Hour
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
	// DefaultEvidenceRetention keeps evidence under Object Lock for a year, longer than
	// most incident reviews and audit cycles take.
	DefaultEvidenceRetention = 8760 * time.Hour
	DefaultEvidenceLockMode  = "COMPLIANCE"
	DefaultAWSMaxAttempts    = 3
	// Intake admission control: generous for real senders, tight enough that a flood
	// about one credential cannot outrun what its incident can record.
	DefaultCredentialRate    = 50
	DefaultCredentialBurst   = 200
	DefaultTokenRate         = 200
	DefaultTokenBurst        = 1000
	DefaultIncidentsPerToken = 100
	DefaultIncidentsWindow   = time.Hour
	// EnvPrefix starts every environment override: SEVER_ + the upper-cased yaml path joined by _.
	EnvPrefix = "SEVER_"
)

// maxFileBytes bounds the size of a config file.
const maxFileBytes = 4 << 20

// Config is the whole of sever.yaml.
type Config struct {
	DataDir    string           `yaml:"data_dir"`
	Temporal   TemporalConfig   `yaml:"temporal"`
	HTTP       HTTPConfig       `yaml:"http"`
	Intake     IntakeConfig     `yaml:"intake"`
	Operators  []Operator       `yaml:"operators"`
	Approvers  ApproversConfig  `yaml:"approvers"`
	Slack      SlackConfig      `yaml:"slack"`
	AWS        AWSConfig        `yaml:"aws"`
	Providers  ProvidersConfig  `yaml:"providers"`
	GitHub     GitHubConfig     `yaml:"github"`
	GCP        GCPConfig        `yaml:"gcp"`
	Azure      AzureConfig      `yaml:"azure"`
	Vault      VaultConfig      `yaml:"vault"`
	Runbooks   RunbooksConfig   `yaml:"runbooks"`
	Incidents  IncidentsConfig  `yaml:"incidents"`
	TokenStore TokenStoreConfig `yaml:"tokenstore"`
	Inventory  InventoryConfig  `yaml:"inventory"`
	Ledger     LedgerConfig     `yaml:"ledger"`
	Database   DatabaseConfig   `yaml:"database"`
	Log        LogConfig        `yaml:"log"`

	// SingleHost says every sever process of this deployment runs on one host and shares
	// data_dir, so local state is fine even against a shared Temporal cluster.
	SingleHost bool `yaml:"single_host"`

	src *sources // where values came from, for error messages; nil for a hand-built Config
}

// TemporalConfig says where the Temporal server is, or how to run the embedded one.
type TemporalConfig struct {
	// Address is host:port of the frontend. Empty: `sever dev` embeds a server; `sever worker` and
	// `sever serve` take it from Temporal's environment configuration (the profile, then
	// TEMPORAL_ADDRESS), as the Temporal CLI does.
	Address   string `yaml:"address"`
	Namespace string `yaml:"namespace"`
	// Profile and ConfigFile select Temporal's environment configuration, the temporal.toml
	// the Temporal CLI reads: empty, TEMPORAL_PROFILE (else "default") and
	// TEMPORAL_CONFIG_FILE (else the CLI's default path). Keys set here win over it.
	Profile    string `yaml:"profile"`
	ConfigFile string `yaml:"config_file"`
	// APIKey authenticates to a managed cluster such as Temporal Cloud; it turns TLS on.
	APIKey SecretRef   `yaml:"api_key"`
	TLS    TemporalTLS `yaml:"tls"`

	TaskQueue string `yaml:"task_queue"`
	// StickyCacheSize is how many incidents a worker process keeps in memory between
	// their workflow tasks (Temporal's sticky workflow cache). An incident outside it
	// is replayed from its history on its next task; a parked incident inside it costs
	// memory while it waits for a person (see the README's memory figures).
	StickyCacheSize int `yaml:"sticky_cache_size"`
	FrontendPort    int `yaml:"frontend_port"` // embedded server's frontend
	UIPort          int `yaml:"ui_port"`       // embedded Web UI; 0 = off
	// DecisionKey signs approval decisions: the API hosts sign each one and the
	// workers refuse any without the signature, so raw access to the Temporal
	// frontend cannot approve. Every API host and worker needs the same value.
	DecisionKey SecretRef `yaml:"decision_key"`
}

// HTTPConfig is the API listener.
type HTTPConfig struct {
	Listen       string `yaml:"listen"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
	// PublicURL is where Slack reaches sever from outside (its interactivity and
	// /sever URLs are under it); `sever config check --deploy --slack-manifest` checks
	// the manifest's request URLs against it. Optional: Socket Mode needs none.
	PublicURL string `yaml:"public_url"`
}

// IntakeConfig authenticates signal sources.
type IntakeConfig struct {
	Tokens              []IntakeToken `yaml:"tokens"`
	GitHubWebhookSecret SecretRef     `yaml:"github_webhook_secret"` // X-Hub-Signature-256 HMAC key
	Limits              IntakeLimits  `yaml:"limits"`
}

// IntakeLimits is admission control at intake: past a rate or quota the API answers
// 429 with Retry-After, and the incident records how many signals were shed. A rate
// or count of 0 turns that limit off.
type IntakeLimits struct {
	PerCredential RateLimit `yaml:"per_credential"` // signals about one credential (provider, type, id)
	PerToken      RateLimit `yaml:"per_token"`      // signals from one token
	Incidents     Quota     `yaml:"incidents"`      // new incidents one token may open
}

// Quota is at most Count events per sliding Window. Signals that join an open
// incident do not count against the incident quota.
type Quota struct {
	Count  int           `yaml:"count"`
	Window time.Duration `yaml:"window"`
}

// RateLimit is a token bucket: Rate signals per second on average, Burst at once.
type RateLimit struct {
	Rate  int `yaml:"rate"`
	Burst int `yaml:"burst"`
}

// IntakeToken is a bearer token accepted on /v1/signals and the adapters.
type IntakeToken struct {
	Name   string    `yaml:"name"`
	Secret SecretRef `yaml:"secret"`
	Scopes []string  `yaml:"scopes"`
}

// HasScope reports whether the token grants scope.
func (t IntakeToken) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// Operator is a person or tool allowed to use the API/CLI for incidents and approvals.
type Operator struct {
	Name      string    `yaml:"name"`
	SlackUser string    `yaml:"slack_user"` // links the operator to a Slack identity; optional
	Token     SecretRef `yaml:"token"`
	Scopes    []string  `yaml:"scopes"`
}

// HasScope reports whether the operator holds scope.
func (o Operator) HasScope(scope string) bool { return slices.Contains(o.Scopes, scope) }

// ApproversConfig names groups of Slack users that policies refer to.
type ApproversConfig struct {
	Groups map[string][]string `yaml:"groups"` // group name → Slack user ids
}

// SlackConfig is the Slack app used for approvals and notices.
type SlackConfig struct {
	BotToken          SecretRef `yaml:"bot_token"`          // xoxb-…
	SigningSecret     SecretRef `yaml:"signing_secret"`     // verifies the interactivity endpoint
	AppToken          SecretRef `yaml:"app_token"`          // xapp-… for Socket Mode; optional
	Channel           string    `yaml:"channel"`            // channel id, C…/G…/D…
	EscalationChannel string    `yaml:"escalation_channel"` // optional
	APIURL            string    `yaml:"api_url"`            // slack-go OptionAPIURL override (tests)
}

// AWSConfig is how sever reaches the enterprise's AWS accounts.
type AWSConfig struct {
	Region         string       `yaml:"region"`  // home region; empty = the SDK's default chain
	Regions        []string     `yaml:"regions"` // where evidence is read; default [region]
	EndpointURL    string       `yaml:"endpoint_url"`
	Endpoints      AWSEndpoints `yaml:"endpoints"`
	S3UsePathStyle bool         `yaml:"s3_use_path_style"` // needed by local S3 endpoints
	Accounts       []AWSAccount `yaml:"accounts"`
	EvidenceBucket string       `yaml:"evidence_bucket"`
	// EvidenceRetention is how long Object Lock keeps each evidence object.
	EvidenceRetention time.Duration `yaml:"evidence_retention"`
	// EvidenceLockMode is the Object Lock mode: COMPLIANCE (nobody can shorten it) or
	// GOVERNANCE (principals with s3:BypassGovernanceRetention can, useful for drills).
	EvidenceLockMode string `yaml:"evidence_lock_mode"`
	// MaxAttempts bounds the SDK's own retries of one read call; Temporal retries the
	// activity, and mutating calls are never retried by the SDK (they re-read first).
	MaxAttempts int `yaml:"max_attempts"`
}

// AWSEndpoints overrides the endpoint of single services (over AWSConfig.EndpointURL).
type AWSEndpoints struct {
	IAM            string `yaml:"iam"`
	STS            string `yaml:"sts"`
	SecretsManager string `yaml:"secretsmanager"`
	CloudTrail     string `yaml:"cloudtrail"`
	EC2            string `yaml:"ec2"`
	S3             string `yaml:"s3"`
	Bedrock        string `yaml:"bedrock"`
}

// AWSAccount is one account sever may act in.
type AWSAccount struct {
	ID         string    `yaml:"id"`          // 12 digits
	RoleARN    string    `yaml:"role_arn"`    // role to assume; empty = use the ambient credentials
	ExternalID SecretRef `yaml:"external_id"` // sts:ExternalId for the assume-role; optional
	Regions    []string  `yaml:"regions"`     // empty = aws.regions
}

// AccountRegions returns the regions evidence is read in for account a: its own list, else
// aws.regions, else aws.region.
func (c AWSConfig) AccountRegions(a AWSAccount) []string {
	switch {
	case len(a.Regions) > 0:
		return a.Regions
	case len(c.Regions) > 0:
		return c.Regions
	case c.Region != "":
		return []string{c.Region}
	}
	return nil
}

// ProvidersConfig holds model-provider admin credentials.
type ProvidersConfig struct {
	Anthropic AnthropicConfig `yaml:"anthropic"`
	OpenAI    OpenAIConfig    `yaml:"openai"`
}

// AnthropicConfig is the Anthropic Admin API.
type AnthropicConfig struct {
	AdminKey SecretRef `yaml:"admin_key"`
	BaseURL  string    `yaml:"base_url"` // empty = https://api.anthropic.com
}

// OpenAIConfig is the OpenAI Admin API.
type OpenAIConfig struct {
	AdminKey SecretRef `yaml:"admin_key"`
	BaseURL  string    `yaml:"base_url"` // empty = https://api.openai.com
	Project  string    `yaml:"project"`  // default project for key lookups; optional
}

// GitHubConfig is the GitHub App through which sever reads secret-scanning alerts,
// revokes the GitHub tokens they found and resolves them. The App needs the
// "Secret scanning alerts" repository permission (read and write).
type GitHubConfig struct {
	AppID          string    `yaml:"app_id"`
	InstallationID string    `yaml:"installation_id"`
	PrivateKey     SecretRef `yaml:"private_key"` // the App's PEM private key
	APIURL         string    `yaml:"api_url"`     // empty = https://api.github.com
}

// GCPConfig is how the gcp.* actions sign in to Google Cloud. Empty, they use
// Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata
// server, workload identity), as Google's own clients do.
type GCPConfig struct {
	// Credentials references the JSON of a service-account key, or of an
	// external_account (workload identity federation) or impersonated_service_account
	// configuration: the whole file is a secret, so file:/path, env:NAME or aws-sm:ARN.
	// It is resolved when an action first calls Google, not at start.
	Credentials SecretRef `yaml:"credentials"`
	// QuotaProject is the project billed for the API quota of sever's calls (IAM,
	// Cloud Logging, API Keys); empty = the credential's own project.
	QuotaProject string `yaml:"quota_project"`
}

// AzureConfig is how the azure.* actions sign in to Entra ID (Graph) and ARM. With
// all three keys set, sever signs in as that application with its client secret;
// with none, it uses DefaultAzureCredential (the AZURE_* environment, workload
// identity, a managed identity). Any one alone is refused as a half-finished setup.
type AzureConfig struct {
	TenantID     string    `yaml:"tenant_id"`     // directory (tenant) id, a GUID
	ClientID     string    `yaml:"client_id"`     // application (client) id, a GUID
	ClientSecret SecretRef `yaml:"client_secret"` // the application's client secret
}

// VaultConfig is how the vault.* actions reach HashiCorp Vault. Each key left empty
// falls back to the Vault client's own environment (VAULT_ADDR, VAULT_TOKEN,
// VAULT_NAMESPACE, VAULT_CACERT, VAULT_TLS_SERVER_NAME).
type VaultConfig struct {
	Address   string    `yaml:"address"`   // https://vault.example.com:8200
	Namespace string    `yaml:"namespace"` // Vault Enterprise namespace, such as admin/ir
	Token     SecretRef `yaml:"token"`     // sever's Vault token; read again for every action
	// CACert is the absolute path of a PEM bundle that Vault's server certificate must
	// chain to (instead of the system roots); TLSServerName is the name it must carry
	// when that differs from the address's host.
	CACert        string `yaml:"ca_cert"`
	TLSServerName string `yaml:"tls_server_name"`
}

// IsZero reports whether no vault.* key is set.
func (v VaultConfig) IsZero() bool { return v == VaultConfig{} }

// IsZero reports whether no azure.* key is set.
func (a AzureConfig) IsZero() bool { return a == AzureConfig{} }

// IsZero reports whether no gcp.* key is set.
func (g GCPConfig) IsZero() bool { return g == GCPConfig{} }

// RunbooksConfig says where runbooks and the runtime policy come from.
type RunbooksConfig struct {
	Dir    string `yaml:"dir"`    // overrides/extends the built-in runbooks; empty = built-ins only
	Policy string `yaml:"policy"` // runtime policy file; empty = built-in default policy
}

// IncidentsConfig tunes incident lifetime.
type IncidentsConfig struct {
	// Hold is how long an incident stays open after its runbook ends, to collect late signals.
	Hold time.Duration `yaml:"hold"`
}

// TokenStoreConfig locates the token store.
type TokenStoreConfig struct {
	Path string `yaml:"path"` // empty = <data_dir>/tokens.json
}

// InventoryConfig locates the credential inventory (owners, dependent secrets and services).
type InventoryConfig struct {
	Path string `yaml:"path"` // empty = no inventory: blast radius unknown, rotation needs explicit secret ids
}

// LedgerConfig configures the accountability ledger.
type LedgerConfig struct {
	SigningKey SecretRef `yaml:"signing_key"` // ed25519 private key; optional
	// AllowSignerInDataDir lets sever serve and sever worker start with the signing key
	// inside data_dir, where whoever can rewrite the ledger can also sign for it.
	AllowSignerInDataDir bool `yaml:"allow_signer_in_data_dir"`
	// TrustedSigner is the trusted ed25519 public key (64 hex digits, or the absolute path
	// of a PEM file) that ledger verify checks bundles and checkpoints against.
	TrustedSigner string `yaml:"trusted_signer"`
	// Anchors are the signed checkpoints of the ledger's heads (see ledger/README.md).
	Anchors LedgerAnchorsConfig `yaml:"anchors"`
	// S3 is the write-once copy of the ledger (package ledger/worm); off without a bucket.
	S3 LedgerS3Config `yaml:"s3"`
}

// LedgerAnchorsConfig says where the worker writes signed checkpoints besides the S3
// copy (which gets them whenever ledger.s3.bucket is set) and how often.
type LedgerAnchorsConfig struct {
	File  string `yaml:"file"`  // append-only file outside the data dir; "" = none
	Every int    `yaml:"every"` // appends between checkpoints of every incident head
}

// DefaultLedgerAnchorEvery is ledger.anchors.every's default.
const DefaultLedgerAnchorEvery = 100

// LedgerS3Config is the WORM copy of the ledger: every entry also written as one S3
// object under Object Lock, so the SQLite file is not the only copy anyone could rewrite.
type LedgerS3Config struct {
	Bucket string `yaml:"bucket"` // Object Lock enabled; empty = no S3 copy
	Prefix string `yaml:"prefix"` // key prefix, ending in "/"; "" = the bucket's root
	// Retention is how long Object Lock keeps each entry object, from its upload.
	Retention time.Duration `yaml:"retention"`
	LockMode  string        `yaml:"lock_mode"` // COMPLIANCE or GOVERNANCE
	Region    string        `yaml:"region"`    // the bucket's region; empty = aws.region
}

// Defaults and bounds of ledger.s3.
const (
	DefaultLedgerS3Prefix = "sever-ledger/"
	// DefaultLedgerS3Retention keeps the copy a year, as long as evidence.
	DefaultLedgerS3Retention = 8760 * time.Hour
	DefaultLedgerS3LockMode  = "COMPLIANCE"
	// MinLedgerS3Retention: Object Lock retains whole days.
	MinLedgerS3Retention = 24 * time.Hour
)

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug|info|warn|error
	Format string `yaml:"format"` // text|json
}

// sources records where values came from, for messages.
type sources struct {
	file  string
	lines map[string]int    // field path → line in file
	envs  map[string]string // field path → environment variable that set it
}

// Default returns the built-in defaults. Derived values (tokenstore.path, aws.regions) are left
// empty; Load fills them in, and TokenStorePath and AWSConfig.AccountRegions compute them.
func Default() *Config {
	return &Config{
		DataDir: DefaultDataDir,
		Temporal: TemporalConfig{
			Namespace:       DefaultNamespace,
			TaskQueue:       DefaultTaskQueue,
			StickyCacheSize: DefaultStickyCacheSize,
			FrontendPort:    DefaultFrontendPort,
			UIPort:          DefaultUIPort,
		},
		HTTP: HTTPConfig{Listen: DefaultListen, MaxBodyBytes: DefaultMaxBodyBytes},
		Intake: IntakeConfig{Limits: IntakeLimits{
			PerCredential: RateLimit{Rate: DefaultCredentialRate, Burst: DefaultCredentialBurst},
			PerToken:      RateLimit{Rate: DefaultTokenRate, Burst: DefaultTokenBurst},
			Incidents:     Quota{Count: DefaultIncidentsPerToken, Window: DefaultIncidentsWindow},
		}},
		AWS: AWSConfig{EvidenceRetention: DefaultEvidenceRetention, EvidenceLockMode: DefaultEvidenceLockMode,
			MaxAttempts: DefaultAWSMaxAttempts},
		Incidents: IncidentsConfig{Hold: DefaultHold},
		Ledger: LedgerConfig{Anchors: LedgerAnchorsConfig{Every: DefaultLedgerAnchorEvery}, S3: LedgerS3Config{Prefix: DefaultLedgerS3Prefix, Retention: DefaultLedgerS3Retention,
			LockMode: DefaultLedgerS3LockMode}},
		Log: LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
}

// DatabaseConfig selects PostgreSQL for the state every worker must share when sever
// runs on several hosts: the ledger (entries, heads, day heads, checkpoints' source),
// the token store and the evidence index. Empty URL: SQLite and files in data_dir.
type DatabaseConfig struct {
	// URL references the PostgreSQL connection URL (postgres://user:pass@host:5432/db),
	// which holds a password and so is a secret: env:NAME, file:/path or aws-sm:ARN.
	URL SecretRef `yaml:"url"`
	// MigrateOnStart applies pending schema migrations when serve or worker starts, as
	// `sever dev` always does; otherwise they refuse a database behind this binary and
	// `sever migrate` applies them.
	MigrateOnStart bool `yaml:"migrate_on_start"`
}

// SharedState reports whether the ledger, the token store and the evidence index live
// in PostgreSQL (database.url is set) rather than in data_dir.
func (c *Config) SharedState() bool { return !c.Database.URL.IsZero() }

// TokenStorePath returns tokenstore.path, or <data_dir>/tokens.json when it is empty.
func (c *Config) TokenStorePath() string {
	if c.TokenStore.Path != "" {
		return c.TokenStore.Path
	}
	return filepath.Join(c.DataDir, "tokens.json")
}

// Load reads the config file at path (path "" = no file), applies SEVER_* environment
// overrides and defaults, and validates the result. Unknown keys, wrong types, bad environment
// values and invalid settings are reported together as an *Error.
func Load(path string) (*Config, error) {
	if path == "" {
		return Parse("", nil)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, maxFileBytes)
	}
	return Parse(path, data)
}

// Parse is Load for file contents already in memory; name is used in messages (it may be "").
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	c.src = &sources{file: name, lines: map[string]int{}, envs: map[string]string{}}
	if len(bytes.TrimSpace(data)) > 0 {
		if probs := decodeYAML(name, data, c); len(probs) > 0 {
			return nil, &Error{Problems: probs}
		}
	}
	if probs := applyEnv(c, os.LookupEnv); len(probs) > 0 {
		return nil, &Error{Problems: probs}
	}
	c.fillDerived()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// fillDerived sets defaults that depend on other values.
func (c *Config) fillDerived() {
	if c.TokenStore.Path == "" && c.DataDir != "" {
		c.TokenStore.Path = c.TokenStorePath()
	}
	if len(c.AWS.Regions) == 0 && c.AWS.Region != "" {
		c.AWS.Regions = []string{c.AWS.Region}
	}
}

// Redacted returns the effective configuration as YAML, for `sever config check --print`. It
// holds secret references only (which are not secrets); an invalid reference is replaced by a
// placeholder.
func (c *Config) Redacted() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Warnings returns problems that do not stop sever from starting but deserve attention, checked
// now against this machine: secret files that are missing or readable by group or others,
// env: references to unset variables, and a configured inventory file that is not there. Each
// warning names the field.
func (c *Config) Warnings() []string {
	var out []string
	if p := c.Inventory.Path; p != "" {
		if st, err := os.Stat(p); err != nil {
			out = append(out, fmt.Sprintf("inventory.path: file %s cannot be read (%v)", p, errors.Unwrap(err)))
		} else if !st.Mode().IsRegular() {
			out = append(out, fmt.Sprintf("inventory.path: %s is not a regular file", p))
		}
	}
	if p := c.Vault.CACert; p != "" && filepath.IsAbs(p) {
		if _, err := os.Stat(p); err != nil {
			out = append(out, fmt.Sprintf("vault.ca_cert: file %s cannot be read (%v)", p, errors.Unwrap(err)))
		}
	}
	walkSecrets(reflectValueOf(c), "", func(path string, r SecretRef) {
		if w := r.check(); w != "" {
			out = append(out, path+": "+w)
		}
	})
	return out
}

// CloudCredentials says, one line per family, where the gcp.*, azure.* and vault.*
// actions take their credentials from: the config's section (naming its secret
// references, never a secret) or the vendor's standard chain. `sever config check`
// prints it, so an operator sees which of the two a worker will use.
func (c *Config) CloudCredentials() []string {
	gcp := "gcp: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity, the metadata server)"
	if !c.GCP.Credentials.IsZero() {
		gcp = "gcp: credentials JSON from gcp.credentials (" + c.GCP.Credentials.String() + ")"
	}
	if c.GCP.QuotaProject != "" {
		gcp += "; quota project " + c.GCP.QuotaProject
	}
	azure := "azure: DefaultAzureCredential (AZURE_* environment, workload identity, managed identity)"
	if !c.Azure.IsZero() {
		azure = "azure: application " + c.Azure.ClientID + " of tenant " + c.Azure.TenantID +
			" with the client secret from azure.client_secret (" + c.Azure.ClientSecret.String() + ")"
	}
	vault := "vault: "
	if c.Vault.Address != "" {
		vault += "address " + c.Vault.Address
	} else {
		vault += "address from VAULT_ADDR"
	}
	if !c.Vault.Token.IsZero() {
		vault += ", token from vault.token (" + c.Vault.Token.String() + ")"
	} else {
		vault += ", token from VAULT_TOKEN"
	}
	if c.Vault.Namespace != "" {
		vault += ", namespace " + c.Vault.Namespace
	}
	if c.Vault.CACert != "" {
		vault += ", CA " + c.Vault.CACert
	}
	if c.Vault.TLSServerName != "" {
		vault += ", TLS server name " + c.Vault.TLSServerName
	}
	return []string{gcp, azure, vault}
}
