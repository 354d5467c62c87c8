package drillcloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	vault "github.com/hashicorp/vault/api"
	"google.golang.org/api/googleapi"
	gcpiam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// fastRetry keeps the SDK's standard retry rules but without backoff, so
// retried faults do not slow the tests down.
func fastRetry(cfg aws.Config) aws.Config {
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	return cfg
}

func deactivateInput() *iam.UpdateAccessKeyInput {
	return &iam.UpdateAccessKeyInput{UserName: aws.String(DefaultCompromisedUser), AccessKeyId: aws.String(DefaultCompromisedKeyID), Status: types.StatusTypeInactive}
}

func opEvents(c *Cloud, op string) []Event {
	var out []Event
	for _, e := range c.Calls() {
		if e.Operation == op {
			out = append(out, e)
		}
	}
	return out
}

func TestFaultKinds(t *testing.T) {
	cases := []struct {
		name      string
		fault     Fault
		retry     bool
		wantCode  string // error the caller finally sees
		wantCalls int    // UpdateAccessKey requests that reached the cloud
	}{
		{"throttle without retry", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultThrottle, Count: 1}, false, "Throttling", 1},
		{"throttle retried", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultThrottle, Count: 1}, true, "", 2},
		{"server error without retry", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultServerError, Count: 1}, false, "ServiceFailure", 1},
		{"server error retried", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultServerError, Count: 2}, true, "", 3},
		{"drop response retried", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultDropResponse, Count: 1}, true, "", 2},
		{"fault for another key", Fault{Service: "iam", Operation: "UpdateAccessKey", KeyID: DefaultCompromisedKeyID, Kind: FaultThrottle}, false, "", 1},
		{"fault for another operation", Fault{Service: "iam", Operation: "DeleteAccessKey", Kind: FaultThrottle}, false, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCloud(t)
			if err := c.InjectFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			cfg := cfgFor(t, c, DefaultResponderKeyID)
			if tc.retry {
				cfg = fastRetry(cfg)
			} else {
				cfg = noRetry(cfg)
			}
			_, err := iam.NewFromConfig(cfg).UpdateAccessKey(ctx(t), deactivateInput())
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("error %q, want %q (%v)", got, tc.wantCode, err)
			}
			evs := opEvents(c, "UpdateAccessKey")
			if len(evs) != tc.wantCalls {
				t.Fatalf("%d calls reached the cloud, want %d", len(evs), tc.wantCalls)
			}
			k, _ := c.Key(DefaultCompromisedKeyID)
			wantStatus := "Inactive"
			if tc.wantCode != "" {
				wantStatus = "Active"
			}
			if k.Status != wantStatus {
				t.Fatalf("key status %s, want %s", k.Status, wantStatus)
			}
			// However many attempts, the change is applied at most once.
			if n := c.Applied("UpdateAccessKey"); (tc.wantCode == "" && n != 1) || (tc.wantCode != "" && n != 0) {
				t.Fatalf("applied %d times", n)
			}
			if tc.fault.Kind == FaultDropResponse {
				if evs[0].Fault != FaultDropResponse || !evs[0].Applied || evs[1].Applied || evs[1].Fault != "" {
					t.Fatalf("drop events = %+v / %+v", evs[0], evs[1])
				}
			}
			if len(c.PendingFaults()) != 0 && tc.fault.Count > 0 {
				t.Fatalf("count-limited fault still pending: %+v", c.PendingFaults())
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	c := defaultCloud(t)
	if err := c.InjectFault(Fault{Service: "sts", Kind: FaultLatency, Latency: 150 * time.Millisecond, Count: 1}); err != nil {
		t.Fatal(err)
	}
	cli := stsFor(t, c, DefaultResponderKeyID)
	start := time.Now()
	if _, err := cli.GetCallerIdentity(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("call took %v, want >= 150ms", d)
	}
	if ev := lastCall(t, c, "GetCallerIdentity"); ev.Fault != FaultLatency {
		t.Fatalf("fault = %q", ev.Fault)
	}
	start = time.Now()
	if _, err := cli.GetCallerIdentity(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("second call took %v; the Count=1 latency fault should be spent", d)
	}
}

