package tests

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"

	"github.com/sever-ir/sever/adapters"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/tokenstore"
)

// The scaffolding the live tests share: configs with a runbook or policy of the
// test's own, stacks started from them, attackers, and the waits every
// containment test makes. One copy, so that a change to how a stack starts or
// what "contained" means is made once.

// awsPreapprovedPolicy is the shipped policy that runs AWS containment without
// waiting for a person.
var awsPreapprovedPolicy = filepath.Join("..", "runbooks", "policy", "aws-preapproved.yaml")

// writeTemp writes text to a file named name in a fresh temporary directory and
// returns the directory.
func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	return dir
}

// runbookConfig is newConfig with a runbook directory holding only runbook, in a
// file called name.
func runbookConfig(t *testing.T, name, runbook string) *config.Config {
	t.Helper()
	cfg := newConfig(t)
	cfg.Runbooks.Dir = writeTemp(t, name, runbook)
	return cfg
}

// policyConfig is newConfig under the policy text policy.
func policyConfig(t *testing.T, policy string) *config.Config {
	t.Helper()
	cfg := newConfig(t)
	cfg.Runbooks.Policy = filepath.Join(writeTemp(t, "policy.yaml", policy), "policy.yaml")
	return cfg
}

// awsConfig is newConfig under the pre-approved AWS policy.
func awsConfig(t *testing.T) *config.Config {
	cfg := newConfig(t)
	cfg.Runbooks.Policy = awsPreapprovedPolicy
	return cfg
}

// startDrillStack starts the stack on cfg with the drill cloud, and with logger
// when it is not nil.
func startDrillStack(t *testing.T, cfg *config.Config, logger *slog.Logger) *stack {
	t.Helper()
	return startStackWith(t, app.DevOptions{Config: cfg, DrillCloud: true, Logger: logger})
}

// setTokens sets each environment variable in tokens for the test, so a config
// can name them as env: secrets.
func setTokens(t *testing.T, tokens map[string]string) {
	for k, v := range tokens {
		t.Setenv(k, v)
	}
}

// startDev starts sever dev with o as it is (no dev token is expected: these
// configs name their own tokens) and stops it when the test ends.
func startDev(t *testing.T, o app.DevOptions) *app.Dev {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := app.StartDev(ctx, o)
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return d
}

