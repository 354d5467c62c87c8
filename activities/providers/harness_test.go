package providers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/internal/acttest"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/drillcloud/drilltest"
	"github.com/sever-ir/sever/inventory"
)

// Names from drillcloud.DefaultSeed.
const (
	anKey   = drillcloud.DefaultAnthropicKeyID
	oaKey   = drillcloud.DefaultOpenAIKeyID
	project = drillcloud.DefaultOpenAIProjectID
)

// drill is the provider actions wired over real HTTP to a drill cloud with its
// admin keys, and a Temporal test activity environment that runs them.
type drill struct {
	t     *testing.T
	cloud *drillcloud.Cloud
	acts  *Activities
	env   *testsuite.TestActivityEnvironment
}

type drillSetup struct {
	seed drillcloud.Seed
	acts []func(*Activities)
}

type drillOption func(*drillSetup)

func withSeed(mut func(s *drillcloud.Seed)) drillOption {
	return func(d *drillSetup) { mut(&d.seed) }
}

// withActs changes the activities after they are wired to the cloud.
func withActs(mut func(a *Activities)) drillOption {
	return func(d *drillSetup) { d.acts = append(d.acts, mut) }
}

func withInventory(src string) drillOption {
	return withActs(func(a *Activities) {
		inv, err := inventory.Parse("inventory.yaml", []byte(src))
		if err != nil {
			panic(err)
		}
		a.Inventory = inv
	})
}

// invOpenAI lists the default OpenAI key, which corroborates that it existed.
const invOpenAI = `credentials:
  - provider: openai
    type: openai_api_key
    id: ` + oaKey + `
    account: ` + project + `
    owner: ml-platform@example.com
`

func newDrill(t *testing.T, opts ...drillOption) *drill {
	t.Helper()
	setup := drillSetup{seed: drillcloud.DefaultSeed()}
	for _, o := range opts {
		o(&setup)
	}
	acts := &Activities{PollInterval: 10 * time.Millisecond}
	cloud := drilltest.Start(t, setup.seed)
	url := cloud.URL()
	if k, err := cloud.ProviderAdminKey(drillcloud.ProviderAnthropic, ""); err == nil {
		acts.Anthropic = &Anthropic{BaseURL: url, AdminKey: StaticKey(k)}
	}
	if k, err := cloud.ProviderAdminKey(drillcloud.ProviderOpenAI, ""); err == nil {
		acts.OpenAI = &OpenAI{BaseURL: url, AdminKey: StaticKey(k)}
	}
	for _, mut := range setup.acts {
		mut(acts)
	}
	d := &drill{t: t, cloud: cloud, acts: acts}
	d.env = d.newEnv(acts)
	return d
}

// newEnv is a fresh activity environment over acts: another worker, as far as
// in-process memory goes.
func (d *drill) newEnv(acts *Activities) *testsuite.TestActivityEnvironment {
	env := acttest.Env()
	acts.Register(env)
	return env
}

// anthropicInput is an action input about the default Anthropic key.
func anthropicInput(action string, args sever.Values) sever.ActionInput {
	return input(action, args, sever.Credential{Provider: "anthropic", Type: sever.CredAnthropicAPIKey, ID: anKey, Account: drillcloud.DefaultAnthropicOrgID})
}

// openAIInput is an action input about the default OpenAI key, its project given
// as the credential's account, as the provider adapter reports it.
func openAIInput(action string, args sever.Values) sever.ActionInput {
	return input(action, args, sever.Credential{Provider: "openai", Type: sever.CredOpenAIAPIKey, ID: oaKey, Account: project})
}

func input(action string, args sever.Values, c sever.Credential) sever.ActionInput {
	at := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	return sever.ActionInput{IncidentID: "inc-llm-test", StepID: "step", Action: action, Args: args,
		IdempotencyKey: "inc-llm-test/1/step", Credential: c,
		Signals: []sever.Signal{{ID: "sig-1", Source: "siem", Origin: sever.OriginEnterprise, Kind: sever.KindAnomalousUsage,
			ObservedAt: at, ReceivedAt: at.Add(time.Second), Credential: c}}}
}

// withNotice adds the provider's own word that it acted on the key: what an observe
// step needs before it credits the provider (a key found changed may be sever's own
// change from an earlier incident).
func withNotice(in sever.ActionInput) sever.ActionInput {
	in.Signals = append(in.Signals, sever.Signal{ID: "sig-vendor", Source: in.Credential.Provider, Origin: sever.OriginVendor,
		Kind: sever.KindVendorAction, Credential: in.Credential})
	return in
}

func withCred(in sever.ActionInput, mut func(c *sever.Credential)) sever.ActionInput {
	mut(&in.Credential)
	return in
}

func (d *drill) exec(in sever.ActionInput) (sever.ActionResult, error) {
	return execIn(d.env, in)
}

func execIn(env *testsuite.TestActivityEnvironment, in sever.ActionInput) (sever.ActionResult, error) {
	return acttest.Exec(env, in)
}

func (d *drill) mustExec(in sever.ActionInput) sever.ActionResult {
	d.t.Helper()
	res, err := d.exec(in)
	if err != nil {
		d.t.Fatalf("%s: %v", in.Action, err)
	}
	d.noKeyMaterial(res, nil)
	return res
}

func (d *drill) fault(f drillcloud.Fault) {
	d.t.Helper()
	if err := d.cloud.InjectFault(f); err != nil {
		d.t.Fatal(err)
	}
}

// keyStatus is the drill cloud's status of provider key id.
func (d *drill) keyStatus(id string) string {
	d.t.Helper()
	k, ok := d.cloud.ProviderKey(id)
	if !ok {
		d.t.Fatalf("drill key %s missing", id)
	}
	return k.Status
}

// attack starts an attacker using provider key id, stopped when the test ends.
func (d *drill) attack(id string) *drillcloud.Attacker {
	d.t.Helper()
	a, err := d.cloud.StartAttacker(d.t.Context(), drillcloud.AttackerConfig{KeyID: id, Rate: 50})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(a.Stop)
	return a
}

// waitRefused waits for the attacker to give up, refused once the key was
// contained (how: "disabled", "revoked").
func (d *drill) waitRefused(a *drillcloud.Attacker, how string) {
	d.t.Helper()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		d.t.Fatalf("attacker still running after the key was %s", how)
	}
}

// calls counts the calls of an operation that reached the cloud, applied or not.
func (d *drill) calls(service, op string) int {
	return acttest.Calls(d.cloud, service, op)
}

// noKeyMaterial fails when a result or error holds a key value or an admin key.
func (d *drill) noKeyMaterial(res sever.ActionResult, err error) {
	d.t.Helper()
	b, _ := json.Marshal(res)
	text := string(b)
	if err != nil {
		text += err.Error()
	}
	var secrets []string
	for _, p := range []string{drillcloud.ProviderAnthropic, drillcloud.ProviderOpenAI} {
		if k, err := d.cloud.ProviderAdminKey(p, ""); err == nil {
			secrets = append(secrets, k)
		}
	}
	for _, k := range d.cloud.ProviderKeys() {
		v, _ := d.cloud.ProviderKeyValue(k.ID)
		secrets = append(secrets, v)
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			d.t.Fatalf("key material in a result or error: %s", text)
		}
	}
}

// The checks every action package's tests share.
var (
	wantPermanent = acttest.WantPermanent
	wantRetryable = acttest.WantRetryable
)
