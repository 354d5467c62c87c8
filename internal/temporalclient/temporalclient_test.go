package temporalclient

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/sever-ir/sever/config"
)

// envMap is a fake environment for envconfig.
type envMap map[string]string

func (e envMap) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func (e envMap) LookupEnv(k string) (string, bool) { v, ok := e[k]; return v, ok }

const profilesTOML = `
[profile.default]
address = "default.example:7233"
namespace = "from-default"

[profile.cloud]
address = "acme.a1b2c.tmprl.cloud:7233"
namespace = "acme.a1b2c"
api_key = "profile-api-key"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "ops"
[profile.mtls.tls]
client_cert_path = "/etc/temporal/client.pem"
client_key_path = "/etc/temporal/client.key"
server_ca_cert_path = "/etc/temporal/ca.pem"
server_name = "frontend.temporal.internal"

[profile.plain]
address = "127.0.0.1:7233"
[profile.plain.tls]
disabled = true
`

// parse loads a sever.yaml so that IsSet sees which keys it sets.
func parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("sever.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	return cfg
}

func TestProfile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "temporal.toml")
	if err := os.WriteFile(file, []byte(profilesTOML), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SEVER_TEST_TEMPORAL_KEY", "config-api-key")
	t.Setenv("SEVER_TEST_TEMPORAL_CA", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	type want struct {
		address, namespace, apiKey string
		tls                        bool
		caData, caPath, serverName string
		certPath                   string
		err                        string
	}
	tests := []struct {
		name string
		yaml string
		env  envMap
		want want
	}{
		{
			name: "no file, no environment: the config alone",
			yaml: "temporal:\n  address: 10.0.0.1:7233\n  namespace: sever\n",
			env:  envMap{"TEMPORAL_CONFIG_FILE": filepath.Join(dir, "missing.toml")},
			want: want{address: "10.0.0.1:7233", namespace: "sever"},
		},
		{
			name: "default profile from TEMPORAL_CONFIG_FILE",
			yaml: "temporal:\n  config_file: \"\"\n",
			env:  envMap{"TEMPORAL_CONFIG_FILE": file},
			want: want{address: "default.example:7233", namespace: "from-default"},
		},
		{
			name: "profile chosen by TEMPORAL_PROFILE: an API key turns TLS on",
			yaml: "data_dir: x\n",
			env:  envMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"},
			want: want{address: "acme.a1b2c.tmprl.cloud:7233", namespace: "acme.a1b2c", apiKey: "profile-api-key", tls: true},
		},
		{
			name: "profile chosen in the config wins over TEMPORAL_PROFILE",
			yaml: "temporal:\n  profile: mtls\n  config_file: " + file + "\n",
			env:  envMap{"TEMPORAL_PROFILE": "cloud"},
			want: want{address: "temporal.internal:7233", namespace: "ops", tls: true, caPath: "/etc/temporal/ca.pem",
				serverName: "frontend.temporal.internal", certPath: "/etc/temporal/client.pem"},
		},
		{
			name: "TEMPORAL_* variables win over the profile",
			yaml: "temporal:\n  profile: cloud\n  config_file: " + file + "\n",
			env:  envMap{"TEMPORAL_ADDRESS": "env.example:7233", "TEMPORAL_NAMESPACE": "env-ns", "TEMPORAL_API_KEY": "env-key"},
			want: want{address: "env.example:7233", namespace: "env-ns", apiKey: "env-key", tls: true},
		},
		{
			name: "keys set in the config win over the environment and the profile",
			yaml: "temporal:\n  profile: mtls\n  config_file: " + file + "\n  address: cfg.example:7233\n  namespace: sever\n" +
				"  api_key: env:SEVER_TEST_TEMPORAL_KEY\n  tls:\n    ca: env:SEVER_TEST_TEMPORAL_CA\n    server_name: cfg.example\n",
			env: envMap{"TEMPORAL_ADDRESS": "env.example:7233", "TEMPORAL_NAMESPACE": "env-ns"},
			want: want{address: "cfg.example:7233", namespace: "sever", apiKey: "config-api-key", tls: true,
				caData: "-----BEGIN CERTIFICATE-----", serverName: "cfg.example", certPath: "/etc/temporal/client.pem"},
		},
		{
			name: "the default namespace does not override the profile's",
			yaml: "temporal:\n  profile: cloud\n  config_file: " + file + "\n",
			want: want{address: "acme.a1b2c.tmprl.cloud:7233", namespace: "acme.a1b2c", apiKey: "profile-api-key", tls: true},
		},
		{
			name: "namespace default spelled out in the config still wins",
			yaml: "temporal:\n  profile: cloud\n  config_file: " + file + "\n  namespace: default\n",
			want: want{address: "acme.a1b2c.tmprl.cloud:7233", namespace: "default", apiKey: "profile-api-key", tls: true},
		},
		{
			name: "tls.enabled in the config overrides a profile that disables TLS",
			yaml: "temporal:\n  profile: plain\n  config_file: " + file + "\n  tls:\n    enabled: true\n",
			want: want{address: "127.0.0.1:7233", namespace: "default", tls: true},
		},
		{
			name: "a profile that does not exist",
			yaml: "temporal:\n  profile: nope\n  config_file: " + file + "\n",
			want: want{err: `temporal.profile "nope"`},
		},
		{
			name: "an api_key reference to an unset variable",
			yaml: "temporal:\n  address: a:1\n  api_key: env:SEVER_TEST_TEMPORAL_UNSET\n",
			want: want{err: "temporal.api_key (env:SEVER_TEST_TEMPORAL_UNSET)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, tt.yaml)
			env := tt.env
			if env == nil {
				env = envMap{}
			}
			if _, ok := env["TEMPORAL_CONFIG_FILE"]; !ok && cfg.Temporal.ConfigFile == "" {
				env["TEMPORAL_CONFIG_FILE"] = filepath.Join(dir, "missing.toml")
			}
			prof, err := Profile(context.Background(), cfg, env)
			if tt.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want.err) || !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig containing %q", err, tt.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
			if err != nil && tt.want.caData == "" && tt.want.certPath == "" {
				t.Fatal(err)
			}
			w := tt.want
			if prof.Address != w.address || prof.Namespace != w.namespace || prof.APIKey != w.apiKey {
				t.Errorf("address %q namespace %q api key set %v; want %q %q %v", prof.Address, prof.Namespace,
					prof.APIKey != "", w.address, w.namespace, w.apiKey != "")
			}
			if prof.APIKey != w.apiKey {
				t.Errorf("api key is not the one from the expected source")
			}
			tlsOn := prof.TLS != nil && !prof.TLS.Disabled || prof.TLS == nil && prof.APIKey != ""
			if tlsOn != w.tls {
				t.Errorf("TLS on = %v, want %v", tlsOn, w.tls)
			}
			if err == nil && (opts.ConnectionOptions.TLS != nil) != w.tls {
				t.Errorf("client options TLS = %v, want on = %v", opts.ConnectionOptions.TLS != nil, w.tls)
			}
			if prof.TLS == nil {
				return
			}
			if got := string(prof.TLS.ServerCACertData); !strings.HasPrefix(got, w.caData) || (w.caData == "") != (got == "") {
				t.Errorf("CA data %q, want prefix %q", got, w.caData)
			}
			if w.caData != "" && prof.TLS.ServerCACertPath != "" {
				t.Errorf("CA path %q kept beside the config's CA data", prof.TLS.ServerCACertPath)
			}
			if w.caData == "" && prof.TLS.ServerCACertPath != w.caPath {
				t.Errorf("CA path %q, want %q", prof.TLS.ServerCACertPath, w.caPath)
			}
			if prof.TLS.ServerName != w.serverName || prof.TLS.ClientCertPath != w.certPath {
				t.Errorf("server name %q cert path %q, want %q %q", prof.TLS.ServerName, prof.TLS.ClientCertPath, w.serverName, w.certPath)
			}
		})
	}
}

// FuzzProfileTOML feeds temporal.toml text, which comes from outside sever, through
// the loader: it may refuse it, never panic.
func FuzzProfileTOML(f *testing.F) {
	f.Add([]byte(profilesTOML), "cloud")
	f.Add([]byte("[profile.default]\naddress = 1\n"), "")
	f.Add([]byte("[[profile]]\n"), "default")
	cfg := config.Default()
	cfg.Temporal.Address = "127.0.0.1:7233"
	f.Fuzz(func(t *testing.T, toml []byte, profile string) {
		dir := t.TempDir()
		file := filepath.Join(dir, "temporal.toml")
		if err := os.WriteFile(file, toml, 0o600); err != nil {
			t.Fatal(err)
		}
		c := *cfg
		c.Temporal.ConfigFile = file
		c.Temporal.Profile = profile
		prof, err := Profile(context.Background(), &c, envMap{})
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error is not ErrConfig: %v", err)
			}
			return
		}
		if prof.Address != "127.0.0.1:7233" {
			t.Fatalf("config address lost: %q", prof.Address)
		}
		_, _ = prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	})
}
