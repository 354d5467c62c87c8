package config

import (
	"net"
	"regexp"
	"strings"
)

// TemporalTLS secures the connection to an external Temporal frontend: TLS with the
// system's roots or a private CA, and mutual TLS with a client certificate. Each
// certificate and key is a secret reference to PEM text, so none lands in sever.yaml.
type TemporalTLS struct {
	// Enabled turns TLS on with the system's roots. Any other key below, or
	// temporal.api_key, turns it on as well.
	Enabled bool `yaml:"enabled"`
	// CA is the PEM of the CA that signed the frontend's certificate; empty: the
	// system's roots.
	CA SecretRef `yaml:"ca"`
	// ClientCert and ClientKey are the PEM certificate and key sever presents for
	// mutual TLS; both or neither.
	ClientCert SecretRef `yaml:"client_cert"`
	ClientKey  SecretRef `yaml:"client_key"`
	// ServerName is the name the frontend's certificate must carry when it differs
	// from the host in temporal.address (SNI and verification).
	ServerName string `yaml:"server_name"`
}

// On reports whether these settings ask for TLS.
func (t TemporalTLS) On() bool {
	return t.Enabled || !t.CA.IsZero() || !t.ClientCert.IsZero() || !t.ClientKey.IsZero() || t.ServerName != ""
}

// IsSet reports whether the file or an environment variable set the key at path (a
// dotted yaml path such as "temporal.namespace"), as opposed to it holding its
// default. A Config built by hand has no record and reports false.
func (c *Config) IsSet(path string) bool {
	if c.src == nil {
		return false
	}
	_, inFile := c.src.lines[path]
	_, inEnv := c.src.envs[path]
	return inFile || inEnv
}

// profileRE is a profile name of temporal.toml: a TOML bare key.
var profileRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// temporalConnection checks the managed-cluster keys of temporal.
func (v *validator) temporalConnection(t TemporalConfig) {
	if t.Profile != "" && !profileRE.MatchString(t.Profile) {
		v.add("temporal.profile", "a profile name is letters, digits, _ and - (at most 64)")
	}
	if strings.TrimSpace(t.ConfigFile) != t.ConfigFile {
		v.add("temporal.config_file", "must not start or end with spaces")
	}
	if t.TLS.ClientCert.IsZero() != t.TLS.ClientKey.IsZero() {
		field := "temporal.tls.client_key"
		if t.TLS.ClientCert.IsZero() {
			field = "temporal.tls.client_cert"
		}
		v.add(field, "mutual TLS needs both temporal.tls.client_cert and temporal.tls.client_key")
	}
	if n := t.TLS.ServerName; n != "" {
		if _, _, err := net.SplitHostPort(n); err == nil || strings.ContainsAny(n, " /:") || len(n) > 253 {
			v.add("temporal.tls.server_name", "must be a host name without a port")
		}
	}
}
