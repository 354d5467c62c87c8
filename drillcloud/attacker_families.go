package drillcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Attack operations of the credential families beyond AWS and the model
// providers: what someone holding the stolen credential calls, through the
// family's twin on the drill cloud's listener.
const (
	// AttackGCPGetServiceAccount reads the key's own service account with
	// Google's IAM client and a fresh token from the stolen key file.
	AttackGCPGetServiceAccount = "gcp:serviceAccounts.get"
	// AttackGeminiListModels lists the Gemini models with a stolen Google API key.
	AttackGeminiListModels = "gemini:models.list"
	// AttackEntraToken asks Entra for a Graph token with a stolen client secret.
	AttackEntraToken = "entra:token"
	// AttackAzureOpenAIChat is a chat completion with a stolen Azure OpenAI key.
	AttackAzureOpenAIChat = "azure-openai:chat.completions"
	// AttackVaultReadSecret reads a KV secret with a stolen Vault token.
	AttackVaultReadSecret = "vault:read-secret"
	// AttackVaultCreds mints dynamic AWS credentials with a stolen Vault token,
	// leaving a lease under DefaultVaultLeasePrefix.
	AttackVaultCreds = "vault:generate-credentials"
)

// Credential types of the families, as sever's wire types name them.
const (
	FamilyGCPServiceAccountKey = "gcp_service_account_key"
	FamilyGoogleAPIKey         = "google_api_key"
	FamilyAzureAppSecret       = "azure_app_secret"
	FamilyAzureOpenAIKey       = "azure_openai_key"
	FamilyVaultToken           = "vault_token"
)

// familyCall makes one attack call; arm returns it with the stolen secret
// closed over, so the secret never leaves the attacker.
type familyCall func(ctx context.Context, op string) (outcome, string)

// familyAttack is what an attacker of one family does.
type familyAttack struct {
	ops []string
	arm func(c *Cloud, a *Attacker, id string) (familyCall, error)
}

var familyAttacks = map[string]familyAttack{
	FamilyGCPServiceAccountKey: {ops: []string{AttackGCPGetServiceAccount}, arm: armGCPKey},
	FamilyGoogleAPIKey:         {ops: []string{AttackGeminiListModels}, arm: armGoogleAPIKey},
	FamilyAzureAppSecret:       {ops: []string{AttackEntraToken}, arm: armAzureSecret},
	FamilyAzureOpenAIKey:       {ops: []string{AttackAzureOpenAIChat}, arm: armAzureOpenAIKey},
	FamilyVaultToken:           {ops: []string{AttackVaultReadSecret, AttackVaultCreds}, arm: armVaultToken},
}

// FamilyAttackOps returns the operations an attacker holding a credential of
// type typ can call, the first being the default; nil for a type that is not a
// family's.
func FamilyAttackOps(typ string) []string { return slices.Clone(familyAttacks[typ].ops) }

// StartFamilyAttacker starts an attacker holding the credential of type typ
// (FamilyGCPServiceAccountKey, …) that sever names id: a service-account key's
// or API key's resource name, "appID/keyID" of an Entra secret, an Azure OpenAI
// account's ARM id, a Vault token's accessor. It takes a copy of the secret from
// the family's twin, as the thief holds one, and calls with it at cfg.Rate until
// refused (or with KeepTrying until stopped); a refused call is a denial, a
// throttle or outage an error, as for AWS. Only Rate, Operations, KeepTrying,
// SourceIP, MaxAttempts and Endpoint of cfg apply.
func (c *Cloud) StartFamilyAttacker(ctx context.Context, typ, id string, cfg AttackerConfig) (*Attacker, error) {
	a, err := c.newFamilyAttacker(typ, id, cfg)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	a.stats.Running = true
	c.srvMu.Lock()
	c.attackers = append(c.attackers, a)
	c.srvMu.Unlock()
	go a.run(actx)
	return a, nil
}

