package app

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/api/option"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/vaultact"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/drillcloud/drilltest"
)

// startCloud starts a drill cloud for one test.
func startCloud(t *testing.T) *drillcloud.Cloud {
	t.Helper()
	return drilltest.Start(t, drillcloud.DefaultSeed())
}

// parseConfig loads yaml with no SEVER_* overrides from the test's environment.
func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("sever.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runVault runs one vault.* action on a through Temporal's activity test environment.
func runVault(t *testing.T, a *vaultact.Activities, action, accessor string) (sever.ActionResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a.Register(env)
	in := sever.ActionInput{Action: action, IncidentID: "inc-1", StepID: "s1",
		Credential: sever.Credential{Provider: "vault", Type: sever.CredVaultToken, ID: accessor}}
	v, err := env.ExecuteActivity(action, in)
	var res sever.ActionResult
	if err == nil {
		err = v.Get(&res)
	}
	return res, err
}

// The vault: section's address and token reach Vault's own client: the action
// reads the twin's token with the responder token the section references, and a
// wrong token is refused without the token in the error.
func TestVaultFromConfig(t *testing.T) {
	cloud := startCloud(t)
	twin, responder := drillcloud.NewVaultTwin("")
	cloud.ServeVault(twin)
	twin.AddToken(drillcloud.TokenSpec{Accessor: drillcloud.DefaultVaultAccessor, DisplayName: "ci-deployer"})
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_TOKEN", "")
	for _, tc := range []struct {
		name, token, wantErr string
	}{
		{name: "responder token", token: responder},
		{name: "wrong token", token: "hvs.notTheResponderTokenAtAll", wantErr: "AccessDenied"},
		{name: "unset reference", wantErr: "vault.token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SEVER_TEST_VAULT_TOKEN", tc.token)
			cfg := parseConfig(t, "vault:\n  address: "+cloud.URL()+"\n  token: env:SEVER_TEST_VAULT_TOKEN\n")
			_, _, a, err := cloudFamilies(cfg, nil, nil)
			if err != nil || a == nil {
				t.Fatalf("cloudFamilies = %v, %v", a, err)
			}
			res, err := runVault(t, a, sever.ActionVaultLookupAccessor, drillcloud.DefaultVaultAccessor)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("lookup with the section's token: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("lookup = %+v, %v; want an error naming %s", res, err, tc.wantErr)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatalf("error %q holds the token", err)
			}
		})
	}
}