// TestFaultProbabilityIsSeeded checks that the same RandSeed hits the same
// calls, so a flaky drill can be replayed.
func TestFaultProbabilityIsSeeded(t *testing.T) {
	pattern := func() string {
		seed := DefaultSeed()
		seed.RandSeed = 42
		seed.Faults = []Fault{{Service: "sts", Operation: "GetCallerIdentity", Kind: FaultThrottle, Probability: 0.5}}
		c := startCloud(t, seed)
		cli := sts.NewFromConfig(noRetry(cfgFor(t, c, DefaultResponderKeyID)))
		var b strings.Builder
		for range 30 {
			if _, err := cli.GetCallerIdentity(ctx(t), nil); err != nil {
				if errCode(err) != "Throttling" {
					t.Fatalf("unexpected %v", err)
				}
				b.WriteByte('T')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Fatalf("same seed, different hits:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "T"); n == 0 || n == len(a) {
		t.Fatalf("probability 0.5 hit %d of %d calls", n, len(a))
	}
}

func TestInjectFaultValidation(t *testing.T) {
	c := defaultCloud(t)
	for _, f := range []Fault{
		{Kind: "explode"},
		{Kind: FaultThrottle, Service: "dynamodb"},
		{Kind: FaultThrottle, Count: -1},
		{Kind: FaultThrottle, Probability: 1.5},
		{Kind: FaultLatency},
	} {
		if err := c.InjectFault(f); err == nil {
			t.Errorf("InjectFault(%+v) succeeded", f)
		}
	}
}

// A denied permission answers AccessDenied on every attempt, retries included,
// applies nothing, and works again once granted; a denial for another key or
// operation does not fire.
func TestDenyAndGrantPermission(t *testing.T) {
	cases := []struct {
		name          string
		service, op   string
		key           string
		wantCode      string
		wantGrantLift int
	}{
		{"denied to sever's key", "iam", "UpdateAccessKey", DefaultResponderKeyID, "AccessDenied", 1},
		{"denied to every caller", "IAM", "UpdateAccessKey", "", "AccessDenied", 1},
		{"denied to another key", "iam", "UpdateAccessKey", DefaultCompromisedKeyID, "", 1},
		{"another operation denied", "iam", "DeleteAccessKey", "", "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCloud(t)
			if err := c.DenyPermission(tc.service, tc.op, tc.key); err != nil {
				t.Fatal(err)
			}
			cli := iam.NewFromConfig(fastRetry(cfgFor(t, c, DefaultResponderKeyID)))
			_, err := cli.UpdateAccessKey(ctx(t), deactivateInput())
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("error %q, want %q (%v)", got, tc.wantCode, err)
			}
			if tc.wantCode == "" {
				return
			}
			if !strings.Contains(err.Error(), "is not authorized to perform: iam:UpdateAccessKey") {
				t.Errorf("message %v does not name the permission", err)
			}
			if n := c.Applied("UpdateAccessKey"); n != 0 {
				t.Fatalf("denied call applied %d times", n)
			}
			if ev := lastCall(t, c, "UpdateAccessKey"); ev.Fault != FaultAccessDenied {
				t.Errorf("call log fault %q, want %q", ev.Fault, FaultAccessDenied)
			}
			if n := c.GrantPermission(tc.service, tc.op, tc.key); n != tc.wantGrantLift {
				t.Fatalf("grant lifted %d denials, want %d", n, tc.wantGrantLift)
			}
			if _, err := cli.UpdateAccessKey(ctx(t), deactivateInput()); err != nil {
				t.Fatalf("after the grant: %v", err)
			}
			if k, _ := c.Key(DefaultCompromisedKeyID); k.Status != "Inactive" {
				t.Fatalf("key %s after the grant, want Inactive", k.Status)
			}
		})
	}
	if err := defaultCloud(t).DenyPermission("iam", "", ""); err == nil {
		t.Error("a denial without an operation was accepted")
	}
}

// familyContainment is one family twin on a drill cloud with a live credential,
// the containment call sever's action makes for it (with the client the action
// uses), and whether that call's effect has been applied.
type familyContainment struct {
	service, op string
	contain     func(t *testing.T) (status int, retryAfter string, err error)
	applied     func() bool
	calls       func() int
}

func gcpContainment(t *testing.T, c *Cloud) familyContainment {
	g := NewGCPTwin("")
	c.ServeGCP(g)
	resp, err := g.NewKey(g.ResponderEmail())
	if err != nil {
		t.Fatal(err)
	}
	file, err := g.KeyFile(resp, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	stolen, _ := g.NewKey(g.WorkloadEmail())
	svc, err := gcpiam.NewService(context.Background(), option.WithEndpoint(c.URL()+"/"),
		option.WithAuthCredentialsJSON(option.ServiceAccount, file))
	if err != nil {
		t.Fatal(err)
	}
	return familyContainment{service: GCPService, op: GCPOpDisableKey,
		contain: func(t *testing.T) (int, string, error) {
			_, err := svc.Projects.ServiceAccounts.Keys.Disable(g.KeyName(stolen), &gcpiam.DisableServiceAccountKeyRequest{}).Context(ctx(t)).Do()
			var ge *googleapi.Error
			if errors.As(err, &ge) {
				return ge.Code, ge.Header.Get("Retry-After"), err
			}
			return 0, "", err
		},
		applied: func() bool { st, _ := g.KeyState(stolen); return st.Disabled },
		calls:   func() int { return g.Calls(GCPOpDisableKey) },
	}
}

func azureContainment(t *testing.T, c *Cloud) familyContainment {
	az := NewAzureTwin()
	c.ServeAzure(az)
	sever := az.AddApp("sever", true)
	_, secret, err := az.AddSecret(sever, "sever")
	if err != nil {
		t.Fatal(err)
	}
	workload := az.AddApp("workload", false)
	stolen, _, _ := az.AddSecret(workload, "ci")
	hc := AzureClient(c.URL())
	cred, err := azidentity.NewClientSecretCredential(az.TenantID, sever, secret,
		&azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true, ClientOptions: azcore.ClientOptions{Transport: hc}})
	if err != nil {
		t.Fatal(err)
	}
	return familyContainment{service: AzureService, op: AzureOpRemovePassword,
		contain: func(t *testing.T) (int, string, error) {
			tok, err := cred.GetToken(ctx(t), policy.TokenRequestOptions{Scopes: []string{"https://" + AzureGraphHost + "/.default"}})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, "https://"+AzureGraphHost+"/v1.0/applications(appId='"+workload+"')/removePassword",
				strings.NewReader(`{"keyId":"`+stolen+`"}`))
			r.Header.Set("Authorization", "Bearer "+tok.Token)
			r.Header.Set("Content-Type", "application/json")
			return answerOf(hc.Do(r))
		},
		applied: func() bool { return !az.SecretPresent(workload, stolen) },
		calls:   func() int { return az.Calls(AzureOpRemovePassword) },
	}
}

