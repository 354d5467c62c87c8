package config

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckScaleOut(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string
		env    map[string]string
		refuse bool
	}{
		{"embedded Temporal, local state", "data_dir: /var/lib/sever\n", nil, false},
		{"shared cluster, local state", "temporal:\n  address: temporal.internal:7233\n", nil, true},
		{"shared cluster set by the environment", "", map[string]string{"SEVER_TEMPORAL_ADDRESS": "temporal.internal:7233"}, true},
		{"shared cluster, PostgreSQL", "temporal:\n  address: temporal.internal:7233\ndatabase:\n  url: env:SEVER_DATABASE_URL\n", nil, false},
		{"shared cluster, PostgreSQL from the environment", "temporal:\n  address: temporal.internal:7233\n",
			map[string]string{"SEVER_DATABASE_URL": "env:SEVER_DATABASE_URL"}, false},
		{"shared cluster, one host", "temporal:\n  address: 127.0.0.1:7233\nsingle_host: true\n", nil, false},
		{"shared cluster, one host from the environment", "temporal:\n  address: 127.0.0.1:7233\n",
			map[string]string{"SEVER_SINGLE_HOST": "true"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Parse("sever.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckScaleOut()
			if !tc.refuse {
				if err != nil {
					t.Fatalf("CheckScaleOut = %v; want nil", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Field != "database.url" {
				t.Fatalf("CheckScaleOut = %v; want one problem with database.url", err)
			}
			for _, want := range []string{"temporal.internal:7233", "single_host: true", "sever migrate", "env:SEVER_DATABASE_URL", "data_dir"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q: %v", want, err)
				}
			}
		})
	}
}

// The URL itself, with its password, is not a reference: the config refuses it and
// never repeats it, whether in the file or in SEVER_DATABASE_URL.
func TestDatabaseURLMustBeAReference(t *testing.T) {
	const url = "postgres://sever:s3cr3t-pw@db.internal:5432/sever"
	for name, load := range map[string]func(t *testing.T) error{
		"file": func(t *testing.T) error {
			_, err := Parse("sever.yaml", []byte("database:\n  url: "+url+"\n"))
			return err
		},
		"environment": func(t *testing.T) error {
			t.Setenv("SEVER_DATABASE_URL", url)
			_, err := Parse("sever.yaml", nil)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := load(t)
			if err == nil || !strings.Contains(err.Error(), "database.url") || strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("err = %v; want database.url refused, the value not repeated", err)
			}
		})
	}
}

// A secret key that the file points at its own override variable
// (database.url: env:SEVER_DATABASE_URL) reads the secret from it; the variable does
// not override the key with the URL.
func TestSecretReferencingItsOwnOverrideVariable(t *testing.T) {
	t.Setenv("SEVER_DATABASE_URL", "postgres://sever:s3cr3t-pw@db.internal:5432/sever")
	c, err := Parse("sever.yaml", []byte("database:\n  url: env:SEVER_DATABASE_URL\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.URL != "env:SEVER_DATABASE_URL" {
		t.Fatalf("database.url = %s; want the reference kept", c.Database.URL)
	}
	if got, err := c.Database.URL.Resolve(t.Context(), nil); err != nil || !strings.HasPrefix(got, "postgres://") {
		t.Fatalf("Resolve = %v; want the URL", err)
	}
}
