package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

var githubSecret = []byte("github-webhook-secret-0123456789")

func adapterFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "adapters", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recorder is a fakeService that keeps every signal it is given.
type recorder struct {
	mu      sync.Mutex
	signals []sever.Signal
	fail    func(n int) error // n counts calls from 1; nil accepts all
}

func (r *recorder) service() *fakeService {
	return &fakeService{SubmitSignalFunc: func(ctx context.Context, s sever.Signal) (service.SubmitResult, error) {
		r.mu.Lock()
		r.signals = append(r.signals, s)
		n := len(r.signals)
		r.mu.Unlock()
		if r.fail != nil {
			if err := r.fail(n); err != nil {
				return service.SubmitResult{}, err
			}
		}
		return acceptAll(ctx, s)
	}}
}

func (r *recorder) got() []sever.Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sever.Signal(nil), r.signals...)
}

func newAdapterAPI(t testing.TB, rec *recorder) *api {
	return newAPI(t, rec.service(), func(o *httpapi.Options) { o.GitHubWebhookSecret = githubSecret })
}

// githubReq is a delivery as GitHub sends it: signed, no bearer token.
func githubReq(body, event, delivery string) req {
	return req{method: "POST", path: "/v1/signals/github", contentType: "application/json", body: body,
		header: map[string]string{
			"X-GitHub-Event":      event,
			"X-GitHub-Delivery":   delivery,
			"X-Hub-Signature-256": adapters.SignGitHub(githubSecret, []byte(body)),
		}}
}

func adapterReq(source, token, body string) req {
	return req{method: "POST", path: "/v1/signals/" + source, token: token, contentType: "application/json", body: body}
}