// newFamilyAttacker is the attacker StartFamilyAttacker runs, armed with its
// copy of the secret but not yet calling.
func (c *Cloud) newFamilyAttacker(typ, id string, cfg AttackerConfig) (*Attacker, error) {
	fam, ok := familyAttacks[typ]
	if !ok {
		return nil, fmt.Errorf("start attacker: %q is not a credential family the drill cloud attacks", typ)
	}
	if len(cfg.Operations) == 0 {
		cfg.Operations = fam.ops
	}
	for _, op := range cfg.Operations {
		if !slices.Contains(fam.ops, op) {
			return nil, fmt.Errorf("start attacker: a %s serves %s, not %q", typ, strings.Join(fam.ops, ", "), op)
		}
	}
	if cfg.Rate == 0 {
		cfg.Rate = 5
	}
	if cfg.Rate < 0 || cfg.Rate > 1000 {
		return nil, fmt.Errorf("start attacker: rate %v must be within (0, 1000]", cfg.Rate)
	}
	cfg.SourceIP = strings.TrimSpace(cfg.SourceIP)
	if cfg.SourceIP == "" {
		cfg.SourceIP = defaultAttackerIP
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = c.URL()
	}
	if cfg.Endpoint == "" {
		return nil, errors.New("start attacker: drill cloud not started and no Endpoint given")
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	a := &Attacker{cfg: cfg, done: make(chan struct{}),
		http: &http.Client{Timeout: 10 * time.Second, Transport: forwardedFor{ip: cfg.SourceIP, next: http.DefaultTransport}}}
	call, err := fam.arm(c, a, id)
	if err != nil {
		return nil, fmt.Errorf("start attacker: %s %s: %w", typ, id, err)
	}
	a.call = call
	a.stats.ByOperation = map[string]OpStats{}
	return a, nil
}

// gcpOutcome classifies a GCP attacker call: a refused key or token is a denial.
func gcpOutcome(err error) (outcome, string) {
	switch {
	case err == nil:
		return outcomeSuccess, ""
	case errors.Is(err, ErrGCPRefused):
		return outcomeDenied, err.Error()
	}
	return outcomeError, err.Error()
}

func armGCPKey(c *Cloud, a *Attacker, name string) (familyCall, error) {
	g := c.GCP()
	if g == nil {
		return nil, errors.New("the drill cloud serves no GCP twin")
	}
	_, keyID, ok := strings.Cut(name, "/keys/")
	if !ok || keyID == "" {
		return nil, errors.New("not a service-account key name (projects/…/serviceAccounts/…/keys/…)")
	}
	keyFile, err := g.KeyFile(keyID, a.cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, _ string) (outcome, string) {
		return gcpOutcome(GCPAttackerCall(ctx, a.cfg.Endpoint, keyFile))
	}, nil
}

func armGoogleAPIKey(c *Cloud, a *Attacker, name string) (familyCall, error) {
	g := c.GCP()
	if g == nil {
		return nil, errors.New("the drill cloud serves no GCP twin")
	}
	uid := name[strings.LastIndexByte(name, '/')+1:]
	g.mu.Lock()
	k := g.apiKeys[uid]
	keyString := ""
	if k != nil && g.APIKeyName(uid) == name {
		keyString = k.keyString
	}
	g.mu.Unlock()
	if keyString == "" {
		return nil, errors.New("no such API key in the GCP twin")
	}
	return func(ctx context.Context, _ string) (outcome, string) {
		return gcpOutcome(GCPAPIKeyAttackerCall(a.cfg.Endpoint, keyString))
	}, nil
}

// azureOutcome classifies an Azure attacker call: Entra's or the data plane's
// refusal of the credential (400, 401, 403) is a denial; throttles and outages
// are errors.
func azureOutcome(err error) (outcome, string) {
	var ref *AzureRefusal
	switch {
	case err == nil:
		return outcomeSuccess, ""
	case errors.As(err, &ref) && (ref.Status == http.StatusBadRequest || ref.Status == http.StatusUnauthorized || ref.Status == http.StatusForbidden):
		return outcomeDenied, ref.Error()
	}
	return outcomeError, err.Error()
}

func armAzureSecret(c *Cloud, a *Attacker, id string) (familyCall, error) {
	t := c.Azure()
	if t == nil {
		return nil, errors.New("the drill cloud serves no Azure twin")
	}
	appID, keyID, ok := strings.Cut(id, "/")
	if !ok {
		return nil, errors.New("not an Entra secret id (appID/keyID)")
	}
	secret, tenant := "", t.TenantID
	t.mu.Lock()
	if app := t.apps[strings.ToLower(appID)]; app != nil {
		for _, p := range app.Passwords {
			if strings.EqualFold(p.KeyID, keyID) {
				secret = p.Secret
			}
		}
	}
	t.mu.Unlock()
	if secret == "" {
		return nil, errors.New("no such application secret in the Azure twin")
	}
	hc := AzureClient(a.cfg.Endpoint)
	return func(ctx context.Context, _ string) (outcome, string) {
		return azureOutcome(AzureAttackSecret(ctx, hc, tenant, appID, secret))
	}, nil
}

func armAzureOpenAIKey(c *Cloud, a *Attacker, id string) (familyCall, error) {
	t := c.Azure()
	if t == nil {
		return nil, errors.New("the drill cloud serves no Azure twin")
	}
	t.mu.Lock()
	acct := t.accounts[strings.ToLower(id)]
	var name, key string
	if acct != nil {
		name, key = acct.Name, acct.Key1
	}
	t.mu.Unlock()
	if acct == nil {
		return nil, errors.New("no such Azure OpenAI account in the Azure twin")
	}
	hc := AzureClient(a.cfg.Endpoint)
	return func(ctx context.Context, _ string) (outcome, string) {
		return azureOutcome(AzureAttackOpenAIKey(ctx, hc, name, key))
	}, nil
}

func armVaultToken(c *Cloud, a *Attacker, accessor string) (familyCall, error) {
	v := c.Vault()
	if v == nil {
		return nil, errors.New("the drill cloud serves no Vault twin")
	}
	token, ok := v.TokenOf(accessor)
	if !ok {
		return nil, errors.New("no live token with that accessor in the Vault twin")
	}
	return func(ctx context.Context, op string) (outcome, string) {
		path := "secret/data/app"
		if op == AttackVaultCreds {
			path = DefaultVaultLeaseMount
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.Endpoint+"/v1/"+path, nil)
		if err != nil {
			return outcomeError, "vault attacker: " + path + ": bad request"
		}
		req.Header.Set("X-Vault-Token", token)
		req.Header.Set("X-Vault-Request", "true")
		resp, err := a.http.Do(req)
		if err != nil {
			// *url.Error quotes the URL, which carries no token.
			return outcomeError, err.Error()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return outcomeSuccess, ""
		case resp.StatusCode == http.StatusForbidden:
			return outcomeDenied, "vault: 403 permission denied"
		}
		return outcomeError, fmt.Sprintf("vault: %s answered %d", path, resp.StatusCode)
	}, nil
}