func vaultContainment(t *testing.T, c *Cloud) familyContainment {
	twin, responder := NewVaultTwin("")
	c.ServeVault(twin)
	twin.AddToken(TokenSpec{Accessor: DefaultVaultAccessor})
	vc := vaultClient(t, c, responder)
	return familyContainment{service: VaultService, op: VaultOpRevokeAccessor,
		contain: func(t *testing.T) (int, string, error) {
			err := vc.Auth().Token().RevokeAccessorWithContext(ctx(t), DefaultVaultAccessor)
			var re *vault.ResponseError
			if errors.As(err, &re) {
				return re.StatusCode, "", err
			}
			return 0, "", err
		},
		applied: func() bool { return !twin.TokenLive(DefaultVaultAccessor) },
		calls: func() int {
			n := 0
			for _, e := range c.Calls() {
				if e.Service == VaultService && e.Operation == VaultOpRevokeAccessor {
					n++
				}
			}
			return n
		},
	}
}

func githubContainment(t *testing.T, c *Cloud) familyContainment {
	gh, err := NewGitHubTwin()
	if err != nil {
		t.Fatal(err)
	}
	c.ServeGitHub(gh)
	stolen := gh.NewToken("ghp_", "octocat")
	return familyContainment{service: GitHubService, op: GitHubOpRevoke,
		contain: func(t *testing.T) (int, string, error) {
			r, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, c.URL()+"/credentials/revoke",
				strings.NewReader(`{"credentials":["`+stolen+`"]}`))
			r.Header.Set("Accept", "application/vnd.github+json")
			r.Header.Set("X-GitHub-Api-Version", "2022-11-28")
			return answerOf(http.DefaultClient.Do(r))
		},
		applied: func() bool { return gh.TokenRevoked(stolen) },
		calls:   func() int { return gh.Calls(GitHubOpRevoke) },
	}
}

