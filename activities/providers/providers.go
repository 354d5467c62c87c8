// Package providers holds the model-provider key actions: disabling an Anthropic API
// key and revoking an OpenAI project API key through each provider's Admin API,
// reading their state back, and observing whether the provider acted on a leaked key
// before sever did.
//
// The actions speak the documented REST endpoints over net/http with the enterprise's
// own admin keys, which come from sever.yaml's secret references and never from a
// runbook. Every action reads before it writes, so a retry after a lost response does
// nothing twice, and no key material is ever logged, returned or put in an error: key
// objects are reported by id, name and the provider's own redacted hint.
package providers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/inventory"
)

// Default API endpoints and the Anthropic API version the actions speak.
const (
	DefaultAnthropicURL = "https://api.anthropic.com"
	DefaultOpenAIURL    = "https://api.openai.com"
	AnthropicVersion    = "2023-06-01"
)

// Provider names as credentials, the config and the drill cloud spell them.
const (
	providerAnthropic = "anthropic"
	providerOpenAI    = "openai"
)

// Actors of record for what a provider did on its own; sever only observed it.
const (
	VendorAnthropic = "vendor:anthropic"
	VendorOpenAI    = "vendor:openai"
)

// KeySource returns an admin key. It is called once per action, so a rotated
// admin key is picked up without restarting the worker.
type KeySource func(ctx context.Context) (string, error)

// StaticKey is a KeySource for a key already in hand (the drill cloud's).
func StaticKey(v string) KeySource {
	return func(context.Context) (string, error) { return v, nil }
}

// SecretKey resolves a sever.yaml secret reference (env:, file:, aws-sm:) with res.
func SecretKey(ref config.SecretRef, res config.SecretResolver) KeySource {
	return func(ctx context.Context) (string, error) { return ref.Resolve(ctx, res) }
}

// Anthropic is how sever reaches the Anthropic Admin API.
type Anthropic struct {
	BaseURL  string // "" = DefaultAnthropicURL
	AdminKey KeySource
}

// OpenAI is how sever reaches the OpenAI Admin API.
type OpenAI struct {
	BaseURL  string // "" = DefaultOpenAIURL
	AdminKey KeySource
	// Project is the project of keys whose signal, step and inventory name none.
	Project string
}

// Activities holds the provider clients and the inventory. A nil Anthropic or OpenAI
// means that provider has no admin key configured: its actions fail AccessDenied,
// naming the setting, and its observe actions report that nothing could be read.
type Activities struct {
	Anthropic *Anthropic
	OpenAI    *OpenAI
	// Inventory corroborates that an OpenAI key existed when it is found gone
	// (OpenAI answers 404 alike for revoked keys and keys that never were).
	Inventory *inventory.Inventory
	// HTTP is the client of every call; nil = one with a 30 s timeout.
	HTTP *http.Client
	// PollInterval is the pause between an observe action's reads and a read-back's
	// tries; default 1 s for observe polling, 200 ms for read-backs.
	PollInterval time.Duration

	mu sync.Mutex
	// writes remembers, per step (idempotency key) and key id, the change a step was
	// about to send, so a later attempt that finds it done knows it was its own.
	writes map[string]string
	// ours remembers the keys this worker disabled or revoked, so an observe step of a
	// later run does not credit the provider with sever's own change. It lives in this
	// worker's memory only: another worker, or this one after a restart, does not
	// know, which is why an observe step credits the provider only on the provider's
	// own word (providerSaysItActed) and never because this map is empty.
	ours map[string]time.Time
}

// FromConfig builds the activities from sever.yaml's providers section. res resolves
// aws-sm: admin keys; a provider whose admin_key is empty is left unconfigured.
func FromConfig(c config.ProvidersConfig, inv *inventory.Inventory, res config.SecretResolver) *Activities {
	a := &Activities{Inventory: inv}
	if !c.Anthropic.AdminKey.IsZero() {
		a.Anthropic = &Anthropic{BaseURL: c.Anthropic.BaseURL, AdminKey: SecretKey(c.Anthropic.AdminKey, res)}
	}
	if !c.OpenAI.AdminKey.IsZero() {
		a.OpenAI = &OpenAI{BaseURL: c.OpenAI.BaseURL, AdminKey: SecretKey(c.OpenAI.AdminKey, res), Project: c.OpenAI.Project}
	}
	return a
}