func TestAdaptersAccepted(t *testing.T) {
	t.Parallel()
	const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	tests := []struct {
		name      string
		r         req
		reporter  string
		event     string
		wantKinds []sever.SignalKind
		wantIDs   []string // source event IDs
		wantCred  sever.Credential
	}{
		{name: "aws-health exposure: two signals", r: adapterReq("aws-health", adminToken, adapterFixture(t, "aws-health-credentials-exposed.json")),
			reporter: "admin", event: "AWS_RISK_CREDENTIALS_EXPOSED",
			wantKinds: []sever.SignalKind{sever.KindCredentialExposed, sever.KindVendorAction},
			wantIDs:   []string{"7bf73129-1428-4cd3-a780-95db273d1602", "7bf73129-1428-4cd3-a780-95db273d1602#quarantine"},
			wantCred:  sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE", Principal: "ci-deployer", Account: "123456789012"}},
		{name: "guardduty", r: adapterReq("guardduty", writerToken, adapterFixture(t, "guardduty-anomalous-model-invocation.json")),
			reporter: "writer", event: "Impact:IAMUser/AnomalousModelInvocation",
			wantKinds: []sever.SignalKind{sever.KindAbuseReport}, wantIDs: []string{"6ac8ba2c5e9d4f3b1d0e7f2a9c8b7e61"},
			wantCred: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAI44QH8DHBEXAMPLE", Principal: "bedrock-batch", Account: "123456789012"}},
		{name: "github, signature only", r: githubReq(adapterFixture(t, "github-secret-scanning-created.json"), "secret_scanning_alert", delivery),
			reporter: "github-webhook", event: "secret_scanning_alert.created",
			wantKinds: []sever.SignalKind{sever.KindCredentialExposed}, wantIDs: []string{"example-org/payments-api/secret-scanning/42/created"},
			wantCred: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "example-org/payments-api/secret-scanning/42"}},
		{name: "github, bearer only (the dev token)", r: func() req {
			r := githubReq(adapterFixture(t, "github-secret-scanning-created.json"), "secret_scanning_alert", delivery)
			delete(r.header, "X-Hub-Signature-256")
			r.token = adminToken
			return r
		}(), reporter: "admin", event: "secret_scanning_alert.created",
			wantKinds: []sever.SignalKind{sever.KindCredentialExposed}, wantIDs: []string{"example-org/payments-api/secret-scanning/42/created"},
			wantCred: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "example-org/payments-api/secret-scanning/42"}},
		{name: "github, bearer and signature", r: func() req {
			r := githubReq(adapterFixture(t, "github-secret-scanning-created.json"), "secret_scanning_alert", delivery)
			r.token = writerToken
			return r
		}(), reporter: "writer", event: "secret_scanning_alert.created",
			wantKinds: []sever.SignalKind{sever.KindCredentialExposed}, wantIDs: []string{"example-org/payments-api/secret-scanning/42/created"},
			wantCred: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "example-org/payments-api/secret-scanning/42"}},
		{name: "github, form-encoded", r: func() req {
			body := "payload=" + url.QueryEscape(adapterFixture(t, "github-secret-scanning-created.json"))
			r := githubReq(body, "secret_scanning_alert", delivery)
			r.contentType = "application/x-www-form-urlencoded"
			return r
		}(), reporter: "github-webhook", event: "secret_scanning_alert.created",
			wantKinds: []sever.SignalKind{sever.KindCredentialExposed}, wantIDs: []string{"example-org/payments-api/secret-scanning/42/created"},
			wantCred: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "example-org/payments-api/secret-scanning/42"}},
		{name: "ocsf", r: adapterReq("ocsf", writerToken, adapterFixture(t, "ocsf-detection-finding-aws-key.json")),
			reporter: "writer", event: "detection_finding",
			wantKinds: []sever.SignalKind{sever.KindAnomalousUsage}, wantIDs: []string{"det-2025-06-01-000173"},
			wantCred: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE", Principal: "ci-deployer", Account: "123456789012"}},
		{name: "provider", r: adapterReq("provider", writerToken, adapterFixture(t, "provider-openai-key-revoked.json")),
			reporter: "writer", event: "key_revoked",
			wantKinds: []sever.SignalKind{sever.KindVendorAction}, wantIDs: []string{"openai/evt_01JX2EXAMPLE"},
			wantCred: sever.Credential{Provider: "openai", Type: sever.CredOpenAIAPIKey, ID: "key_abc123EXAMPLE", Account: "proj_example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			a := newAdapterAPI(t, rec)
			resp := a.doWant(t, tt.r, http.StatusAccepted)
			res := decodeJSON[httpapi.AdapterResult](t, resp)
			got := rec.got()
			if res.Status != httpapi.AdapterAccepted || res.Event != tt.event || len(res.Signals) != len(got) {
				t.Errorf("answer = %+v, want accepted %s with one receipt per signal", res, tt.event)
			}
			if len(got) != len(tt.wantKinds) {
				t.Fatalf("service got %d signals, want %d", len(got), len(tt.wantKinds))
			}
			for i, s := range got {
				switch {
				case s.Kind != tt.wantKinds[i] || vendorEventID(s.SourceEventID) != tt.wantIDs[i] || s.Origin != sever.OriginVendor && s.Source != "ocsf":
					t.Errorf("signal %d kind/event/origin = %q/%q/%q, want %q/%q", i, s.Kind, s.SourceEventID, s.Origin, tt.wantKinds[i], tt.wantIDs[i])
				case s.Credential != tt.wantCred:
					t.Errorf("signal %d credential = %+v, want %+v", i, s.Credential, tt.wantCred)
				case s.PayloadSHA256 != sever.SHA256Hex([]byte(tt.r.body)):
					t.Errorf("signal %d PayloadSHA256 is not the raw body's", i)
				case s.Reporter != tt.reporter:
					t.Errorf("signal %d reporter = %q, want %q", i, s.Reporter, tt.reporter)
				case !s.ReceivedAt.Equal(fixedNow) || s.Receipt == "":
					t.Errorf("signal %d intake stamps: received %v, receipt %q", i, s.ReceivedAt, s.Receipt)
				case s.ID != sever.SignalID(s.Source, s.SourceEventID, s.Receipt) || res.Signals[i].SignalID != s.ID:
					t.Errorf("signal %d ID = %q, answer %q", i, s.ID, res.Signals[i].SignalID)
				}
				if err := s.Validate(); err != nil {
					t.Errorf("signal %d fails Validate: %v", i, err)
				}
			}
		})
	}
}

func TestAdaptersIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		r      req
		status int
		reason string
	}{
		{"aws-health maintenance", adapterReq("aws-health", writerToken, adapterFixture(t, "aws-health-ec2-maintenance.json")), 202, "not a credential exposure"},
		{"guardduty sample", adapterReq("guardduty", writerToken, adapterFixture(t, "guardduty-sample.json")), 202, "sample finding"},
		{"guardduty EC2", adapterReq("guardduty", writerToken, adapterFixture(t, "guardduty-ec2-port-probe.json")), 202, "not an IAM user's access key"},
		{"github resolved", githubReq(strings.Replace(adapterFixture(t, "github-secret-scanning-created.json"), `"action": "created"`, `"action": "resolved"`, 1),
			"secret_scanning_alert", "d1"), 202, "opens no incident"},
		{"github push event", githubReq(`{"ref":"refs/heads/main"}`, "push", "d2"), 202, "not secret_scanning_alert"},
		{"github ping", githubReq(adapterFixture(t, "github-ping.json"), "ping", "d3"), 200, "ping"},
		{"ocsf incident finding", adapterReq("ocsf", writerToken, strings.Replace(adapterFixture(t, "ocsf-detection-finding-aws-key.json"),
			`"class_uid": 2004`, `"class_uid": 2005`, 1)), 202, "not a Detection Finding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			a := newAdapterAPI(t, rec)
			resp := a.doWant(t, tt.r, tt.status)
			res := decodeJSON[httpapi.AdapterResult](t, resp)
			wantStatus := httpapi.AdapterIgnored
			if tt.status == 200 {
				wantStatus = httpapi.AdapterPong
			}
			if res.Status != wantStatus || !strings.Contains(res.Reason, tt.reason) || res.Signals == nil || len(res.Signals) != 0 {
				t.Errorf("answer = %+v (%s), want %s with reason %q and an empty signal list", res, resp.Body, wantStatus, tt.reason)
			}
			if n := len(rec.got()); n != 0 {
				t.Errorf("the service got %d signals from an ignored payload", n)
			}
			if tt.status == 202 && !strings.Contains(a.logs.String(), `"msg":"adapter payload ignored"`) {
				t.Errorf("no log line records the ignored payload: %s", a.logs)
			}
		})
	}
}

