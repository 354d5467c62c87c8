package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// SecretRef is a reference to a secret, never the secret itself. The accepted forms are
//
//	env:NAME                                   an environment variable
//	file:/absolute/path                        a file (trailing newlines are trimmed)
//	aws-sm:arn:aws:secretsmanager:…:secret:…   an AWS Secrets Manager secret
//	aws-sm:arn:…#jsonkey                       one string field of a JSON secret
//
// or the empty string (not configured). Anything else is an inline value, which the config
// rejects. String, GoString, MarshalText and LogValue print the reference only; for a value
// that is not a valid reference they print a placeholder, so a secret pasted into the config by
// mistake is never printed back.
type SecretRef string

// Reference schemes.
const (
	SchemeEnv   = "env"
	SchemeFile  = "file"
	SchemeAWSSM = "aws-sm"
)

// SecretResolver fetches secrets that live outside the process. The AWS wiring implements it;
// jsonKey is empty when the whole secret string is wanted (see SecretJSONField otherwise).
type SecretResolver interface {
	AWSSecret(ctx context.Context, arn, jsonKey string) (string, error)
}

// ErrNoSecret is returned by Resolve for an empty reference.
var ErrNoSecret = errors.New("secret reference is empty")

// redactedPlaceholder replaces an invalid reference (possibly a pasted secret) when printed.
const redactedPlaceholder = "<redacted: not a secret reference>"

// maxSecretFileBytes bounds what Resolve reads from a file: reference.
const maxSecretFileBytes = 1 << 20

