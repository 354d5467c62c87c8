package config

import (
	"os"
	"testing"
)

// FuzzLoad parses arbitrary bytes: it must never panic, and whatever loads must print (Redacted)
// to YAML that loads again to the same configuration.
func FuzzLoad(f *testing.F) {
	if data, err := os.ReadFile("sever.example.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"slack:\n  chanel: C1\n",
		"http: [1, 2]\n",
		"approvers:\n  groups:\n    a: &m [U0123]\n    b: *m\n",
		"log:\n  <<: {level: info}\n",
		"a: 1\n---\nb: 2\n",
		"incidents: {hold: 1m}\ntemporal: {ui_port: 0}\n",
		"operators:\n  - {name: a, token: env:A, scopes: [incidents:read]}\n",
		"aws:\n  accounts:\n    - id: 111122223333\n      role_arn: arn:aws:iam::111122223333:role/x\n",
		"slack: {bot_token: xoxb-1, channel: '#x'}\n",
		"&a [*a]\n",
		"? [a]\n: b\n",
		"data_dir: !!binary aGVsbG8=\n",
		"tokenstore: {path: \"~\"}\ndata_dir: \"null\"\n",
		"gcp: {credentials: file:/etc/sever/gcp.json, quota_project: acme-security}\n",
		"azure: {tenant_id: 5e7c1d2a-4b3f-4e8a-9c6d-0f1e2d3c4b5a, client_id: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0, client_secret: env:S}\n",
		"azure: {client_secret: 'Q~inline'}\n",
		"vault: {address: 'https://vault:8200', namespace: admin/ir/, token: env:VT, ca_cert: /ca.pem, tls_server_name: vault}\n",
		"vault: {namespace: [a], tls_server_name: 10.0.0.1}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		out, err := c.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		c2, err := Parse("redacted.yaml", out)
		if err != nil {
			t.Fatalf("Redacted output does not load: %v\n%s", err, out)
		}
		out2, err := c2.Redacted()
		if err != nil || string(out2) != string(out) {
			t.Fatalf("round trip differs (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}
