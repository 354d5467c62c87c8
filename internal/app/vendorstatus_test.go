package app

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/tokens"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/tokenstore"
)

// noService is a service.Service that no vendor-status request reaches.
type noService struct{ service.Service }

// The issuer's notice feed reports a token inactive through the API; the
// tokenstore.observe_vendor_state action then records vendor_enforced with the
// vendor as actor, and the store keeps who reported it. The enterprise's own
// status is untouched.
func TestVendorStatusReachesObserveAction(t *testing.T) {
	store := tokenstore.Open(filepath.Join(t.TempDir(), "tokens.json"))
	if err := store.Put(tokenstore.Token{ID: "tok-1", Owner: "billing"}); err != nil {
		t.Fatal(err)
	}
	p := &Parts{Tokens: store}
	const feed = "feed-0123456789abcdef"
	api, err := httpapi.New(httpapi.Options{Service: noService{}, VendorStatus: vendorStatus{p},
		Tokens: []httpapi.Token{{Name: "acme-feed", Value: feed, Scopes: []string{httpapi.ScopeTokensVendor}}}})
	if err != nil {
		t.Fatal(err)
	}
	put := func(id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("PUT", "/v1/tokens/"+id+"/vendor-status", strings.NewReader(`{"status":"inactive"}`))
		r.Header.Set("Authorization", "Bearer "+feed)
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		api.Handler().ServeHTTP(rec, r)
		return rec
	}
	if rec := put("nope"); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown token: %d %s; want 404", rec.Code, rec.Body)
	}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	(&tokens.Activities{Stores: map[string]tokens.Store{"": store}}).Register(env)
	observe := func() sever.ActionResult {
		t.Helper()
		in := sever.ActionInput{IncidentID: "inc-1", StepID: "observe", Action: sever.ActionTokenVendorSeen,
			Credential: sever.Credential{Provider: "acme", Type: sever.CredGenericToken, ID: "tok-1"}}
		v, err := env.ExecuteActivity(in.Action, in)
		var res sever.ActionResult
		if err == nil {
			err = v.Get(&res)
		}
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := observe(); res.Enforcement != "" {
		t.Fatalf("before the notice: %+v; want no enforcement", res)
	}
	if rec := put("tok-1"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"reported_by":"acme-feed"`) {
		t.Fatalf("notice: %d %s", rec.Code, rec.Body)
	}
	if res := observe(); res.Enforcement != sever.VendorEnforced || res.Actor != "vendor:acme" {
		t.Fatalf("after the notice: %+v; want vendor_enforced by vendor:acme", res)
	}
	tok, err := store.Get("tok-1")
	if err != nil || tok.VendorReportedBy != "acme-feed" || tok.Status != tokenstore.Active {
		t.Fatalf("token = %+v, %v; want reported by acme-feed, enterprise status active", tok, err)
	}
}
