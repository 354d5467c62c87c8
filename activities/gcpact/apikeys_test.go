package gcpact_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/activities/gcpact"
	"github.com/sever-ir/sever/drillcloud"
)

// An API key found with its key string: lookupKey names it, delete reads before it
// writes and reads back, the attacker's next Gemini call is refused, and undelete
// compensates. The key string is in no result or error.
func TestAPIKeyLookupDeleteUndelete(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	uid, keyString := h.twin.NewAPIKey("gemini-ci")
	if err := drillcloud.GCPAPIKeyAttackerCall(h.url, keyString); err != nil {
		t.Fatalf("attacker call before containment: %v", err)
	}
	name, err := h.acts.LookupAPIKeyName(ctx, keyString)
	if err != nil || name != h.twin.APIKeyName(uid) {
		t.Fatalf("lookup = %q, %v; want %s", name, err, h.twin.APIKeyName(uid))
	}
	in := func(action string, args sever.Values) sever.ActionInput {
		return sever.ActionInput{IncidentID: "inc-gcp-apikey", Action: action, Args: args,
			Credential: sever.Credential{Provider: "gcp", Type: sever.CredGoogleAPIKey, ID: name}}
	}
	var results []sever.ActionResult
	res, err := h.acts.DeleteAPIKey(ctx, in(sever.ActionGCPDeleteAPIKey, sever.Values{"reason": "exposed"}))
	if err != nil || !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced || res.Output["state"] != "deleted" {
		t.Fatalf("delete = %+v %v", res, err)
	}
	results = append(results, res)
	again, err := h.acts.DeleteAPIKey(ctx, in(sever.ActionGCPDeleteAPIKey, nil))
	if err != nil || again.Changed || !again.Verified || h.twin.Calls(drillcloud.GCPOpDeleteAPIKey) != 1 {
		t.Fatalf("second delete = %+v %v; want a verified no-op", again, err)
	}
	st, err := h.acts.APIKeyStatus(ctx, in(sever.ActionGCPAPIKeyStatus, nil))
	if err != nil || !st.Verified {
		t.Fatalf("status = %+v %v", st, err)
	}
	results = append(results, again, st)
	if err := drillcloud.GCPAPIKeyAttackerCall(h.url, keyString); err == nil || !strings.Contains(err.Error(), drillcloud.ErrGCPRefused.Error()) {
		t.Fatalf("attacker call after containment: %v; want refused", err)
	}
	un, err := h.acts.UndeleteAPIKey(ctx, in(sever.ActionGCPUndeleteAPIKey, sever.Values{"reason": "false positive"}))
	if err != nil || !un.Verified || !un.Changed || h.twin.APIKeyDeleted(uid) {
		t.Fatalf("undelete = %+v %v", un, err)
	}
	results = append(results, un)
	for _, r := range results {
		if strings.Contains(r.Summary, keyString) || strings.Contains(strings.Join(stringsOf(r.Output), " "), keyString) {
			t.Errorf("the key string is in %+v", r)
		}
	}
}

func stringsOf(v sever.Values) []string {
	var out []string
	for k, x := range v {
		out = append(out, k, strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(x), "\n", " "), "\t", " ")))
	}
	return out
}

func toString(x any) string {
	if s, ok := x.(string); ok {
		return s
	}
	return ""
}

// Failures of lookupKey never quote the key string; bad names and types are
// permanent and typed.
func TestAPIKeyErrors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const unknown = "AIzaSyUNKNOWNunknownUNKNOWNunknown12345"
	// A key Google does not know, or one in a project sever cannot see, is a
	// permanent answer of its own type (an intake ignores the alert on it); an
	// outage is retryable. None quotes the key string.
	for _, tc := range []struct {
		name      string
		fault     int // status the twin answers lookupKey with once; 0 = none
		wantType  string
		retryable bool
	}{
		{"unknown key", 0, gcpact.ErrAPIKeyUnknown, false},
		{"key in a project sever cannot see", 403, gcpact.ErrAPIKeyUnknown, false},
		{"outage", 503, gcpact.ErrUnavailable, true},
	} {
		t.Run("lookup "+tc.name, func(t *testing.T) {
			if tc.fault != 0 {
				h.twin.InjectGCPFault(drillcloud.GCPOpLookupAPIKey, tc.fault, 1)
			}
			_, err := h.acts.LookupAPIKeyName(ctx, unknown)
			if errType(err) != tc.wantType || isRetryable(err) != tc.retryable || gcpact.IsAPIKeyUnknown(err) != (tc.wantType == gcpact.ErrAPIKeyUnknown) {
				t.Fatalf("lookup: %v (type %q); want type %s, retryable %v", err, errType(err), tc.wantType, tc.retryable)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), unknown) {
				t.Errorf("error quotes the key string: %v", err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		cred sever.Credential
		want string
	}{
		{"bad name", sever.Credential{Type: sever.CredGoogleAPIKey, ID: "AIzaSyNOTaNAMEbutAkeyString0123456789"}, activities.ErrInvalidArgument},
		{"wrong type", sever.Credential{Type: sever.CredGCPServiceAccountKey, ID: "projects/p-1234/locations/global/keys/k"}, activities.ErrUnsupported},
		{"unknown key", sever.Credential{Type: sever.CredGoogleAPIKey, ID: "projects/" + drillcloud.DefaultGCPProject + "/locations/global/keys/nope"}, activities.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.acts.DeleteAPIKey(ctx, sever.ActionInput{Action: sever.ActionGCPDeleteAPIKey, Credential: tc.cred})
			if errType(err) != tc.want || isRetryable(err) {
				t.Fatalf("err = %v; want permanent %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "AIza") {
				t.Errorf("error quotes a key string: %v", err)
			}
		})
	}
}

func FuzzParseAPIKeyName(f *testing.F) {
	f.Add("projects/acme-prod/locations/global/keys/0f1e2d3c-0000-4000-8000-000000000001")
	f.Add("//apikeys.googleapis.com/projects/123456/locations/global/keys/k")
	f.Add("AIzaSyA-secret-looking-value-0123456789")
	f.Fuzz(func(t *testing.T, s string) {
		name, err := gcpact.ParseAPIKeyName(s)
		if err != nil {
			// An id that is not a name is never quoted back.
			if err.Error() != "the id is not an API key name (projects/<project>/locations/global/keys/<key id>)" &&
				!strings.HasPrefix(err.Error(), "the id looks like an API key string") {
				t.Fatalf("error quotes the id: %v", err)
			}
			return
		}
		if strings.ContainsAny(name, "?# \t\n%") || !strings.HasPrefix(name, "projects/") {
			t.Fatalf("%q parsed to %q", s, name)
		}
	})
}
