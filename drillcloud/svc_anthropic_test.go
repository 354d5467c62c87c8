package drillcloud

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// preq is one plain HTTP request to a model-provider endpoint of the cloud.
type preq struct {
	method, path, body string
	header             map[string]string
}

type presp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (c *Cloud) send(t *testing.T, r preq) presp {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx(t), r.method, c.URL()+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := presp{status: resp.StatusCode, header: resp.Header, body: b}
	_ = json.Unmarshal(b, &out.json)
	return out
}

func adminKey(t *testing.T, c *Cloud, provider string) string {
	t.Helper()
	k, err := c.ProviderAdminKey(provider, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyValue(t *testing.T, c *Cloud, id string) string {
	t.Helper()
	v, err := c.ProviderKeyValue(id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// anthropicAdmin is a request to the Anthropic Admin API with the admin key.
func anthropicAdmin(t *testing.T, c *Cloud, method, path, body string) presp {
	t.Helper()
	return c.send(t, preq{method: method, path: path, body: body,
		header: map[string]string{"x-api-key": adminKey(t, c, ProviderAnthropic), "anthropic-version": "2023-06-01", "content-type": "application/json"}})
}

// errorType returns Anthropic's error.type or OpenAI's error.code.
func errorType(r presp) string {
	e, _ := r.json["error"].(map[string]any)
	if code, _ := e["code"].(string); code != "" {
		return code
	}
	typ, _ := e["type"].(string)
	return typ
}

// noSecrets fails when any recorded event holds one of the values.
func noSecrets(t *testing.T, c *Cloud, values ...string) {
	t.Helper()
	for _, e := range c.Calls() {
		b, _ := json.Marshal(e)
		for _, v := range values {
			if strings.Contains(string(b), v) {
				t.Fatalf("event %s %s holds a key value: %s", e.Service, e.Operation, b)
			}
		}
	}
}

const anKeyPath = "/v1/organizations/api_keys/" + DefaultAnthropicKeyID

func TestAnthropicAdminAPI(t *testing.T) {
	c := defaultCloud(t)
	value := keyValue(t, c, DefaultAnthropicKeyID)

	r := anthropicAdmin(t, c, "GET", anKeyPath, "")
	if r.status != 200 || r.json["status"] != "active" || r.json["id"] != DefaultAnthropicKeyID || r.json["type"] != "api_key" {
		t.Fatalf("get = %d %s", r.status, r.body)
	}
	if hint, _ := r.json["partial_key_hint"].(string); !strings.HasPrefix(hint, "sk-ant-api03-") || !strings.HasSuffix(hint, value[len(value)-4:]) ||
		strings.Contains(string(r.body), value) {
		t.Fatalf("partial_key_hint = %q", hint)
	}
	if r.header.Get("Request-Id") == "" {
		t.Error("no request-id header")
	}

	r = anthropicAdmin(t, c, "POST", anKeyPath, `{"status":"inactive"}`)
	if r.status != 200 || r.json["status"] != "inactive" {
		t.Fatalf("update = %d %s", r.status, r.body)
	}
	// Setting the status it already has changes nothing.
	if r = anthropicAdmin(t, c, "POST", anKeyPath, `{"status":"inactive"}`); r.status != 200 {
		t.Fatalf("second update = %d %s", r.status, r.body)
	}
	if n := c.Applied("anthropic:UpdateAPIKey"); n != 1 {
		t.Fatalf("UpdateAPIKey applied %d times, want 1", n)
	}
	if k, _ := c.ProviderKey(DefaultAnthropicKeyID); k.Status != "inactive" || k.Organization != DefaultAnthropicOrgID {
		t.Fatalf("key = %+v", k)
	}
	ev := lastCall(t, c, "UpdateAPIKey")
	if ev.Service != "anthropic" || ev.EventSource != "anthropic" || ev.Account != DefaultAnthropicOrgID ||
		!strings.Contains(ev.Principal, "/admin-key/") || ev.RequestParameters["apiKeyId"] != DefaultAnthropicKeyID ||
		ev.RequestParameters["status"] != "inactive" || ev.ReadOnly {
		t.Fatalf("event = %+v", ev)
	}

	r = anthropicAdmin(t, c, "GET", "/v1/organizations/api_keys?status=inactive&limit=5", "")
	data, _ := r.json["data"].([]any)
	if r.status != 200 || len(data) != 1 || r.json["first_id"] != DefaultAnthropicKeyID || r.json["has_more"] != false {
		t.Fatalf("list = %d %s", r.status, r.body)
	}
	noSecrets(t, c, value, adminKey(t, c, ProviderAnthropic))
}

func TestAnthropicRefusals(t *testing.T) {
	c := defaultCloud(t)
	admin := adminKey(t, c, ProviderAnthropic)
	value := keyValue(t, c, DefaultAnthropicKeyID)
	cases := []struct {
		name   string
		req    preq
		status int
		typ    string
	}{
		{"no key", preq{method: "GET", path: anKeyPath, header: map[string]string{"anthropic-version": "2023-06-01"}}, 401, "authentication_error"},
		{"unknown key", preq{method: "GET", path: anKeyPath, header: map[string]string{"x-api-key": "sk-ant-admin01-nope", "anthropic-version": "2023-06-01"}}, 401, "authentication_error"},
		{"API key on the Admin API", preq{method: "GET", path: anKeyPath, header: map[string]string{"x-api-key": value, "anthropic-version": "2023-06-01"}}, 403, "permission_error"},
		{"admin key for inference", preq{method: "POST", path: "/v1/messages", body: `{"model":"m","max_tokens":1,"messages":[]}`,
			header: map[string]string{"x-api-key": admin, "anthropic-version": "2023-06-01"}}, 403, "permission_error"},
		{"no version", preq{method: "GET", path: anKeyPath, header: map[string]string{"x-api-key": admin}}, 400, "invalid_request_error"},
		{"unknown key id", preq{method: "GET", path: "/v1/organizations/api_keys/apikey_01Nope000", header: map[string]string{"x-api-key": admin, "anthropic-version": "2023-06-01"}}, 404, "not_found_error"},
		{"bad status", preq{method: "POST", path: anKeyPath, body: `{"status":"disabled"}`, header: map[string]string{"x-api-key": admin, "anthropic-version": "2023-06-01"}}, 400, "invalid_request_error"},
		{"unknown field", preq{method: "POST", path: anKeyPath, body: `{"state":"inactive"}`, header: map[string]string{"x-api-key": admin, "anthropic-version": "2023-06-01"}}, 400, "invalid_request_error"},
		{"unknown route", preq{method: "DELETE", path: anKeyPath, header: map[string]string{"x-api-key": admin, "anthropic-version": "2023-06-01"}}, 404, "not_found_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.send(t, tc.req)
			if r.status != tc.status || errorType(r) != tc.typ || r.json["type"] != "error" {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.typ)
			}
		})
	}
	if k, _ := c.ProviderKey(DefaultAnthropicKeyID); k.Status != "active" {
		t.Fatalf("a refused call changed the key: %+v", k)
	}
	// A refused call with a key the cloud knows is filed under that key's id.
	if evs := c.CallsBy(DefaultAnthropicKeyID); len(evs) != 1 || evs[0].HTTPStatus != 403 {
		t.Fatalf("calls by the API key = %+v", evs)
	}
	noSecrets(t, c, value, admin)
}

func TestAnthropicArchivedKeyStaysArchived(t *testing.T) {
	seed, err := LoadSeed("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := startCloud(t, seed)
	if k, err := c.ProviderAdminKey(ProviderAnthropic, "acme-anthropic"); err != nil || k != "sk-ant-admin01-drillAdminKeyNotRandom0001" {
		t.Fatalf("admin key = %q %v", k, err)
	}
	r := anthropicAdmin(t, c, "POST", "/v1/organizations/api_keys/apikey_01RetiredKey00", `{"status":"active"}`)
	if r.status != 400 || !strings.Contains(string(r.body), "archived") {
		t.Fatalf("reactivating an archived key = %d %s", r.status, r.body)
	}
	// The default seed's key belongs to no organization of this seed.
	if r := anthropicAdmin(t, c, "GET", anKeyPath, ""); r.status != 404 {
		t.Fatalf("key of another organization = %d %s", r.status, r.body)
	}
}

func TestAttackerWithStolenAnthropicKey(t *testing.T) {
	c := defaultCloud(t)
	a, err := c.StartAttacker(ctx(t), AttackerConfig{KeyID: DefaultAnthropicKeyID, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "attacker successes", 5*time.Second, func() bool { return a.Stats().Successes >= 3 })
	if r := anthropicAdmin(t, c, "POST", anKeyPath, `{"status":"inactive"}`); r.status != 200 {
		t.Fatalf("disable = %d %s", r.status, r.body)
	}
	contained := time.Now()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("attacker still running after the key was disabled")
	}
	st := a.Stats()
	if st.ByOperation[AttackAnthropicMessages].Denials != 1 || st.ByOperation[AttackAnthropicMessages].LastError != "authentication_error" ||
		!strings.Contains(st.StopReason, "every operation refused") {
		t.Fatalf("stats = %+v", st)
	}
	if n := a.SuccessesAfter(contained); n > 1 {
		t.Fatalf("%d successes after containment", n)
	}
	k, _ := c.ProviderKey(DefaultAnthropicKeyID)
	if k.Requests != st.Successes || k.InputTokens == 0 || k.LastUsed.IsZero() {
		t.Fatalf("usage = %+v for %d successes", k, st.Successes)
	}
	for _, e := range c.CallsBy(DefaultAnthropicKeyID) {
		if e.Operation != "CreateMessage" || e.SourceIP != defaultAttackerIP || e.Account != DefaultAnthropicOrgID {
			t.Fatalf("attacker call logged as %+v", e)
		}
	}
	noSecrets(t, c, keyValue(t, c, DefaultAnthropicKeyID))
}

func TestVendorDisableProviderKey(t *testing.T) {
	c := defaultCloud(t)
	if err := c.VendorDisableProviderKey(ProviderAnthropic, DefaultAnthropicKeyID); err != nil {
		t.Fatal(err)
	}
	if err := c.VendorDisableProviderKey(ProviderOpenAI, DefaultOpenAIKeyID); err != nil {
		t.Fatal(err)
	}
	if k, _ := c.ProviderKey(DefaultAnthropicKeyID); k.Status != "inactive" {
		t.Fatalf("anthropic key = %+v", k)
	}
	if k, _ := c.ProviderKey(DefaultOpenAIKeyID); k.Status != "deleted" {
		t.Fatalf("openai key = %+v", k)
	}
	for _, op := range []string{"UpdateAPIKey", "DeleteProjectAPIKey"} {
		if ev := lastCall(t, c, op); !strings.HasSuffix(ev.Principal, ":internal") || !ev.Applied {
			t.Fatalf("vendor %s logged as %+v", op, ev)
		}
	}
	if err := c.VendorDisableProviderKey(ProviderOpenAI, DefaultAnthropicKeyID); err == nil {
		t.Fatal("disabled an Anthropic key as OpenAI")
	}
	// The provider acting first is what sever then reads.
	if r := anthropicAdmin(t, c, "GET", anKeyPath, ""); r.json["status"] != "inactive" {
		t.Fatalf("get after vendor disable = %s", r.body)
	}
}

func TestProviderFaults(t *testing.T) {
	c := defaultCloud(t)
	if err := c.InjectFault(Fault{Service: "Anthropic", Operation: "UpdateAPIKey", Kind: FaultThrottle, Count: 1}); err != nil {
		t.Fatal(err)
	}
	r := anthropicAdmin(t, c, "POST", anKeyPath, `{"status":"inactive"}`)
	if r.status != 429 || errorType(r) != "rate_limit_error" || r.header.Get("Retry-After") == "" {
		t.Fatalf("throttled = %d %s", r.status, r.body)
	}
	if k, _ := c.ProviderKey(DefaultAnthropicKeyID); k.Status != "active" {
		t.Fatal("a throttled call changed the key")
	}

	if err := c.InjectFault(Fault{Service: "anthropic", Operation: "UpdateAPIKey", Kind: FaultDropResponse, Count: 1}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx(t), "POST", c.URL()+anKeyPath, strings.NewReader(`{"status":"inactive"}`))
	req.Header.Set("x-api-key", adminKey(t, c, ProviderAnthropic))
	req.Header.Set("anthropic-version", "2023-06-01")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("dropped response arrived")
	}
	if k, _ := c.ProviderKey(DefaultAnthropicKeyID); k.Status != "inactive" {
		t.Fatal("drop_response did not apply the call")
	}
	evs := opEvents(c, "UpdateAPIKey")
	if len(evs) != 2 || evs[0].Fault != FaultThrottle || evs[0].Applied || evs[1].Fault != FaultDropResponse || !evs[1].Applied {
		t.Fatalf("events = %+v", evs)
	}

	if err := c.InjectFault(Fault{Service: "openai", Kind: FaultServerError, Count: 1}); err != nil {
		t.Fatal(err)
	}
	r = openAIAdmin(t, c, "GET", oaKeyPath, "")
	if r.status != 500 || errorType(r) != "server_error" {
		t.Fatalf("server error = %d %s", r.status, r.body)
	}
	if err := c.InjectFault(Fault{Service: "gemini", Kind: FaultThrottle}); err == nil {
		t.Fatal("fault for an unserved provider accepted")
	}
}

// Provider endpoints live beside AWS on one listener; AWS requests still reach AWS.
func TestProviderDispatchLeavesAWSAlone(t *testing.T) {
	c := defaultCloud(t)
	out, err := iamFor(t, c, DefaultResponderKeyID).ListAccessKeys(ctx(t), &iam.ListAccessKeysInput{UserName: ptr(DefaultCompromisedUser)})
	if err != nil || len(out.AccessKeyMetadata) != 1 {
		t.Fatalf("IAM through the shared listener: %v", err)
	}
	for _, tc := range []struct {
		r    *http.Request
		want string
	}{
		{httptestRequest("POST", "/v1/messages", nil), ProviderAnthropic},
		{httptestRequest("GET", "/v1/organizations/api_keys", map[string]string{"Authorization": "Bearer x"}), ProviderOpenAI},
		{httptestRequest("GET", "/v1/organization/projects/p", nil), ProviderOpenAI},
		{httptestRequest("GET", "/v1/organizations/api_keys", map[string]string{"x-api-key": "k"}), ProviderAnthropic},
		{httptestRequest("GET", "/v1/messages", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=x"}), ""},
		{httptestRequest("GET", "/sever-evidence/v1/x", map[string]string{"x-api-key": "k"}), ""},
		{httptestRequest("POST", "/", map[string]string{"Authorization": "Bearer x"}), ""},
	} {
		if got := providerFor(tc.r); got != tc.want {
			t.Errorf("providerFor(%s %s %v) = %q, want %q", tc.r.Method, tc.r.URL.Path, tc.r.Header, got, tc.want)
		}
	}
}

func httptestRequest(method, path string, header map[string]string) *http.Request {
	r, _ := http.NewRequest(method, "http://drill"+path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

func TestProviderSeed(t *testing.T) {
	seed, err := LoadSeed("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := startCloud(t, seed)
	if k, ok := c.ProviderKey("apikey_01SupportBotProd"); !ok || k.WorkspaceID != "wrkspc_01Support" || k.Status != "active" {
		t.Fatalf("anthropic key = %+v %v", k, ok)
	}
	if v := keyValue(t, c, "apikey_01SupportBotProd"); v != "sk-ant-api03-supportBotKeyNotRandom0001" {
		t.Fatal("seeded key value not kept")
	}
	if k, _ := c.ProviderKey("key_pipeline0001"); k.Owner != "service_account" || k.Project != "proj_support" {
		t.Fatalf("openai key = %+v", k)
	}
	if orgs := c.ProviderOrgs(ProviderOpenAI); len(orgs) != 1 || orgs[0].ID != "org-acme" || orgs[0].Projects[0] != "proj_support" {
		t.Fatalf("openai orgs = %+v", orgs)
	}
	if v := keyValue(t, c, "key_pipeline0001"); !strings.HasPrefix(v, "sk-svcacct-") {
		t.Fatalf("service account key value prefix: %.11s", v)
	}

	const head = "accounts:\n  - id: \"111122223333\"\nproviders:\n"
	cases := []struct{ name, yaml, want string }{
		{"unknown field", head + "  anthropic:\n    organizations:\n      - id: o\n        keyz: []\n", "seed:7: field keyz not found"},
		{"bad key id", head + "  anthropic:\n    organizations:\n      - id: o\n        keys:\n          - id: sk-ant-api03-oops\n",
			"seed:8: providers.anthropic.organizations[0].keys[0].id: key id \"sk-ant-api03-oops\" must look like apikey_"},
		{"bad status", head + "  anthropic:\n    organizations:\n      - id: o\n        keys:\n          - {id: apikey_01Abcdef, status: disabled}\n",
			"providers.anthropic.organizations[0].keys[0].status: status must be active, inactive or archived"},
		{"duplicate id", head + "  openai:\n    organizations:\n      - id: org-a\n        projects:\n          - id: proj_a\n            keys: [{id: key_abcdef}, {id: key_abcdef}]\n",
			"duplicate id key_abcdef"},
		{"bad project", head + "  openai:\n    organizations:\n      - id: org-a\n        projects: [{id: project-a}]\n", "must look like proj_"},
		{"bad owner", head + "  openai:\n    organizations:\n      - id: org-a\n        projects:\n          - id: proj_a\n            keys: [{id: key_abcdef, owner: robot}]\n",
			"owner must be user or service_account"},
		{"same value twice", head + "  anthropic:\n    organizations:\n      - id: o\n        keys:\n          - {id: apikey_01Abcdef, value: sk-ant-api03-sameValueSameValue01}\n          - {id: apikey_01Ghijkl, value: sk-ant-api03-sameValueSameValue01}\n",
			"the same key value is given twice"},
		{"bad admin key", head + "  openai:\n    organizations:\n      - {id: org-a, admin_key: sk-proj-notAnAdminKey0000000}\n", "admin key must look like sk-admin-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want containing %q", err, tc.want)
			}
			if strings.Contains(fmtErr(err), "sameValueSameValue") || strings.Contains(fmtErr(err), "notAnAdminKey") {
				t.Fatalf("error repeats a key value: %v", err)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
