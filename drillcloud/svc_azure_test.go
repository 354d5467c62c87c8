package drillcloud

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestAzureClientStaysInTheDrill: the drill client sends only Azure's hosts to
// the twin and refuses any other, so a drill can never reach a real endpoint.
func TestAzureClientStaysInTheDrill(t *testing.T) {
	twin := NewAzureTwin()
	srv := httptest.NewServer(twin)
	t.Cleanup(srv.Close)
	hc := AzureClient(srv.URL)
	for _, tc := range []struct {
		url    string
		reach  bool
		status int
	}{
		{"https://" + AzureLoginHost + "/" + DefaultAzureTenantID + "/v2.0/.well-known/openid-configuration", true, 200},
		{"https://" + AzureGraphHost + "/v1.0/applications(appId='x')", true, 401},
		{"https://" + AzureARMHost + "/subscriptions/x?api-version=1", true, 401},
		{"https://acme" + AzureOpenAISuffix + "/openai/deployments/d/chat/completions", true, 404},
		{"https://example.com/", false, 0},
		{"https://" + AzureOpenAISuffix[1:] + "/", false, 0},
		{"https://graph.microsoft.com.evil.example/", false, 0},
	} {
		resp, err := hc.Get(tc.url)
		if !tc.reach {
			if err == nil {
				resp.Body.Close()
				t.Errorf("GET %s reached %d; want refused by the transport", tc.url, resp.StatusCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("GET %s: %v", tc.url, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s = %d, want %d", tc.url, resp.StatusCode, tc.status)
		}
	}
}

// TestAzureTwinTokens: Entra's answers to the client-credentials grant, and the
// checks Graph and ARM make of the token: audience and the caller's rights.
func TestAzureTwinTokens(t *testing.T) {
	twin := NewAzureTwin()
	srv := httptest.NewServer(twin)
	t.Cleanup(srv.Close)
	hc := AzureClient(srv.URL)
	ctx := context.Background()
	sever := twin.AddApp("sever", true)
	_, severSecret, _ := twin.AddSecret(sever, "s")
	workload := twin.AddApp("w", false)
	_, wSecret, _ := twin.AddSecret(workload, "w")

	token := func(app, secret, scope string) (string, int) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "client_secret": {secret}, "scope": {scope}}
		resp, err := hc.PostForm("https://"+AzureLoginHost+"/"+twin.TenantID+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out.AccessToken, resp.StatusCode
	}
	call := func(tok, u string) int {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	graph := "https://" + AzureGraphHost + "/v1.0/applications(appId='" + workload + "')"
	arm := "https://" + AzureARMHost + "/subscriptions/" + twin.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/none?api-version=2024-10-01"

	gTok, st := token(sever, severSecret, "https://graph.microsoft.com/.default")
	if st != 200 || call(gTok, graph) != 200 {
		t.Fatalf("sever's Graph token: %d", st)
	}
	if got := call(gTok, arm); got != 401 {
		t.Errorf("a Graph token on ARM = %d, want 401", got)
	}
	aTok, _ := token(sever, severSecret, "https://management.azure.com/.default")
	if got := call(aTok, arm); got != 404 {
		t.Errorf("sever's ARM token on a missing account = %d, want 404", got)
	}
	wTok, st := token(workload, wSecret, "https://graph.microsoft.com/.default")
	if st != 200 || call(wTok, graph) != 403 {
		t.Errorf("a workload's token on Graph: token %d; want a token refused 403", st)
	}
	for _, tc := range []struct {
		app, secret, scope string
		status             int
	}{
		{sever, "wrong", "https://graph.microsoft.com/.default", 401},
		{"00000000-0000-4000-8000-000000000000", "x", "https://graph.microsoft.com/.default", 400},
		{sever, severSecret, "https://storage.azure.com/.default", 400},
	} {
		if _, st := token(tc.app, tc.secret, tc.scope); st != tc.status {
			t.Errorf("token(%s, scope %s) = %d, want %d", tc.app, tc.scope, st, tc.status)
		}
	}
	twin.FailNext("token", 503, 0)
	if _, st := token(sever, severSecret, "https://graph.microsoft.com/.default"); st != 503 {
		t.Errorf("faulted token = %d, want 503", st)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sever}, "client_secret": {severSecret}, "scope": {"https://graph.microsoft.com/.default"}}
	if resp, err := hc.PostForm("https://"+AzureLoginHost+"/"+twin.TenantID+"/oauth2/v2.0/token", form); err == nil {
		resp.Body.Close()
		t.Error("a dropped connection answered")
	}
	if err := AzureAttackSecret(ctx, hc, twin.TenantID, workload, "wrong"); !errors.As(err, new(*AzureRefusal)) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("attacker with a wrong secret: %v", err)
	}
}