// vault.namespace, vault.ca_cert and vault.tls_server_name shape every request:
// the server's certificate is trusted only through the configured CA under the
// configured name, and each request carries the namespace.
func TestVaultTLSAndNamespaceFromConfig(t *testing.T) {
	var mu sync.Mutex
	var namespaces []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		namespaces = append(namespaces, r.Header.Get("X-Vault-Namespace"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "vault-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "hvs.sectionTokenNeverPrinted"
	t.Setenv("SEVER_TEST_VAULT_TOKEN", token)
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_CACERT", "")
	for _, tc := range []struct {
		name, extra, wantErr string
		wantNamespace        bool
	}{
		// Vault answered (403): TLS passed with the CA and the name in the certificate.
		{name: "ca and name", extra: "  ca_cert: " + ca + "\n  tls_server_name: example.com\n  namespace: admin/ir\n",
			wantErr: "AccessDenied", wantNamespace: true},
		{name: "system roots", extra: "  namespace: admin/ir\n", wantErr: "certificate"},
		{name: "name not in certificate", extra: "  ca_cert: " + ca + "\n  tls_server_name: vault.other.test\n", wantErr: "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			namespaces = nil
			mu.Unlock()
			cfg := parseConfig(t, "vault:\n  address: "+srv.URL+"\n  token: env:SEVER_TEST_VAULT_TOKEN\n"+tc.extra)
			_, _, a, err := cloudFamilies(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = runVault(t, a, sever.ActionVaultLookupAccessor, drillcloud.DefaultVaultAccessor)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("lookup err = %v, want one naming %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("error %q holds the token", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantNamespace && (len(namespaces) == 0 || namespaces[0] != "admin/ir") {
				t.Errorf("namespaces sent = %q, want admin/ir", namespaces)
			}
		})
	}
	if _, err := vaultFromConfig(config.VaultConfig{CACert: filepath.Join(t.TempDir(), "missing.pem")}, nil); err == nil ||
		!strings.Contains(err.Error(), "vault.ca_cert") {
		t.Errorf("missing CA file: err = %v, want one naming vault.ca_cert", err)
	}
}

// The azure: section signs in as its application with the secret it
// references, resolved on first use; a wrong secret is refused without itself in
// the error.
func TestAzureFromConfig(t *testing.T) {
	cloud := startCloud(t)
	twin := drillcloud.NewAzureTwin()
	app := twin.AddApp("sever", true)
	_, secret, err := twin.AddSecret(app, "sever")
	if err != nil {
		t.Fatal(err)
	}
	cloud.ServeAzure(twin)
	hc := drillcloud.AzureClient(cloud.URL())
	for _, tc := range []struct {
		name, secret string
		ok           bool
	}{
		{name: "right secret", secret: secret, ok: true},
		{name: "wrong secret", secret: "abc8Q~wrongSecretWrongSecretWrongSecret12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SEVER_TEST_AZURE_SECRET", tc.secret)
			cfg := parseConfig(t, "azure:\n  tenant_id: "+twin.TenantID+"\n  client_id: "+app+"\n  client_secret: env:SEVER_TEST_AZURE_SECRET\n")
			_, a, _, err := cloudFamilies(cfg, nil, hc)
			if err != nil || a == nil || a.Credential == nil {
				t.Fatalf("cloudFamilies = %+v, %v", a, err)
			}
			tok, err := a.Credential.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
			if tc.ok != (err == nil) || (tc.ok && tok.Token == "") {
				t.Fatalf("GetToken = %v; want ok %v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("error %q holds the secret", err)
			}
		})
	}
}

// The gcp: section's credentials JSON, resolved on first use, gets tokens from
// its token_uri; credentials of a kind sever must not act with are refused
// naming the field.
func TestGCPFromConfig(t *testing.T) {
	cloud := startCloud(t)
	twin := drillcloud.NewGCPTwin(drillcloud.DefaultGCPProject)
	id, err := twin.NewKey(twin.ResponderEmail())
	if err != nil {
		t.Fatal(err)
	}
	file, err := twin.KeyFile(id, cloud.URL())
	if err != nil {
		t.Fatal(err)
	}
	victim, err := twin.NewKey(twin.WorkloadEmail())
	if err != nil {
		t.Fatal(err)
	}
	cloud.ServeGCP(twin)
	dir := t.TempDir()
	keyPath, userPath := filepath.Join(dir, "sa.json"), filepath.Join(dir, "user.json")
	if err := os.WriteFile(keyPath, file, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(userPath, []byte(`{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, wantErr string
	}{
		{name: "service account key", path: keyPath},
		{name: "a person's credentials", path: userPath, wantErr: "authorized_user"},
		{name: "missing file", path: filepath.Join(dir, "none.json"), wantErr: "gcp.credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseConfig(t, "gcp:\n  credentials: file:"+tc.path+"\n  quota_project: acme-security\n")
			g, _, _, err := cloudFamilies(cfg, nil, nil)
			if err != nil || g == nil || len(g.Options) != 2 {
				t.Fatalf("cloudFamilies = %+v, %v; want credentials and quota project options", g, err)
			}
			// Google's own client, built from the section's options, reads a key
			// from the twin: the credentials JSON signed sever in at its token_uri.
			g.Options = append(g.Options, option.WithEndpoint(cloud.URL()+"/"))
			in := sever.ActionInput{IncidentID: "inc-1", Action: sever.ActionGCPKeyStatus,
				Credential: sever.Credential{Provider: "gcp", Type: sever.CredGCPServiceAccountKey, ID: twin.KeyName(victim)},
				Args:       sever.Values{"expect": "enabled"}}
			res, err := g.KeyStatus(context.Background(), in)
			if tc.wantErr == "" {
				if err != nil || !res.Verified {
					t.Fatalf("KeyStatus = %+v, %v; want the key read with the section's credentials", res, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "gcp.credentials") {
				t.Fatalf("KeyStatus err = %v, want one naming gcp.credentials and %s", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "refresh_token") || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("error %q holds credential content", err)
			}
		})
	}
	// No section: the standard chains, as before.
	if g, az, v, err := cloudFamilies(parseConfig(t, ""), nil, nil); g != nil || az != nil || v != nil || err != nil {
		t.Fatalf("empty sections = %v %v %v %v; want nil (the standard chains)", g, az, v, err)
	}
}