// answerOf is the status and Retry-After of a net/http answer, or its error.
func answerOf(resp *http.Response, err error) (int, string, error) {
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, resp.Header.Get("Retry-After"), fmt.Errorf("answered %d", resp.StatusCode)
	}
	return 0, "", nil
}

// Every family twin takes the drill cloud's faults on its containment call, with
// the client sever's action uses: a throttle and a server error refuse it with
// the vendor's status (and Retry-After where the vendor sends one) and leave the
// credential alone, a latency lets it through, and a dropped response applies
// it but never answers. Each fault fires once and the call is counted.
func TestFamilyTwinFaults(t *testing.T) {
	twins := []struct {
		name       string
		start      func(*testing.T, *Cloud) familyContainment
		caller     string // the containment call's caller, as a fault names it
		throttle   int
		retryAfter string
		server     int
	}{
		{"gcp", gcpContainment, FaultCallerResponder, 429, "", 503},
		{"azure", azureContainment, FaultCallerResponder, 429, "1", 503},
		{"vault", vaultContainment, FaultCallerResponder, 429, "", 500},
		// GitHub's revocation API is unauthenticated: no caller to name.
		{"github", githubContainment, "", 403, "1", 503},
	}
	kinds := []struct {
		kind    FaultKind
		applied bool
		refused bool // the client sees an HTTP error status
		dropped bool // the client sees a transport error
	}{
		{FaultThrottle, false, true, false},
		{FaultServerError, false, true, false},
		{FaultLatency, true, false, false},
		{FaultDropResponse, true, false, true},
	}
	for _, tw := range twins {
		for _, k := range kinds {
			t.Run(tw.name+"/"+string(k.kind), func(t *testing.T) {
				c := defaultCloud(t)
				fc := tw.start(t, c)
				f := Fault{Service: fc.service, Operation: fc.op, KeyID: tw.caller, Kind: k.kind, Count: 1}
				if k.kind == FaultLatency {
					f.Latency = time.Millisecond
				}
				if err := c.InjectFault(f); err != nil {
					t.Fatal(err)
				}
				status, retryAfter, err := fc.contain(t)
				switch {
				case k.refused:
					want := map[FaultKind]int{FaultThrottle: tw.throttle, FaultServerError: tw.server}[k.kind]
					if status != want {
						t.Errorf("status %d (%v), want %d", status, err, want)
					}
					if k.kind == FaultThrottle && retryAfter != tw.retryAfter {
						t.Errorf("Retry-After %q, want %q", retryAfter, tw.retryAfter)
					}
				case k.dropped:
					if err == nil || status != 0 {
						t.Errorf("a dropped response answered: status %d, %v", status, err)
					}
				case err != nil:
					t.Errorf("containment under %s: %v", k.kind, err)
				}
				if got := fc.applied(); got != k.applied {
					t.Errorf("applied = %v, want %v", got, k.applied)
				}
				if n := fc.calls(); n != 1 {
					t.Errorf("%d %s calls counted, want 1", n, fc.op)
				}
				if p := c.PendingFaults(); len(p) != 0 {
					t.Errorf("fault did not fire: %+v still pending", p)
				}
				if k.applied {
					return
				}
				// The fault was spent: the next call goes through.
				if _, _, err := fc.contain(t); err != nil {
					t.Errorf("containment after the fault: %v", err)
				}
				if !fc.applied() {
					t.Error("containment after the fault did not apply")
				}
			})
		}
	}
}

