package config

import (
	"errors"
	"strings"
	"testing"
)

// TestTemporalConnectionValidation covers the managed-cluster keys of temporal: each
// mistake is named by its field, and a complete mutual TLS set passes.
func TestTemporalConnectionValidation(t *testing.T) {
	tests := []struct {
		name, yaml string
		field      string // "" = valid
	}{
		{"api key and namespace", "temporal:\n  address: a.b.tmprl.cloud:7233\n  api_key: env:TEMPORAL_CLOUD_API_KEY\n", ""},
		{"mutual TLS", "temporal:\n  tls:\n    ca: file:/etc/ca.pem\n    client_cert: file:/etc/c.pem\n    client_key: file:/etc/c.key\n    server_name: frontend.internal\n", ""},
		{"certificate without its key", "temporal:\n  tls:\n    client_cert: file:/etc/c.pem\n", "temporal.tls.client_key"},
		{"key without its certificate", "temporal:\n  tls:\n    client_key: file:/etc/c.key\n", "temporal.tls.client_cert"},
		{"server name with a port", "temporal:\n  tls:\n    server_name: frontend.internal:7233\n", "temporal.tls.server_name"},
		{"profile name that is no TOML key", "temporal:\n  profile: \"my profile\"\n", "temporal.profile"},
		{"API key written inline", "temporal:\n  api_key: tmprl_abcdef\n", "temporal.api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			_, err := Parse("sever.yaml", []byte(tt.yaml))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("want a *config.Error naming %s, got %v", tt.field, err)
			}
			for _, p := range cerr.Problems {
				if p.Field == tt.field {
					if strings.Contains(p.Message, "tmprl_abcdef") {
						t.Errorf("the message echoes the value: %s", p.Message)
					}
					return
				}
			}
			t.Errorf("no problem for %s in %v", tt.field, err)
		})
	}
}

func TestIsSet(t *testing.T) {
	cleanEnv(t)
	t.Setenv("SEVER_TEMPORAL_PROFILE", "cloud")
	c, err := Parse("sever.yaml", []byte("temporal:\n  namespace: default\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"temporal.namespace": true, "temporal.profile": true, "temporal.address": false} {
		if got := c.IsSet(path); got != want {
			t.Errorf("IsSet(%q) = %v, want %v", path, got, want)
		}
	}
	if Default().IsSet("temporal.namespace") {
		t.Error("a hand-built config reports a key as set")
	}
}