func TestAdaptersRejected(t *testing.T) {
	t.Parallel()
	ghBody := adapterFixture(t, "github-secret-scanning-created.json")
	tests := []struct {
		name     string
		r        req
		noSecret bool // configure no GitHub webhook secret
		status   int
		code     string
		field    string
	}{
		// Authentication, per adapter.
		{name: "aws-health without a token", r: adapterReq("aws-health", "", adapterFixture(t, "aws-health-credentials-exposed.json")), status: 401, code: sever.EUNAUTHORIZED},
		{name: "guardduty with a bad token", r: adapterReq("guardduty", "nope-0123456789abcdef", adapterFixture(t, "guardduty-anomalous-model-invocation.json")), status: 401, code: sever.EUNAUTHORIZED},
		{name: "ocsf with a read-only token", r: adapterReq("ocsf", readerToken, adapterFixture(t, "ocsf-detection-finding-aws-key.json")), status: 403, code: httpapi.EFORBIDDEN},
		{name: "provider without a token", r: adapterReq("provider", "", adapterFixture(t, "provider-openai-key-revoked.json")), status: 401, code: sever.EUNAUTHORIZED},
		{name: "github, bad signature", r: func() req {
			r := githubReq(ghBody, "secret_scanning_alert", "d1")
			r.header["X-Hub-Signature-256"] = adapters.SignGitHub([]byte("another-secret-0123456789"), []byte(ghBody))
			return r
		}(), status: 401, code: sever.EUNAUTHORIZED, field: "X-Hub-Signature-256"},
		{name: "github, bad signature beside a good bearer token", r: func() req {
			r := githubReq(ghBody, "secret_scanning_alert", "d1")
			r.header["X-Hub-Signature-256"] = "sha256=" + strings.Repeat("0", 64)
			r.token = adminToken
			return r
		}(), status: 401, code: sever.EUNAUTHORIZED, field: "X-Hub-Signature-256"},
		{name: "github, body changed after signing", r: func() req {
			r := githubReq(ghBody, "secret_scanning_alert", "d1")
			r.body = strings.Replace(ghBody, `"number": 42`, `"number": 43`, 1)
			return r
		}(), status: 401, code: sever.EUNAUTHORIZED, field: "X-Hub-Signature-256"},
		{name: "github, no signature and no token", r: func() req {
			r := githubReq(ghBody, "secret_scanning_alert", "d1")
			delete(r.header, "X-Hub-Signature-256")
			return r
		}(), status: 401, code: sever.EUNAUTHORIZED, field: "X-Hub-Signature-256"},
		{name: "github, signature but no secret configured", r: githubReq(ghBody, "secret_scanning_alert", "d1"), noSecret: true,
			status: 401, code: sever.EUNAUTHORIZED},
		{name: "github, read-only token", r: func() req {
			r := githubReq(ghBody, "secret_scanning_alert", "d1")
			r.token = readerToken
			return r
		}(), status: 403, code: httpapi.EFORBIDDEN},
		// Payloads, per adapter: 400 naming the field.
		{name: "aws-health without a key", r: adapterReq("aws-health", writerToken, strings.Replace(adapterFixture(t, "aws-health-credentials-exposed.json"),
			`"publicKey": "AKIAIOSFODNN7EXAMPLE"`, `"publicKey": "ci-deployer"`, 1)), status: 400, code: sever.EINVALID, field: "detail.eventMetadata.publicKey"},
		{name: "guardduty finding at the aws-health endpoint", r: adapterReq("aws-health", writerToken, adapterFixture(t, "guardduty-anomalous-model-invocation.json")),
			status: 400, code: sever.EINVALID, field: "source"},
		{name: "guardduty bad severity", r: adapterReq("guardduty", writerToken, strings.Replace(adapterFixture(t, "guardduty-anomalous-model-invocation.json"),
			`"severity": 8,`, `"severity": "high",`, 1)), status: 400, code: sever.EINVALID, field: "detail.severity"},
		{name: "github without a delivery id", r: githubReq(ghBody, "secret_scanning_alert", ""), status: 400, code: sever.EINVALID, field: "X-GitHub-Delivery"},
		{name: "github with the secret value", r: githubReq(strings.Replace(ghBody, `"number": 42,`, `"number": 42, "secret": "AKIAIOSFODNN7EXAMPLE",`, 1),
			"secret_scanning_alert", "d1"), status: 400, code: sever.EINVALID, field: "alert.secret"},
		{name: "github, signed but plain text", r: func() req {
			r := githubReq(ghBody, "secret_scanning_alert", "d1")
			r.contentType = "text/plain"
			return r
		}(), status: 415, code: httpapi.EUNSUPPORTEDMEDIA},
		{name: "ocsf without finding_info", r: adapterReq("ocsf", writerToken, `{"class_uid": 2004, "time": 1748770620000}`),
			status: 400, code: sever.EINVALID, field: "finding_info"},
		{name: "ocsf, key pasted into the title", r: adapterReq("ocsf", writerToken, strings.Replace(adapterFixture(t, "ocsf-detection-finding-aws-key.json"),
			`"title": "AWS access key invoking Bedrock from an unfamiliar network"`, `"title": "leaked sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"`, 1)),
			status: 400, code: sever.EINVALID, field: "summary"},
		{name: "provider, unknown field", r: adapterReq("provider", writerToken, strings.Replace(adapterFixture(t, "provider-openai-key-revoked.json"),
			`"schema"`, `"colour": "red", "schema"`, 1)), status: 400, code: sever.EINVALID, field: "colour"},
		{name: "provider, not JSON", r: req{method: "POST", path: "/v1/signals/provider", token: writerToken, contentType: "text/plain", body: "hello"},
			status: 415, code: httpapi.EUNSUPPORTEDMEDIA},
		{name: "unknown adapter", r: adapterReq("splunk", writerToken, `{}`), status: 404, code: sever.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			a := newAPI(t, rec.service(), func(o *httpapi.Options) {
				if !tt.noSecret {
					o.GitHubWebhookSecret = githubSecret
				}
			})
			resp := a.doWant(t, tt.r, tt.status)
			e := apiError(t, resp)
			if e.Code != tt.code || e.Field != tt.field {
				t.Errorf("code/field = %q/%q, want %q/%q (%s)", e.Code, e.Field, tt.code, tt.field, e.Message)
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
			if strings.Contains(resp.Body.String(), "sk-ant-api03-Zm9v") {
				t.Errorf("the answer repeats the secret: %s", resp.Body)
			}
			if n := len(rec.got()); n != 0 {
				t.Errorf("the service got %d signals from a rejected request", n)
			}
		})
	}
}