// A fault on a family twin names one of its operations; the errors list what
// the drill cloud serves.
func TestFamilyFaultValidation(t *testing.T) {
	for _, tc := range []struct {
		fault   Fault
		wantErr string // "" accepts
	}{
		{Fault{Service: "gcp", Operation: GCPOpDisableKey, Kind: FaultThrottle}, ""},
		{Fault{Service: "GCP", Kind: FaultDropResponse}, ""},
		{Fault{Service: "azure", Operation: AzureOpRegenerateKey, Kind: FaultServerError}, ""},
		{Fault{Service: "vault", Operation: VaultOpRevokePrefix, KeyID: FaultCallerResponder, Kind: FaultThrottle}, ""},
		{Fault{Service: "github", Operation: GitHubOpPatchAlert, Kind: FaultLatency, Latency: time.Second}, ""},
		{Fault{Service: "gcp", Operation: "DisableServiceAccountKey", Kind: FaultThrottle}, "one of token, keys.get, keys.disable"},
		{Fault{Service: "azure", Operation: "removePassword", Kind: FaultThrottle}, "remove_password"},
		{Fault{Service: "gcloud", Kind: FaultThrottle}, "(one of anthropic, azure, bedrock"},
	} {
		err := (&Cloud{}).InjectFault(tc.fault)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%+v refused: %v", tc.fault, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%+v: error %v, want one naming %q", tc.fault, err, tc.wantErr)
		}
	}
	for _, svc := range []string{GCPService, AzureService, VaultService, GitHubService} {
		if !slices.Contains(FaultServices(), svc) || len(FaultOperations(svc)) == 0 {
			t.Errorf("%s: not listed in FaultServices or FaultOperations", svc)
		}
	}
}

// Faults pick their caller by any name the twin knows it by, and ClearFaults
// empties the twins' own queues too.
func TestFamilyFaultCallerAndClear(t *testing.T) {
	c := defaultCloud(t)
	fc := gcpContainment(t, c)
	g := c.GCP()
	stolen := ""
	for id := range g.keys {
		if g.keys[id].email == g.WorkloadEmail() {
			stolen = id
		}
	}
	// A fault for the stolen key, or by the workload's e-mail, leaves the responder's call alone.
	for _, key := range []string{stolen, g.KeyName(stolen), g.WorkloadEmail()} {
		if err := c.InjectFault(Fault{Service: GCPService, KeyID: key, Kind: FaultThrottle}); err != nil {
			t.Fatal(err)
		}
	}
	g.InjectGCPFault(GCPOpDisableKey, 503, 3)
	c.ClearFaults()
	if err := c.InjectFault(Fault{Service: GCPService, Operation: GCPOpDisableKey, KeyID: stolen, Kind: FaultThrottle}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fc.contain(t); err != nil {
		t.Fatalf("responder's call hit a fault for another caller or a cleared one: %v", err)
	}
	if len(c.PendingFaults()) != 1 {
		t.Errorf("pending %+v, want the stolen key's fault unspent", c.PendingFaults())
	}
}