// lockedBuffer keeps every log line (the secret scan must see all of them).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// keepLogs returns a debug JSON logger that keeps every line in the buffer it
// also returns, for a secret scan of the stack's log.
func keepLogs() (*lockedBuffer, *slog.Logger) {
	logs := &lockedBuffer{}
	return logs, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startAttacker starts an attacker on the drill cloud, waits for its first
// successful call (so a later refusal proves containment, not a broken key) and
// stops it when the test ends.
func startAttacker(t *testing.T, cloud *drillcloud.Cloud, c drillcloud.AttackerConfig) *drillcloud.Attacker {
	t.Helper()
	attacker, err := cloud.StartAttacker(context.Background(), c)
	if err != nil {
		t.Fatalf("start attacker with %s: %v", c.KeyID, err)
	}
	t.Cleanup(attacker.Stop)
	waitFor(t, "the attacker's first success", func() error {
		if attacker.Stats().Successes == 0 {
			return errNotYet
		}
		return nil
	})
	return attacker
}

// requireRefusedAfter waits for the attacker to be refused after contained, then
// fails the test for every call of theirs that succeeded more than 100 ms after it
// (calls in flight at containment may still land).
func requireRefusedAfter(t *testing.T, attacker *drillcloud.Attacker, contained time.Time, calls string) {
	t.Helper()
	waitFor(t, "the attacker to be refused", func() error {
		if attacker.Stats().LastDenial.After(contained) {
			return nil
		}
		return errNotYet
	})
	if n := attacker.SuccessesAfter(contained.Add(100 * time.Millisecond)); n != 0 {
		t.Errorf("%d %s succeeded after containment", n, calls)
	}
}

// waitContained waits until incident id leaves "open" and fails the test unless it
// is contained.
func (c *apiClient) waitContained(t *testing.T, id string) incidentJSON {
	t.Helper()
	inc := c.waitIncident(t, id, "containment", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "contained" {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
	return inc
}

// waitApproval waits until step of incident id waits for an approval.
func (c *apiClient) waitApproval(t *testing.T, id, what, step string) incidentJSON {
	t.Helper()
	return c.waitIncident(t, id, what, func(i incidentJSON) bool {
		return i.step(step).Status == "waiting_approval"
	})
}

// requireDisabledOnce fails the test unless every token of creds is inactive and
// was disabled exactly once.
func requireDisabledOnce(t *testing.T, tokens *tokenstore.Store, creds []cred) {
	t.Helper()
	for _, c := range creds {
		tok, err := tokens.Get(c.id)
		if err != nil || tok.Status != "inactive" {
			t.Errorf("token %s is %s (%v)", c.id, tok.Status, err)
		}
		applied := 0
		for _, ch := range tok.Changes {
			if strings.Contains(ch.Key, "/disable") {
				applied++
			}
		}
		if applied != 1 {
			t.Errorf("token %s: disable applied %d times, want once: %+v", c.id, applied, tok.Changes)
		}
	}
}

// waitAllContained waits for each incident of ids to leave "open", for up to 3
// minutes each (chaos slows everything), and fails the test for one that is not
// contained. what names the chaos in the failure.
func (c *apiClient) waitAllContained(t *testing.T, ids []string, what string) {
	t.Helper()
	for _, id := range ids {
		var inc incidentJSON
		waitEvery(t, id+" to leave open under "+what, 50*time.Millisecond, 3*time.Minute, func() error {
			got, _, err := c.incident(id)
			if err != nil {
				return err
			}
			if got.Status == "open" {
				return errNotYet
			}
			inc = got
			return nil
		})
		if inc.Status != "contained" {
			t.Errorf("%s: %s (%s): %s", id, inc.Status, inc.Reason, stepStates(inc))
		}
	}
}

// hasVendorSignal says whether inc holds a vendor signal from source.
func (inc incidentJSON) hasVendorSignal(source string) bool {
	for _, sig := range inc.Signals {
		if sig.Source == source && sig.Origin == "vendor" {
			return true
		}
	}
	return false
}

// signGitHub signs body as GitHub would, with the webhook secret sever dev wrote
// in the data dir.
func signGitHub(t *testing.T, s *stack, body []byte) string {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(s.Config.DataDir, "github-webhook-secret"))
	if err != nil {
		t.Fatalf("sever dev wrote no GitHub webhook secret: %v", err)
	}
	return adapters.SignGitHub(bytes.TrimSpace(secret), body)
}

// postGitHubDelivery posts body to /v1/signals/github as the secret_scanning_alert
// delivery with the delivery ID and signature given, and returns the answer. The
// header names are spelled out, as GitHub sends them.
func postGitHubDelivery(t *testing.T, s *stack, body []byte, delivery, signature string) (int, []byte) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, s.URL+"/v1/signals/github", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", "secret_scanning_alert")
	r.Header.Set("X-GitHub-Delivery", delivery)
	r.Header.Set("X-Hub-Signature-256", signature)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("POST /v1/signals/github: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST /v1/signals/github: read answer: %v", err)
	}
	return resp.StatusCode, b
}

// putToken puts token id, with no owner, into tokens, so generic_token runbooks
// can disable it.
func putToken(t *testing.T, tokens *tokenstore.Store, id string) {
	t.Helper()
	if err := tokens.Put(tokenstore.Token{ID: id}); err != nil {
		t.Fatalf("put token %s: %v", id, err)
	}
}

// aroundActivities is a worker interceptor that runs every activity through
// around, which calls next to run it: the Temporal plumbing the tests' fault
// injectors share.
type aroundActivities struct {
	interceptor.WorkerInterceptorBase
	around func(ctx context.Context, in *interceptor.ExecuteActivityInput, next interceptor.ActivityInboundInterceptor) (any, error)
}

func (w *aroundActivities) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &aroundActivity{around: w.around}
	a.Next = next
	return a
}

type aroundActivity struct {
	interceptor.ActivityInboundInterceptorBase
	around func(ctx context.Context, in *interceptor.ExecuteActivityInput, next interceptor.ActivityInboundInterceptor) (any, error)
}

func (a *aroundActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	return a.around(ctx, in, a.Next)
}