// TestAdaptersRedelivery checks what the engine's dedup relies on: a resent event
// yields the same signal IDs (same source event IDs), with new receipts.
func TestAdaptersRedelivery(t *testing.T) {
	t.Parallel()
	ghBody := adapterFixture(t, "github-secret-scanning-created.json")
	tests := []struct {
		name   string
		first  req
		second req
		same   bool
	}{
		{"aws-health resent", adapterReq("aws-health", writerToken, adapterFixture(t, "aws-health-credentials-exposed.json")),
			adapterReq("aws-health", adminToken, adapterFixture(t, "aws-health-credentials-exposed.json")), true},
		// An update says the key is still in use: a new signal, not a duplicate.
		{"guardduty finding updated", adapterReq("guardduty", writerToken, adapterFixture(t, "guardduty-anomalous-model-invocation.json")),
			adapterReq("guardduty", writerToken, strings.Replace(adapterFixture(t, "guardduty-anomalous-model-invocation.json"), `"count": 14`, `"count": 15`, 1)), false},
		{"github redelivered", githubReq(ghBody, "secret_scanning_alert", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
			githubReq(ghBody, "secret_scanning_alert", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), true},
		// The delivery ID is outside the signature: the same signed body is the same event.
		{"github, same alert, new delivery", githubReq(ghBody, "secret_scanning_alert", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
			githubReq(ghBody, "secret_scanning_alert", "8e1c2a90-cc78-11e3-81ab-4c9367dc0958"), true},
		{"ocsf resent", adapterReq("ocsf", writerToken, adapterFixture(t, "ocsf-detection-finding-aws-key.json")),
			adapterReq("ocsf", writerToken, adapterFixture(t, "ocsf-detection-finding-aws-key.json")), true},
		{"provider resent", adapterReq("provider", writerToken, adapterFixture(t, "provider-anthropic-key-exposed.json")),
			adapterReq("provider", writerToken, adapterFixture(t, "provider-anthropic-key-exposed.json")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			a := newAdapterAPI(t, rec)
			var answers [2]httpapi.AdapterResult
			for i, r := range []req{tt.first, tt.second} {
				resp := a.do(t, r)
				if resp.Code != http.StatusAccepted {
					t.Fatalf("delivery %d: status %d; body %s", i, resp.Code, resp.Body)
				}
				answers[i] = decodeJSON[httpapi.AdapterResult](t, resp)
			}
			got := rec.got()
			n := len(answers[0].Signals)
			if len(answers[1].Signals) != n || len(got) != 2*n {
				t.Fatalf("answers %+v, service got %d signals", answers, len(got))
			}
			for i := range n {
				first, second := got[i], got[n+i]
				if (first.ID == second.ID) != tt.same || (first.SourceEventID == second.SourceEventID) != tt.same {
					t.Errorf("signal %d: IDs %q/%q, source event IDs %q/%q; want same = %v",
						i, first.ID, second.ID, first.SourceEventID, second.SourceEventID, tt.same)
				}
				if first.Receipt == second.Receipt {
					t.Errorf("signal %d: two deliveries share a receipt", i)
				}
				if first.Credential != second.Credential {
					t.Errorf("signal %d: credential changed between deliveries", i)
				}
			}
		})
	}
}

// TestAdapterPartialFailure: when the engine takes the exposure but not the
// vendor action, the sender gets an error, and its retry resends both with the
// same IDs, so the engine can record the first as a duplicate.
func TestAdapterPartialFailure(t *testing.T) {
	t.Parallel()
	rec := &recorder{fail: func(n int) error {
		if n == 2 {
			return sever.Errorf(sever.EUNAVAILABLE, "", "temporal is down")
		}
		return nil
	}}
	a := newAdapterAPI(t, rec)
	body := adapterFixture(t, "aws-health-credentials-exposed.json")
	resp := a.do(t, adapterReq("aws-health", writerToken, body))
	if resp.Code != http.StatusServiceUnavailable || resp.Header().Get("Retry-After") == "" {
		t.Fatalf("status = %d (Retry-After %q), want 503 with Retry-After; body %s", resp.Code, resp.Header().Get("Retry-After"), resp.Body)
	}
	if resp = a.do(t, adapterReq("aws-health", writerToken, body)); resp.Code != http.StatusAccepted {
		t.Fatalf("retry: status = %d; body %s", resp.Code, resp.Body)
	}
	got := rec.got()
	if len(got) != 4 || got[0].ID != got[2].ID || got[1].ID != got[3].ID || got[0].ID == got[1].ID {
		t.Errorf("submissions %d: IDs %v; want the retry to resend both with the first attempt's IDs", len(got), ids(got))
	}
}

func ids(ss []sever.Signal) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func TestGitHubWebhookSecretOption(t *testing.T) {
	t.Parallel()
	_, err := httpapi.New(httpapi.Options{Service: &fakeService{}, Tokens: testTokens, GitHubWebhookSecret: []byte("tiny5")})
	if err == nil || !strings.Contains(err.Error(), "GitHubWebhookSecret") || strings.Contains(err.Error(), "tiny5") {
		t.Errorf("New with a 5-byte webhook secret: %v; want an error naming the option, not the secret", err)
	}
	// The server keeps its own copy: changing the caller's slice changes nothing.
	secret := append([]byte(nil), githubSecret...)
	rec := &recorder{}
	s, err := httpapi.New(httpapi.Options{Service: rec.service(), Tokens: testTokens, GitHubWebhookSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	a := &api{h: s.Handler(), logs: &syncBuffer{}}
	if resp := a.do(t, githubReq(adapterFixture(t, "github-secret-scanning-created.json"), "secret_scanning_alert", "d1")); resp.Code != http.StatusAccepted {
		t.Errorf("status = %d; body %s", resp.Code, resp.Body)
	}
}

// TestAdapterAnswerShape pins the JSON field names clients read.
func TestAdapterAnswerShape(t *testing.T) {
	t.Parallel()
	a := newAdapterAPI(t, &recorder{})
	resp := a.do(t, adapterReq("guardduty", writerToken, adapterFixture(t, "guardduty-anomalous-model-invocation.json")))
	var m map[string]any
	if err := json.Unmarshal(resp.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	sigs, _ := m["signals"].([]any)
	if m["source"] != "guardduty" || m["status"] != "accepted" || m["event"] != "Impact:IAMUser/AnomalousModelInvocation" || len(sigs) != 1 {
		t.Fatalf("answer %s", resp.Body)
	}
	for _, k := range []string{"incident_id", "signal_id", "duplicate", "status"} {
		if _, ok := sigs[0].(map[string]any)[k]; !ok {
			t.Errorf("receipt lacks %q: %s", k, resp.Body)
		}
	}
}
