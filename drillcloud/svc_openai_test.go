package drillcloud

import (
	"strings"
	"testing"
	"time"
)

const (
	oaProjectPath = "/v1/organization/projects/" + DefaultOpenAIProjectID
	oaKeyPath     = oaProjectPath + "/api_keys/" + DefaultOpenAIKeyID
)

func openAIAdmin(t *testing.T, c *Cloud, method, path, body string) presp {
	t.Helper()
	return c.send(t, preq{method: method, path: path, body: body,
		header: map[string]string{"Authorization": "Bearer " + adminKey(t, c, ProviderOpenAI), "Content-Type": "application/json"}})
}

func TestOpenAIAdminAPI(t *testing.T) {
	c := defaultCloud(t)
	value := keyValue(t, c, DefaultOpenAIKeyID)

	r := openAIAdmin(t, c, "GET", oaProjectPath, "")
	if r.status != 200 || r.json["id"] != DefaultOpenAIProjectID || r.json["status"] != "active" {
		t.Fatalf("project = %d %s", r.status, r.body)
	}
	r = openAIAdmin(t, c, "GET", oaKeyPath, "")
	if r.status != 200 || r.json["id"] != DefaultOpenAIKeyID || r.json["object"] != "organization.project.api_key" {
		t.Fatalf("key = %d %s", r.status, r.body)
	}
	if rv, _ := r.json["redacted_value"].(string); !strings.HasPrefix(rv, "sk-proj-...") || !strings.HasSuffix(rv, value[len(value)-4:]) ||
		strings.Contains(string(r.body), value) {
		t.Fatalf("redacted_value = %q", rv)
	}
	if owner, _ := r.json["owner"].(map[string]any); owner["type"] != "user" {
		t.Fatalf("owner = %v", r.json["owner"])
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no x-request-id header")
	}
	r = openAIAdmin(t, c, "GET", oaProjectPath+"/api_keys?limit=10", "")
	if data, _ := r.json["data"].([]any); r.status != 200 || len(data) != 1 || r.json["object"] != "list" {
		t.Fatalf("list = %d %s", r.status, r.body)
	}

	r = openAIAdmin(t, c, "DELETE", oaKeyPath, "")
	if r.status != 200 || r.json["deleted"] != true || r.json["id"] != DefaultOpenAIKeyID {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	// Gone for good: a second delete and a read both find nothing.
	for _, m := range []string{"DELETE", "GET"} {
		if r = openAIAdmin(t, c, m, oaKeyPath, ""); r.status != 404 || errorType(r) != "not_found" {
			t.Fatalf("%s after delete = %d %s", m, r.status, r.body)
		}
	}
	if n := c.Applied("openai:DeleteProjectAPIKey"); n != 1 {
		t.Fatalf("delete applied %d times", n)
	}
	if k, _ := c.ProviderKey(DefaultOpenAIKeyID); k.Status != "deleted" {
		t.Fatalf("key = %+v", k)
	}
	ev := lastCall(t, c, "DeleteProjectAPIKey")
	if ev.Service != "openai" || ev.Account != DefaultOpenAIOrgID || ev.RequestParameters["projectId"] != DefaultOpenAIProjectID ||
		ev.RequestParameters["apiKeyId"] != DefaultOpenAIKeyID || ev.HTTPStatus != 404 {
		t.Fatalf("last delete event = %+v", ev)
	}
	noSecrets(t, c, value, adminKey(t, c, ProviderOpenAI))
}

func TestOpenAIRefusals(t *testing.T) {
	seed, err := LoadSeed("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := startCloud(t, seed)
	admin := adminKey(t, c, ProviderOpenAI)
	value := keyValue(t, c, "key_supportbot01")
	const keys = "/v1/organization/projects/proj_support/api_keys/"
	cases := []struct {
		name   string
		req    preq
		status int
		code   string
	}{
		{"no key", preq{method: "GET", path: keys + "key_supportbot01"}, 401, "missing_api_key"},
		{"unknown key", preq{method: "GET", path: keys + "key_supportbot01", header: map[string]string{"Authorization": "Bearer sk-admin-nope"}}, 401, "invalid_api_key"},
		{"API key on the Admin API", preq{method: "GET", path: keys + "key_supportbot01", header: map[string]string{"Authorization": "Bearer " + value}}, 403, "insufficient_permissions"},
		{"unknown project", preq{method: "GET", path: "/v1/organization/projects/proj_nope/api_keys/key_supportbot01", header: map[string]string{"Authorization": "Bearer " + admin}}, 404, "not_found"},
		{"key of another project", preq{method: "GET", path: keys + DefaultOpenAIKeyID, header: map[string]string{"Authorization": "Bearer " + admin}}, 404, "not_found"},
		{"service account key", preq{method: "DELETE", path: keys + "key_pipeline0001", header: map[string]string{"Authorization": "Bearer " + admin}}, 400, "invalid_request_error"},
		{"unknown route", preq{method: "POST", path: keys + "key_supportbot01", header: map[string]string{"Authorization": "Bearer " + admin}}, 404, "unknown_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.send(t, tc.req)
			if r.status != tc.status || errorType(r) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	if k, _ := c.ProviderKey("key_pipeline0001"); k.Status != "active" {
		t.Fatalf("service account key = %+v", k)
	}
	noSecrets(t, c, value, admin)
}

func TestAttackerWithStolenOpenAIKey(t *testing.T) {
	c := defaultCloud(t)
	a, err := c.StartAttacker(ctx(t), AttackerConfig{KeyID: DefaultOpenAIKeyID, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "attacker successes", 5*time.Second, func() bool { return a.Stats().Successes >= 3 })
	if r := openAIAdmin(t, c, "DELETE", oaKeyPath, ""); r.status != 200 {
		t.Fatalf("revoke = %d %s", r.status, r.body)
	}
	revoked := time.Now()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("attacker still running after the key was revoked")
	}
	st := a.Stats()
	if op := st.ByOperation[AttackOpenAIChat]; op.Denials != 1 || op.LastError != "invalid_api_key" || op.Successes != st.Successes {
		t.Fatalf("stats = %+v", st)
	}
	if n := a.SuccessesAfter(revoked); n > 1 {
		t.Fatalf("%d successes after revocation", n)
	}
	if k, _ := c.ProviderKey(DefaultOpenAIKeyID); k.Requests != st.Successes {
		t.Fatalf("usage = %+v for %d successes", k, st.Successes)
	}
	noSecrets(t, c, keyValue(t, c, DefaultOpenAIKeyID))
}

func TestStartProviderAttackerValidation(t *testing.T) {
	c := defaultCloud(t)
	for _, cfg := range []AttackerConfig{
		{KeyID: DefaultOpenAIKeyID, Operations: []string{AttackOpenAIChat, AttackListBuckets}},
		{KeyID: DefaultOpenAIKeyID, Operations: []string{AttackOpenAIChat, AttackAnthropicMessages}},
		{KeyID: "key_nosuchkey01"},
	} {
		if _, err := c.StartAttacker(ctx(t), cfg); err == nil {
			t.Errorf("StartAttacker(%+v) succeeded", cfg)
		}
	}
}
