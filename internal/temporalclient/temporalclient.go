// Package temporalclient builds the Temporal client options of `sever worker` and
// `sever serve` for an external cluster, self-hosted or managed (Temporal Cloud).
//
// It reads Temporal's environment configuration the way the Temporal CLI does (the
// SDK's contrib/envconfig: a profile of temporal.toml, then the TEMPORAL_* variables),
// so one profile serves the CLI and sever alike, and then applies the temporal.* keys
// of sever.yaml, which win: the profile, then the environment, then the config.
package temporalclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/sever-ir/sever/config"
)

// ErrConfig marks a connection setting that cannot work whatever the network does: a
// missing profile, unreadable temporal.toml, an unresolvable secret or a certificate
// that does not parse. Retrying does not help; fix the configuration.
var ErrConfig = errors.New("temporal connection config")

// Options returns the client options for cfg. env looks up the TEMPORAL_* variables
// (nil: the process environment). Secrets are resolved here, and no error carries
// their values.
func Options(ctx context.Context, cfg *config.Config, env envconfig.EnvLookup) (client.Options, error) {
	prof, err := Profile(ctx, cfg, env)
	if err != nil {
		return client.Options{}, err
	}
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return opts, nil
}

// Profile returns the merged connection profile: Temporal's environment
// configuration with cfg's temporal.* keys applied over it.
func Profile(ctx context.Context, cfg *config.Config, env envconfig.EnvLookup) (envconfig.ClientConfigProfile, error) {
	t := cfg.Temporal
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFilePath:    t.ConfigFile,
		ConfigFileProfile: t.Profile,
		EnvLookup:         env,
	})
	if err != nil {
		return prof, fmt.Errorf("%w: Temporal environment configuration (temporal.profile %q, temporal.config_file %q): %v",
			ErrConfig, t.Profile, t.ConfigFile, err)
	}
	if t.Address != "" {
		prof.Address = t.Address
	}
	// The namespace key always has a value (its default); it wins when it was set,
	// or when the profile and the environment name none.
	if prof.Namespace == "" || cfg.IsSet("temporal.namespace") || t.Namespace != config.DefaultNamespace {
		prof.Namespace = t.Namespace
	}
	if !t.APIKey.IsZero() {
		if prof.APIKey, err = resolve(ctx, "temporal.api_key", t.APIKey); err != nil {
			return prof, err
		}
	}
	if !t.TLS.On() {
		return prof, nil
	}
	if prof.TLS == nil {
		prof.TLS = &envconfig.ClientConfigTLS{}
	}
	tls := prof.TLS
	tls.Disabled = false
	if !t.TLS.CA.IsZero() {
		ca, err := resolve(ctx, "temporal.tls.ca", t.TLS.CA)
		if err != nil {
			return prof, err
		}
		tls.ServerCACertData, tls.ServerCACertPath = []byte(ca), ""
	}
	if !t.TLS.ClientCert.IsZero() || !t.TLS.ClientKey.IsZero() {
		cert, err := resolve(ctx, "temporal.tls.client_cert", t.TLS.ClientCert)
		if err != nil {
			return prof, err
		}
		key, err := resolve(ctx, "temporal.tls.client_key", t.TLS.ClientKey)
		if err != nil {
			return prof, err
		}
		tls.ClientCertData, tls.ClientCertPath = []byte(cert), ""
		tls.ClientKeyData, tls.ClientKeyPath = []byte(key), ""
	}
	if t.TLS.ServerName != "" {
		tls.ServerName = t.TLS.ServerName
	}
	return prof, nil
}

// resolve reads one secret reference; the error names the key and the reference,
// never the value.
func resolve(ctx context.Context, key string, ref config.SecretRef) (string, error) {
	if ref.IsZero() {
		return "", fmt.Errorf("%w: %s is not set", ErrConfig, key)
	}
	v, err := ref.Resolve(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %s (%s): %v", ErrConfig, key, ref, err)
	}
	if v == "" {
		return "", fmt.Errorf("%w: %s (%s) is empty", ErrConfig, key, ref)
	}
	return v, nil
}

// Dial connects with opts and, when that fails, returns an error that names the
// frontend, the namespace and how sever tried to authenticate, with a hint for the
// TLS failures whose raw message does not say which side refused: under TLS 1.3 the
// frontend rejects a client certificate after the client's handshake is done, so the
// client may only see a broken pipe.
func Dial(opts client.Options) (client.Client, error) {
	c, err := client.Dial(opts)
	if err != nil {
		return nil, DialError(opts, err)
	}
	return c, nil
}

// DialError wraps a failed dial of opts; see Dial.
func DialError(opts client.Options, err error) error {
	tlsConf := opts.ConnectionOptions.TLS
	mtls := tlsConf != nil && (len(tlsConf.Certificates) > 0 || tlsConf.GetClientCertificate != nil)
	how := "plaintext"
	switch {
	case mtls:
		how = "mutual TLS"
	case tlsConf != nil:
		how = "TLS"
	}
	if opts.Credentials != nil {
		how += " with an API key"
	}
	msg := err.Error()
	var hint string
	switch {
	case strings.Contains(msg, "unknown authority"):
		hint = "the frontend's certificate is not signed by temporal.tls.ca (or, without one, by a root this host trusts)"
	case strings.Contains(msg, "certificate is valid for"):
		hint = "set temporal.tls.server_name to a name the frontend's certificate carries"
	case mtls && (strings.Contains(msg, "tls:") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")):
		hint = "the frontend may have refused the client certificate: check that temporal.tls.client_cert is issued by a CA the frontend trusts, has not expired and matches temporal.tls.client_key"
	case tlsConf != nil && (strings.Contains(msg, "certificate required") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")):
		hint = "the frontend may require a client certificate (mutual TLS): set temporal.tls.client_cert and temporal.tls.client_key"
	case tlsConf == nil && (strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "http2")):
		hint = "the frontend may require TLS: set temporal.tls.enabled, or use a profile with TLS"
	}
	if hint != "" {
		return fmt.Errorf("dial temporal %s (namespace %q, %s): %w; %s", opts.HostPort, opts.Namespace, how, err, hint)
	}
	return fmt.Errorf("dial temporal %s (namespace %q, %s): %w", opts.HostPort, opts.Namespace, how, err)
}
