package awsact

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/internal/acttest"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/drillcloud/drilltest"
	"github.com/sever-ir/sever/inventory"
)

// Names from drillcloud.DefaultSeed.
const (
	account      = drillcloud.DefaultAccountID
	exposedKey   = drillcloud.DefaultCompromisedKeyID
	exposedUser  = drillcloud.DefaultCompromisedUser
	responderKey = drillcloud.DefaultResponderKeyID
	secretName   = drillcloud.DefaultSecretName
)

// unknownKey is a well-formed key id of the drill account that no user has. Like
// AWS, the drill cloud names the account of any such id (sts:GetAccessKeyInfo),
// which the actions ask before they act.
var unknownKey = keyIDOf(111122223333)

// exposedAt is when the test signals say the key leaked.
var exposedAt = time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)

// drill is an Activities wired through the real SDK to a drill cloud, signing as
// sever-responder, and a Temporal test activity environment that runs them.
type drill struct {
	t     *testing.T
	cloud *drillcloud.Cloud
	acts  *Activities
	env   *testsuite.TestActivityEnvironment
}

type drillOption func(*drillSetup)

type drillSetup struct {
	seed        drillcloud.Seed
	inv         *inventory.Inventory
	maxAttempts int
	cloudOpts   []drillcloud.Option
}

func withSeed(mut func(s *drillcloud.Seed)) drillOption {
	return func(d *drillSetup) { mut(&d.seed) }
}

func withInventory(src string) drillOption {
	return func(d *drillSetup) {
		inv, err := inventory.Parse("inventory.yaml", []byte(src))
		if err != nil {
			panic(err)
		}
		d.inv = inv
	}
}

func withSDKAttempts(n int) drillOption { return func(d *drillSetup) { d.maxAttempts = n } }

func newDrill(t *testing.T, opts ...drillOption) *drill {
	t.Helper()
	setup := drillSetup{seed: drillcloud.DefaultSeed(), maxAttempts: 3}
	for _, o := range opts {
		o(&setup)
	}
	cloud := drilltest.Start(t, setup.seed, setup.cloudOpts...)
	f := NewFactory(FactoryOptions{S3UsePathStyle: true, MaxAttempts: setup.maxAttempts, MaxBackoff: 20 * time.Millisecond,
		LoadBase: func(ctx context.Context) (aws.Config, error) { return cloud.AWSConfig(ctx, responderKey) }})
	acts := New(f, setup.inv)
	env := acttest.Env()
	acts.Register(env)
	return &drill{t: t, cloud: cloud, acts: acts, env: env}
}

// input is an action input about the exposed key with only its id known, as a
// scanner would report it: account and user must be looked up.
func input(action string, args sever.Values) sever.ActionInput {
	return sever.ActionInput{IncidentID: "inc-aws-test", StepID: "step", Action: action, Args: args,
		IdempotencyKey: "inc-aws-test/1/step",
		Credential:     sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: exposedKey},
		Signals: []sever.Signal{{ID: "sig-1", Source: "gitleaks", Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed,
			ObservedAt: exposedAt, ReceivedAt: exposedAt.Add(time.Second),
			Credential: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: exposedKey}}},
	}
}

func withCred(in sever.ActionInput, mut func(c *sever.Credential)) sever.ActionInput {
	mut(&in.Credential)
	return in
}

func (d *drill) exec(in sever.ActionInput) (sever.ActionResult, error) {
	d.t.Helper()
	return acttest.Exec(d.env, in)
}

// mustExec runs the action and fails the test on error.
func (d *drill) mustExec(in sever.ActionInput) sever.ActionResult {
	d.t.Helper()
	res, err := d.exec(in)
	if err != nil {
		d.t.Fatalf("%s: %v", in.Action, err)
	}
	return res
}

func (d *drill) fault(f drillcloud.Fault) {
	d.t.Helper()
	if err := d.cloud.InjectFault(f); err != nil {
		d.t.Fatal(err)
	}
}

// calls counts the calls of a service-qualified operation that reached the cloud,
// applied or not.
func (d *drill) calls(service, op string) int {
	return acttest.Calls(d.cloud, service, op)
}

// denyPolicy is an inline policy that denies sever-responder one action.
func denyPolicy(action string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"` + action + `","Resource":"*"}]}`
}

// denyResponder adds a Deny of action to sever-responder.
func denyResponder(action string) drillOption {
	return withSeed(func(s *drillcloud.Seed) {
		for i, u := range s.Accounts[0].Users {
			if u.Name == drillcloud.DefaultResponderUser {
				if u.InlinePolicies == nil {
					s.Accounts[0].Users[i].InlinePolicies = map[string]string{}
				}
				s.Accounts[0].Users[i].InlinePolicies["deny-"+strings.ReplaceAll(action, ":", "-")] = denyPolicy(action)
			}
		}
	})
}

func user(s *drillcloud.Seed, name string) *drillcloud.SeedUser {
	for i := range s.Accounts[0].Users {
		if s.Accounts[0].Users[i].Name == name {
			return &s.Accounts[0].Users[i]
		}
	}
	panic("no user " + name)
}

// The checks every action package's tests share.
var (
	wantPermanent = acttest.WantPermanent
	wantRetryable = acttest.WantRetryable
)
