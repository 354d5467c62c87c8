package config

import (
	"strings"
	"testing"
)

// The gcp:, azure: and vault: sections: valid sets load, and every bad value is
// reported naming its field without echoing a secret pasted in place of a reference.
func TestValidateCloudFamilies(t *testing.T) {
	cleanEnv(t)
	const (
		tenant = "5e7c1d2a-4b3f-4e8a-9c6d-0f1e2d3c4b5a"
		client = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
		pasted = "Q~pasted.client.secret.value"
	)
	for _, tc := range []struct {
		name, yaml string
		want       []string // fields the error must name; none = valid
	}{
		{name: "all unset"},
		{name: "gcp complete", yaml: "gcp:\n  credentials: file:/etc/sever/gcp-sa.json\n  quota_project: acme-security\n"},
		{name: "gcp aws-sm", yaml: "gcp:\n  credentials: aws-sm:arn:aws:secretsmanager:us-east-1:111122223333:secret:sever/gcp\n"},
		{name: "gcp inline json", yaml: "gcp:\n  credentials: '{\"type\": \"service_account\", \"private_key\": \"" + pasted + "\"}'\n", want: []string{"gcp.credentials"}},
		{name: "gcp relative file", yaml: "gcp:\n  credentials: file:gcp.json\n", want: []string{"gcp.credentials"}},
		{name: "gcp quota project", yaml: "gcp:\n  quota_project: Acme_Security\n", want: []string{"gcp.quota_project"}},
		{name: "azure complete", yaml: "azure:\n  tenant_id: " + tenant + "\n  client_id: " + client + "\n  client_secret: env:AZURE_SEVER_SECRET\n"},
		{name: "azure secret only", yaml: "azure:\n  client_secret: env:S\n", want: []string{"azure.tenant_id", "azure.client_id"}},
		{name: "azure ids only", yaml: "azure:\n  tenant_id: " + tenant + "\n  client_id: " + client + "\n", want: []string{"azure.client_secret"}},
		{name: "azure tenant name", yaml: "azure:\n  tenant_id: contoso.onmicrosoft.com\n  client_id: " + client + "\n  client_secret: env:S\n", want: []string{"azure.tenant_id"}},
		{name: "azure inline secret", yaml: "azure:\n  tenant_id: " + tenant + "\n  client_id: " + client + "\n  client_secret: " + pasted + "\n", want: []string{"azure.client_secret"}},
		{name: "vault complete", yaml: "vault:\n  address: https://vault.example.com:8200\n  namespace: admin/ir\n  token: file:/etc/sever/vault-token\n  ca_cert: /etc/sever/vault-ca.pem\n  tls_server_name: vault.internal\n"},
		{name: "vault token only", yaml: "vault:\n  token: env:SEVER_VAULT_TOKEN_REF\n"},
		{name: "vault address", yaml: "vault:\n  address: vault:8200\n", want: []string{"vault.address"}},
		{name: "vault address creds", yaml: "vault:\n  address: https://u:p@vault:8200\n", want: []string{"vault.address"}},
		{name: "vault namespace", yaml: "vault:\n  namespace: /admin//ir\n", want: []string{"vault.namespace"}},
		{name: "vault ca relative", yaml: "vault:\n  ca_cert: vault-ca.pem\n", want: []string{"vault.ca_cert"}},
		{name: "vault server name", yaml: "vault:\n  tls_server_name: 'vault internal'\n", want: []string{"vault.tls_server_name"}},
		{name: "vault tls over http", yaml: "vault:\n  address: http://vault:8200\n  ca_cert: /etc/ca.pem\n", want: []string{"vault.address"}},
		{name: "vault inline token", yaml: "vault:\n  token: hvs." + pasted + "\n", want: []string{"vault.token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("sever.yaml", []byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Parse = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse = nil, want an error naming %v", tc.want)
			}
			for _, f := range tc.want {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			if strings.Contains(err.Error(), pasted) {
				t.Errorf("error %q echoes the pasted secret", err)
			}
		})
	}
}

// Environment overrides reach the new sections like every other key.
func TestCloudFamiliesFromEnv(t *testing.T) {
	cleanEnv(t)
	t.Setenv("SEVER_VAULT_ADDRESS", "https://vault.example.com:8200")
	t.Setenv("SEVER_VAULT_TOKEN", "file:/etc/sever/vault-token")
	t.Setenv("SEVER_AZURE_CLIENT_SECRET", "env:AZURE_SEVER_SECRET")
	t.Setenv("SEVER_GCP_QUOTA_PROJECT", "acme-security")
	c, err := Parse("sever.yaml", []byte("azure:\n  tenant_id: 5e7c1d2a-4b3f-4e8a-9c6d-0f1e2d3c4b5a\n  client_id: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Vault.Address != "https://vault.example.com:8200" || c.Vault.Token != "file:/etc/sever/vault-token" ||
		c.Azure.ClientSecret != "env:AZURE_SEVER_SECRET" || c.GCP.QuotaProject != "acme-security" {
		t.Fatalf("env overrides not applied: gcp %+v azure %+v vault %+v", c.GCP, c.Azure, c.Vault)
	}
	lines := strings.Join(c.CloudCredentials(), "\n")
	for _, want := range []string{"gcp: Application Default Credentials", "quota project acme-security",
		"azure: application 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "env:AZURE_SEVER_SECRET",
		"vault: address https://vault.example.com:8200, token from vault.token (file:/etc/sever/vault-token)"} {
		if !strings.Contains(lines, want) {
			t.Errorf("CloudCredentials lacks %q:\n%s", want, lines)
		}
	}
}

// A vault.ca_cert that is not on this machine is a warning naming the field.
func TestVaultCACertWarning(t *testing.T) {
	cleanEnv(t)
	c, err := Parse("sever.yaml", []byte("vault:\n  ca_cert: /nonexistent/sever-vault-ca.pem\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "vault.ca_cert") {
		t.Fatalf("warnings %q do not name vault.ca_cert", w)
	}
}