// Register registers the provider actions under their catalog names.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionAnthropicObserveKey, a.AnthropicObserveKeyStatus)
	activities.Register(r, sever.ActionAnthropicDisableKey, a.AnthropicDisableAPIKey)
	activities.Register(r, sever.ActionAnthropicEnableKey, a.AnthropicEnableAPIKey)
	activities.Register(r, sever.ActionAnthropicKeyStatus, a.AnthropicKeyStatus)
	activities.Register(r, sever.ActionOpenAIObserveKey, a.OpenAIObserveKeyStatus)
	activities.Register(r, sever.ActionOpenAIRevokeKey, a.OpenAIRevokeAPIKey)
	activities.Register(r, sever.ActionOpenAIKeyStatus, a.OpenAIKeyStatus)
}

var (
	anthropicKeyIDRE = regexp.MustCompile(`^apikey_[A-Za-z0-9]{1,128}$`)
	openAIKeyIDRE    = regexp.MustCompile(`^key_[A-Za-z0-9]{1,128}$`)
	openAIProjectRE  = regexp.MustCompile(`^proj_[A-Za-z0-9]{1,128}$`)
)

// checkCredential refuses credentials of another type and ids that cannot be the
// provider's key id. An id that is a key value is refused without repeating it: a
// scanner that reports the secret instead of its id must not get it into the ledger.
func checkCredential(in sever.ActionInput, want sever.CredentialType, idRE *regexp.Regexp, form string) error {
	if in.Credential.Type != want {
		return activities.Permanent(activities.ErrUnsupported, fmt.Sprintf(
			"%s: credential type %s is not supported (want %s)", in.Action, in.Credential.Type, want), nil)
	}
	id := in.Credential.ID
	if strings.HasPrefix(id, "sk-") {
		return activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf(
			"%s: the credential id is a key value, not a key id (%s); sever never takes key material", in.Action, form), nil)
	}
	if !idRE.MatchString(id) {
		return activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf(
			"%s: credential id %q is not a key id of the form %s", in.Action, truncate(id, 64), form), nil)
	}
	return nil
}

// adminActor names the admin key that acted by a short hash: an operator can match it
// against their keys, and it gives away nothing of the key.
func adminActor(provider, key string) string {
	sum := sha256.Sum256([]byte(key))
	return provider + "-admin-key:sha256:" + hex.EncodeToString(sum[:6])
}

func (a *Activities) httpClient() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return defaultHTTP
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

func (a *Activities) pollInterval(def time.Duration) time.Duration {
	if a.PollInterval > 0 {
		return a.PollInterval
	}
	return def
}

// maxMemory bounds the worker's memory of keys; past it, it starts over, which only
// costs a NotFound or an unattributed observation, never a double write.
const maxMemory = 10000

// markWriting records that this step is about to send change (a status, or
// "delete") for the key, before it sends it.
func (a *Activities) markWriting(ctx context.Context, in sever.ActionInput, scope, change string) {
	a.mu.Lock()
	if a.writes == nil || len(a.writes) >= maxMemory {
		a.writes = map[string]string{}
	}
	a.writes[in.IdempotencyKey+"\x00"+in.Credential.ID] = scope + "\x00" + change
	a.mu.Unlock()
	// The intent is sent at once, so the next attempt, on any worker, learns that the
	// change may have gone out before its response was lost; through activities, so
	// the registration's periodic heartbeats repeat it instead of erasing it.
	activities.RecordHeartbeat(ctx, writeIntent{KeyID: in.Credential.ID, Scope: scope, Change: change})
}

// writeIntent is the heartbeat detail of a mutating provider action.
type writeIntent struct {
	KeyID  string `json:"key_id"`
	Scope  string `json:"scope"` // OpenAI project; "" for Anthropic
	Change string `json:"change"`
}

// settled forgets a write once its outcome is known (answered, or found in place), so
// a later run of the same step does not take the change for its own lost write.
func (a *Activities) settled(in sever.ActionInput) {
	a.mu.Lock()
	delete(a.writes, in.IdempotencyKey+"\x00"+in.Credential.ID)
	a.mu.Unlock()
}