var (
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	smARNRE    = regexp.MustCompile(`^arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	errInline  = errors.New("secrets must be references (env:NAME, file:/path or aws-sm:arn:…), not inline values")
	errEnvName = errors.New("env: reference needs a variable name, e.g. env:SLACK_BOT_TOKEN")
	errFileAbs = errors.New("file: reference needs an absolute path, e.g. file:/etc/sever/slack-token")
	errSMARN   = errors.New("aws-sm: reference needs a Secrets Manager ARN, e.g. aws-sm:arn:aws:secretsmanager:us-east-1:111122223333:secret:sever/slack")
	errSMKey   = errors.New("aws-sm: reference has an empty #jsonkey")
)

// ref is a parsed reference.
type ref struct {
	scheme  string // "", env, file or aws-sm
	target  string // variable name, path or ARN
	jsonKey string // aws-sm only
}

// parse splits the reference. Its errors never contain the value.
func (r SecretRef) parse() (ref, error) {
	s := string(r)
	if s == "" {
		return ref{}, nil
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return ref{}, errInline
	}
	switch scheme {
	case SchemeEnv:
		if !envNameRE.MatchString(rest) {
			return ref{}, errEnvName
		}
		return ref{scheme: SchemeEnv, target: rest}, nil
	case SchemeFile:
		if !filepath.IsAbs(rest) || strings.ContainsRune(rest, 0) {
			return ref{}, errFileAbs
		}
		return ref{scheme: SchemeFile, target: rest}, nil
	case SchemeAWSSM:
		arn, key, hasKey := strings.Cut(rest, "#")
		if !smARNRE.MatchString(arn) {
			return ref{}, errSMARN
		}
		if hasKey && key == "" {
			return ref{}, errSMKey
		}
		return ref{scheme: SchemeAWSSM, target: arn, jsonKey: key}, nil
	}
	return ref{}, errInline
}

// IsZero reports whether the reference is empty (the secret is not configured).
func (r SecretRef) IsZero() bool { return r == "" }

// Validate reports whether r is empty or a well-formed reference. The error never contains r.
func (r SecretRef) Validate() error {
	_, err := r.parse()
	return err
}

// Scheme returns "env", "file", "aws-sm", or "" for an empty or invalid reference.
func (r SecretRef) Scheme() string {
	p, err := r.parse()
	if err != nil {
		return ""
	}
	return p.scheme
}

// String returns the reference (never the secret it points to); an invalid reference, which may
// be a pasted secret, is replaced by a placeholder.
func (r SecretRef) String() string {
	if r.Validate() != nil {
		return redactedPlaceholder
	}
	return string(r)
}

// GoString is String, so %#v does not print a pasted secret either.
func (r SecretRef) GoString() string { return fmt.Sprintf("config.SecretRef(%q)", r.String()) }

// MarshalText returns String, for encoding/json, YAML and the like.
func (r SecretRef) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// LogValue makes log/slog print String.
func (r SecretRef) LogValue() slog.Value { return slog.StringValue(r.String()) }

// Resolve fetches the secret. res may be nil, in which case aws-sm references fail. Errors name
// the variable, path or ARN, never the secret.
func (r SecretRef) Resolve(ctx context.Context, res SecretResolver) (string, error) {
	p, err := r.parse()
	if err != nil {
		return "", err
	}
	switch p.scheme {
	case "":
		return "", ErrNoSecret
	case SchemeEnv:
		v, ok := os.LookupEnv(p.target)
		if !ok {
			return "", fmt.Errorf("secret env:%s: environment variable %s is not set", p.target, p.target)
		}
		if v == "" {
			return "", fmt.Errorf("secret env:%s: environment variable %s is empty", p.target, p.target)
		}
		return v, nil
	case SchemeFile:
		return readSecretFile(p.target)
	case SchemeAWSSM:
		if res == nil {
			return "", fmt.Errorf("secret aws-sm:%s: no AWS Secrets Manager resolver is configured", p.target)
		}
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("secret aws-sm:%s: %w", p.target, err)
		}
		v, err := res.AWSSecret(ctx, p.target, p.jsonKey)
		if err != nil {
			return "", fmt.Errorf("secret aws-sm:%s: %w", p.target, err)
		}
		if v == "" {
			return "", fmt.Errorf("secret aws-sm:%s: secret is empty", p.target)
		}
		return v, nil
	}
	return "", errInline // unreachable: parse knows no other scheme
}

func readSecretFile(path string) (string, error) {
	fail := func(err error) (string, error) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named below; don't repeat it
		}
		return "", fmt.Errorf("secret file %s: %w", path, err)
	}
	// Stat before opening: opening a FIFO would block until a writer appears.
	if st, err := os.Stat(path); err != nil {
		return fail(err)
	} else if !st.Mode().IsRegular() {
		return fail(errors.New("not a regular file"))
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return fail(err)
	} else if !st.Mode().IsRegular() {
		return fail(errors.New("not a regular file"))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return fail(err)
	}
	if len(b) > maxSecretFileBytes {
		return fail(fmt.Errorf("larger than %d bytes", maxSecretFileBytes))
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return fail(errors.New("file is empty"))
	}
	return v, nil
}

// SecretJSONField returns the string field key of a JSON object secret, for SecretResolver
// implementations handling aws-sm:…#key references. Errors name the key, never the content.
func SecretJSONField(secret, key string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(secret), &obj); err != nil {
		// json errors can quote characters of the input: don't pass them on.
		return "", fmt.Errorf("secret is not a JSON object, so it has no key %q", key)
	}
	raw, ok := obj[key]
	if !ok {
		return "", fmt.Errorf("secret JSON has no key %q", key)
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("secret JSON key %q is not a string", key)
	}
	return v, nil
}

// check returns a warning about the reference's target as seen from here, or "".
func (r SecretRef) check() string {
	p, err := r.parse()
	if err != nil {
		return ""
	}
	switch p.scheme {
	case SchemeEnv:
		if v, ok := os.LookupEnv(p.target); !ok || v == "" {
			return fmt.Sprintf("environment variable %s is not set or empty", p.target)
		}
	case SchemeFile:
		st, err := os.Stat(p.target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Sprintf("file %s does not exist", p.target)
		case err != nil:
			return fmt.Sprintf("file %s: cannot stat it", p.target)
		case !st.Mode().IsRegular():
			return fmt.Sprintf("file %s is not a regular file", p.target)
		case st.Mode().Perm()&0o077 != 0:
			return fmt.Sprintf("file %s is accessible by group or others (mode %#o); restrict it to its owner (chmod 600)",
				p.target, st.Mode().Perm())
		}
	}
	return ""
}
