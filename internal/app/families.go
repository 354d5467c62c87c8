package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"google.golang.org/api/option"

	"github.com/sever-ir/sever/activities/azureact"
	"github.com/sever-ir/sever/activities/gcpact"
	"github.com/sever-ir/sever/activities/vaultact"
	"github.com/sever-ir/sever/config"
)

// cloudFamilies builds the gcp.*, azure.* and vault.* actions from the config's
// gcp:, azure: and vault: sections, the one place those sections are read. A
// section left empty gives nil, which keeps the vendor's standard chain (ADC,
// DefaultAzureCredential, VAULT_*). Secrets are resolved when an action first
// needs them, through res for aws-sm: references, so a worker whose secret
// store is briefly unreachable still starts and the step that needs it retries.
// hc, when not nil, carries every Azure request (tests point it at the drill cloud).
func cloudFamilies(cfg *config.Config, res config.SecretResolver, hc *http.Client) (*gcpact.Activities, *azureact.Activities, *vaultact.Activities, error) {
	gcp := gcpFromConfig(cfg.GCP, res)
	az := azureFromConfig(cfg.Azure, res, hc)
	vlt, err := vaultFromConfig(cfg.Vault, res)
	if err != nil {
		return nil, nil, nil, err
	}
	return gcp, az, vlt, nil
}

// gcpScope is what sever's Google calls need: IAM, Cloud Logging and API Keys all
// accept the cloud-platform scope.
const gcpScope = "https://www.googleapis.com/auth/cloud-platform"

func gcpFromConfig(g config.GCPConfig, res config.SecretResolver) *gcpact.Activities {
	if g.IsZero() {
		return nil
	}
	var opts []option.ClientOption
	if !g.Credentials.IsZero() {
		opts = append(opts, option.WithAuthCredentials(auth.NewCredentials(&auth.CredentialsOptions{
			TokenProvider: &gcpTokenProvider{ref: g.Credentials, res: res}})))
	}
	if g.QuotaProject != "" {
		opts = append(opts, option.WithQuotaProject(g.QuotaProject))
	}
	return &gcpact.Activities{Options: opts}
}

// gcpCredTypes are the credential files sever may act with: a service account's
// key, or federation and impersonation that end in one. A person's
// authorized_user credentials are refused: the ledger's actor would be a person
// who never acted.
var gcpCredTypes = map[string]credentials.CredType{
	string(credentials.ServiceAccount):             credentials.ServiceAccount,
	string(credentials.ExternalAccount):            credentials.ExternalAccount,
	string(credentials.ImpersonatedServiceAccount): credentials.ImpersonatedServiceAccount,
}

// gcpTokenProvider resolves gcp.credentials on the first token request and keeps
// the credentials it builds (which cache and refresh their own tokens). A failed
// resolution is not kept, so the next attempt of the step tries again.
type gcpTokenProvider struct {
	ref config.SecretRef
	res config.SecretResolver

	creds untilResolved[*auth.Credentials]
}

// Token implements auth.TokenProvider.
func (p *gcpTokenProvider) Token(ctx context.Context) (*auth.Token, error) {
	creds, err := p.credentials(ctx)
	if err != nil {
		return nil, err
	}
	return creds.Token(ctx)
}

func (p *gcpTokenProvider) credentials(ctx context.Context) (*auth.Credentials, error) {
	return p.creds.get(func() (*auth.Credentials, error) { return p.resolve(ctx) })
}

func (p *gcpTokenProvider) resolve(ctx context.Context) (*auth.Credentials, error) {
	js, err := p.ref.Resolve(ctx, p.res)
	if err != nil {
		return nil, fmt.Errorf("gcp.credentials: %w", err)
	}
	// Only the type is read here; the parse error of encoding/json names an offset,
	// never the content.
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(js), &head); err != nil {
		return nil, fmt.Errorf("gcp.credentials (%s): not a credentials JSON file: %w", p.ref, err)
	}
	typ, ok := gcpCredTypes[head.Type]
	if !ok {
		return nil, fmt.Errorf("gcp.credentials (%s): credentials of type %q are not accepted (want service_account, external_account or impersonated_service_account)", p.ref, head.Type)
	}
	creds, err := credentials.NewCredentialsFromJSON(typ, []byte(js), &credentials.DetectOptions{Scopes: []string{gcpScope}})
	if err != nil {
		return nil, fmt.Errorf("gcp.credentials (%s): %w", p.ref, err)
	}
	return creds, nil
}