// wroteEarlier reports whether an earlier attempt of this step was about to send
// change for the key.
func (a *Activities) wroteEarlier(ctx context.Context, in sever.ActionInput, scope, change string) bool {
	a.mu.Lock()
	w := a.writes[in.IdempotencyKey+"\x00"+in.Credential.ID]
	a.mu.Unlock()
	if w == scope+"\x00"+change {
		return true
	}
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return false
	}
	var p writeIntent
	return activity.GetHeartbeatDetails(ctx, &p) == nil && p.KeyID == in.Credential.ID && p.Scope == scope && p.Change == change
}

func (a *Activities) markOurs(keyID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ours == nil || len(a.ours) >= maxMemory {
		a.ours = map[string]time.Time{}
	}
	a.ours[keyID] = time.Now().UTC()
}

func (a *Activities) forgetOurs(keyID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.ours, keyID)
}

func (a *Activities) ourChange(keyID string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.ours[keyID]
	return t, ok
}

// vendorNamed reports whether a provider-origin signal of the incident names the key:
// the provider itself knows the key, so it existed.
func vendorNamed(in sever.ActionInput, provider string) bool {
	// Every signal of an incident is about its credential, so a vendor-origin count in
	// the summary (which covers the signals the sample leaves out) names the key too.
	if sum := in.SignalSummary; sum != nil && sum.ByOrigin[string(sever.OriginVendor)] > 0 &&
		strings.EqualFold(in.Credential.Provider, provider) {
		return true
	}
	for _, s := range in.Signals {
		if fromProviderAboutKey(s, in.Credential, provider) {
			return true
		}
	}
	return false
}

// fromProviderAboutKey reports whether s is the provider's own signal about the key.
func fromProviderAboutKey(s sever.Signal, key sever.Credential, provider string) bool {
	return s.Origin == sever.OriginVendor && s.Credential.ID == key.ID && strings.EqualFold(s.Credential.Provider, provider)
}

// providerSaysItActed reports whether the provider itself told this incident that it
// acted on the key: a provider-origin vendor_action signal naming it. A key found
// disabled or gone proves only that someone changed it; the Admin APIs do not say who,
// and sever's record of its own changes is per worker (see Activities.ours), so sever's
// own change in an earlier incident would otherwise be credited to the provider.
func providerSaysItActed(in sever.ActionInput, provider string) bool {
	for _, s := range in.Signals {
		if s.Kind == sever.KindVendorAction && fromProviderAboutKey(s, in.Credential, provider) {
			return true
		}
	}
	return false
}

// unattributed is the note an observe step adds when it found the key already
// changed and cannot tell who changed it.
const unattributed = "; the Admin API does not say by whom and no notice from the provider says it acted, " +
	"so it is not credited to the provider: sever may have done it in an earlier incident or on another worker"

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// withReason adds the step's reason to an output, when it gave one.
func withReason(out sever.Values, reason string) sever.Values {
	if reason != "" {
		out["reason"] = reason
	}
	return out
}

// observeWindow is how long an observe action polls: the step's wait, capped so the
// last read still fits in the activity's deadline.
func observeWindow(ctx context.Context, wait time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - 2*time.Second; left < wait {
			wait = max(left, 0)
		}
	}
	return wait
}

// parseWait reads an observe action's wait and interval arguments.
func parseWait(action, wait, interval string) (time.Duration, time.Duration, error) {
	var w, iv time.Duration
	var err error
	if wait != "" {
		if w, err = time.ParseDuration(wait); err != nil || w < 0 || w > 15*time.Minute {
			return 0, 0, activities.Permanent(activities.ErrInvalidArgument,
				fmt.Sprintf("%s: wait %q: want a duration from 0s to 15m", action, wait), nil)
		}
	}
	if interval != "" {
		if iv, err = time.ParseDuration(interval); err != nil || iv < 100*time.Millisecond || iv > 5*time.Minute {
			return 0, 0, activities.Permanent(activities.ErrInvalidArgument,
				fmt.Sprintf("%s: interval %q: want a duration from 100ms to 5m", action, interval), nil)
		}
	}
	return w, iv, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
