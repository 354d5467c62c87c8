package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sever-ir/sever/internal/decisionsig"
)

// DecisionKeyFile holds sever dev's decision key in the data dir, where a worker
// or API process on the same machine (scale-out on one host) finds it too.
const DecisionKeyFile = "decision-key"

// LoadDecisionKey sets p.DecisionKey from temporal.decision_key, or from
// <data-dir>/decision-key: created there with orCreate (sever dev), read when it
// exists otherwise. Without either, sever serve and sever worker refuse to start:
// the worker would refuse every decision, or the engine could not sign one.
func (p *Parts) LoadDecisionKey(ctx context.Context, orCreate bool) error {
	var secret string
	if ref := p.Config.Temporal.DecisionKey; !ref.IsZero() {
		v, err := ref.Resolve(ctx, nil)
		if err != nil {
			return fmt.Errorf("temporal.decision_key: %w", err)
		}
		secret = v
	} else {
		path := filepath.Join(p.Config.DataDir, DecisionKeyFile)
		if _, err := os.Stat(path); err != nil && !orCreate {
			return fmt.Errorf("temporal.decision_key is not set (and %s does not exist): every API host and worker needs the same key to sign and check approval decisions", path)
		}
		v, err := secretFile(p.Config.DataDir, DecisionKeyFile, "")
		if err != nil {
			return fmt.Errorf("decision key: %w", err)
		}
		secret = v
	}
	k, err := decisionsig.New([]byte(secret))
	if err != nil {
		return fmt.Errorf("temporal.decision_key: %w", err)
	}
	p.DecisionKey = k
	return nil
}

// GitHubSecret resolves the GitHub webhook secret. With orCreate (sever dev) and
// none configured, it reads or creates one in <data-dir>/github-webhook-secret to
// paste into the webhook's settings.
func (p *Parts) GitHubSecret(ctx context.Context, orCreate bool) (string, error) {
	if ref := p.Config.Intake.GitHubWebhookSecret; !ref.IsZero() {
		v, err := ref.Resolve(ctx, nil)
		if err != nil {
			return "", fmt.Errorf("github webhook secret: %w", err)
		}
		return v, nil
	}
	if !orCreate {
		return "", nil
	}
	return secretFile(p.Config.DataDir, "github-webhook-secret", "")
}

// SigningSecret resolves Slack's signing secret. With orCreate (sever dev) and none
// configured, it reads or creates one in <data-dir>/slack-signing-secret, so the
// endpoint can be exercised (and tested) before a Slack app exists.
func (p *Parts) SigningSecret(ctx context.Context, orCreate bool) (string, error) {
	if ref := p.Config.Slack.SigningSecret; !ref.IsZero() {
		v, err := ref.Resolve(ctx, nil)
		if err != nil {
			return "", fmt.Errorf("slack signing secret: %w", err)
		}
		return v, nil
	}
	if !orCreate {
		return "", nil
	}
	return secretFile(p.Config.DataDir, "slack-signing-secret", "")
}

// secretFile reads or creates a random secret in the data dir (0600): the dev token
// and the dev Slack signing secret.
func secretFile(dataDir, name, prefix string) (string, error) {
	path := filepath.Join(dataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := prefix + hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return t, nil
}