func azureFromConfig(a config.AzureConfig, res config.SecretResolver, hc *http.Client) *azureact.Activities {
	if a.IsZero() {
		return nil
	}
	return &azureact.Activities{HTTP: hc, Credential: &azureSecretCredential{tenant: a.TenantID, client: a.ClientID,
		secret: a.ClientSecret, res: res, hc: hc}}
}

// azureSecretCredential signs in as the application of azure.client_id with the
// secret azure.client_secret references, resolved on the first token request.
type azureSecretCredential struct {
	tenant, client string
	secret         config.SecretRef
	res            config.SecretResolver
	hc             *http.Client

	cred untilResolved[azcore.TokenCredential]
}

// GetToken implements azcore.TokenCredential.
func (c *azureSecretCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	cred, err := c.credential(ctx)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return cred.GetToken(ctx, opts)
}

func (c *azureSecretCredential) credential(ctx context.Context) (azcore.TokenCredential, error) {
	return c.cred.get(func() (azcore.TokenCredential, error) { return c.resolve(ctx) })
}

func (c *azureSecretCredential) resolve(ctx context.Context) (azcore.TokenCredential, error) {
	secret, err := c.secret.Resolve(ctx, c.res)
	if err != nil {
		return nil, fmt.Errorf("azure.client_secret: %w", err)
	}
	cred, err := azureact.SecretCredential(c.tenant, c.client, secret, c.hc)
	if err != nil {
		return nil, fmt.Errorf("azure.client_secret: %w", err)
	}
	return cred, nil
}

// untilResolved keeps the first value a resolver returns without error. Unlike
// sync.OnceValues it tries again after an error: a secret file written after
// sever started, or a secrets manager that was briefly unreachable, must not
// leave a family unable to act until restart.
type untilResolved[T any] struct {
	mu   sync.Mutex
	v    T
	done bool
}

func (u *untilResolved[T]) get(resolve func() (T, error)) (T, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return u.v, nil
	}
	v, err := resolve()
	if err != nil {
		return v, err
	}
	u.v, u.done = v, true
	return v, nil
}

func vaultFromConfig(v config.VaultConfig, res config.SecretResolver) (*vaultact.Activities, error) {
	if v.IsZero() {
		return nil, nil
	}
	a := &vaultact.Activities{Address: v.Address}
	if ref := v.Token; !ref.IsZero() {
		// Read again for every action, so a token renewed in its file or secret is
		// picked up without a restart.
		a.Token = func(ctx context.Context) (string, error) {
			tok, err := ref.Resolve(ctx, res)
			if err != nil {
				return "", fmt.Errorf("vault.token: %w", err)
			}
			return tok, nil
		}
	}
	if v.CACert == "" && v.TLSServerName == "" && v.Namespace == "" {
		return a, nil
	}
	hc, err := vaultHTTPClient(v)
	if err != nil {
		return nil, err
	}
	a.HTTP = hc
	return a, nil
}

// vaultHTTPClient builds the client of the Vault calls for vault.ca_cert,
// vault.tls_server_name and vault.namespace. It replaces the Vault client's own,
// so the VAULT_CACERT family of variables no longer applies.
func vaultHTTPClient(v config.VaultConfig) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: v.TLSServerName}
	if v.CACert != "" {
		pem, err := os.ReadFile(v.CACert)
		if err != nil {
			return nil, fmt.Errorf("vault.ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("vault.ca_cert: %s holds no PEM certificate", v.CACert)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	var rt http.RoundTripper = tr
	if v.Namespace != "" {
		rt = vaultNamespace{ns: v.Namespace, next: tr}
	}
	return &http.Client{Transport: rt, Timeout: 30 * time.Second,
		// As the Vault client's own: every request carries the token, and Vault's
		// redirects (to a leader) are followed by the client itself, not blindly.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// vaultNamespace sends every request in a Vault Enterprise namespace. It sits in
// the transport because vaultact builds its client per action from an address, a
// token and an *http.Client.
type vaultNamespace struct {
	ns   string
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (n vaultNamespace) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Vault-Namespace", n.ns)
	return n.next.RoundTrip(r)
}
