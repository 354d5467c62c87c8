package gcpact_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/api/option"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/activities/gcpact"
	"github.com/sever-ir/sever/drillcloud"
)

// harness is a GCP twin on a test server, sever's activities pointed at it with
// the responder's key file (ADC's service-account form), and a workload key.
type harness struct {
	twin   *drillcloud.GCPTwin
	url    string
	acts   *gcpact.Activities
	victim string // key id
	cred   sever.Credential
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	twin := drillcloud.NewGCPTwin("")
	srv := httptest.NewServer(twin)
	t.Cleanup(srv.Close)
	resp, err := twin.NewKey(twin.ResponderEmail())
	if err != nil {
		t.Fatal(err)
	}
	file, err := twin.KeyFile(resp, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := twin.NewKey(twin.WorkloadEmail())
	if err != nil {
		t.Fatal(err)
	}
	acts := &gcpact.Activities{Principal: "gcp-sa:" + twin.ResponderEmail(), Options: []option.ClientOption{
		option.WithEndpoint(srv.URL + "/"), option.WithAuthCredentialsJSON(option.ServiceAccount, file)}}
	return &harness{twin: twin, url: srv.URL, acts: acts, victim: victim,
		cred: sever.Credential{Provider: "gcp", Type: sever.CredGCPServiceAccountKey, ID: twin.KeyName(victim)}}
}

func (h *harness) in(action string, args sever.Values) sever.ActionInput {
	return sever.ActionInput{IncidentID: "inc-gcp", Action: action, Credential: h.cred, Args: args}
}

func errType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func isRetryable(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && !ae.NonRetryable()
}

// Disable reads before it writes, reads back, and is idempotent; status verifies
// the state; enable compensates.
func TestDisableReadBackEnable(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if st, _ := h.acts.KeyStatus(ctx, h.in(sever.ActionGCPKeyStatus, sever.Values{"expect": "enabled"})); !st.Verified {
		t.Fatalf("status before = %+v, want enabled", st)
	}
	res, err := h.acts.DisableKey(ctx, h.in(sever.ActionGCPDisableKey, sever.Values{"reason": "exposed", "disable_reason": "compromise_detected"}))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced || res.Output["state"] != "disabled" {
		t.Fatalf("disable = %+v", res)
	}
	if st, _ := h.twin.KeyState(h.victim); !st.Disabled || st.DisableReason != gcpact.DisableReasonCompromiseDetected {
		t.Fatalf("twin key = %+v", st)
	}
	again, err := h.acts.DisableKey(ctx, h.in(sever.ActionGCPDisableKey, nil))
	if err != nil || again.Changed || !again.Verified {
		t.Fatalf("second disable = %+v %v; want a verified no-op", again, err)
	}
	if n := h.twin.Calls(drillcloud.GCPOpDisableKey); n != 1 {
		t.Errorf("keys.disable called %d times, want 1", n)
	}
	if st, err := h.acts.KeyStatus(ctx, h.in(sever.ActionGCPKeyStatus, nil)); err != nil || !st.Verified {
		t.Fatalf("status = %+v %v, want verified disabled", st, err)
	}
	if obs, err := h.acts.ObserveExposure(ctx, h.in(sever.ActionGCPObserveExposure, nil)); err != nil || obs.Enforcement != "" || obs.Verified {
		t.Errorf("observe = %+v %v; sever disabled the key, Google did nothing", obs, err)
	}
	en, err := h.acts.EnableKey(ctx, h.in(sever.ActionGCPEnableKey, sever.Values{"reason": "false positive"}))
	if err != nil || !en.Verified || !en.Changed {
		t.Fatalf("enable = %+v %v", en, err)
	}
	if st, _ := h.twin.KeyState(h.victim); st.Disabled {
		t.Fatal("twin key still disabled after enable")
	}
}

// A key Google disabled as exposed is observed as vendor_enforced, sever's
// disable is a verified no-op, and compensation refuses to undo Google's action.
func TestVendorExposedKey(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.twin.VendorExposeKey(h.victim); err != nil {
		t.Fatal(err)
	}
	obs, err := h.acts.ObserveExposure(ctx, h.in(sever.ActionGCPObserveExposure, nil))
	if err != nil || obs.Enforcement != sever.VendorEnforced || !obs.Verified || obs.Actor != "google" {
		t.Fatalf("observe = %+v %v; want vendor_enforced by google", obs, err)
	}
	res, err := h.acts.DisableKey(ctx, h.in(sever.ActionGCPDisableKey, nil))
	if err != nil || res.Changed || !res.Verified || !strings.Contains(res.Summary, "exposed") {
		t.Fatalf("disable = %+v %v", res, err)
	}
	_, err = h.acts.EnableKey(ctx, h.in(sever.ActionGCPEnableKey, nil))
	if errType(err) != activities.ErrForbidden || isRetryable(err) {
		t.Fatalf("enable of an exposed key: %v; want permanent %s", err, activities.ErrForbidden)
	}
	if st, _ := h.twin.KeyState(h.victim); !st.Disabled {
		t.Fatal("Google's disable was undone")
	}
}

// Google's throttling and outages are retryable; a missing permission, an
// unknown key and bad input are permanent, of stable types.
func TestErrorsClassified(t *testing.T) {
	for _, tc := range []struct {
		name      string
		op        string
		status    int
		action    string
		args      sever.Values
		cred      func(*harness) sever.Credential
		wantType  string
		retryable bool
	}{
		{name: "throttled get", op: drillcloud.GCPOpGetKey, status: 429, action: sever.ActionGCPDisableKey, wantType: gcpact.ErrThrottled, retryable: true},
		{name: "unavailable disable", op: drillcloud.GCPOpDisableKey, status: 503, action: sever.ActionGCPDisableKey, wantType: gcpact.ErrUnavailable, retryable: true},
		{name: "permission denied", op: drillcloud.GCPOpDisableKey, status: 403, action: sever.ActionGCPDisableKey, wantType: activities.ErrAccessDenied},
		{name: "logging unavailable", op: drillcloud.GCPOpListEntries, status: 500, action: sever.ActionGCPAuditEvents, wantType: gcpact.ErrUnavailable, retryable: true},
		{name: "unknown key", action: sever.ActionGCPDisableKey, wantType: activities.ErrNotFound,
			cred: func(h *harness) sever.Credential {
				c := h.cred
				c.ID = "projects/drill-project/serviceAccounts/" + h.twin.WorkloadEmail() + "/keys/0123456789abcdef0123456789abcdef01234567"
				return c
			}},
		{name: "bad key name", action: sever.ActionGCPDisableKey, wantType: activities.ErrInvalidArgument,
			cred: func(h *harness) sever.Credential { c := h.cred; c.ID = "projects/x/keys/1"; return c }},
		{name: "wrong credential type", action: sever.ActionGCPKeyStatus, wantType: activities.ErrUnsupported,
			cred: func(h *harness) sever.Credential { c := h.cred; c.Type = sever.CredAWSAccessKey; return c }},
		{name: "bad disable reason", action: sever.ActionGCPDisableKey, args: sever.Values{"disable_reason": "because"}, wantType: activities.ErrInvalidArgument},
		{name: "unknown arg", action: sever.ActionGCPKeyStatus, args: sever.Values{"expct": "disabled"}, wantType: activities.ErrInvalidArgument},
		{name: "bad expect", action: sever.ActionGCPKeyStatus, args: sever.Values{"expect": "gone"}, wantType: activities.ErrInvalidArgument},
		{name: "bad lookback", action: sever.ActionGCPAuditEvents, args: sever.Values{"lookback": "forever"}, wantType: activities.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.op != "" {
				h.twin.InjectGCPFault(tc.op, tc.status, 1)
			}
			in := h.in(tc.action, tc.args)
			if tc.cred != nil {
				in.Credential = tc.cred(h)
			}
			var err error
			switch tc.action {
			case sever.ActionGCPDisableKey:
				_, err = h.acts.DisableKey(context.Background(), in)
			case sever.ActionGCPKeyStatus:
				_, err = h.acts.KeyStatus(context.Background(), in)
			case sever.ActionGCPAuditEvents:
				_, err = h.acts.AuditEvents(context.Background(), in)
			}
			if errType(err) != tc.wantType || isRetryable(err) != tc.retryable {
				t.Fatalf("err = %v (type %q, retryable %v); want %s, retryable %v", err, errType(err), isRetryable(err), tc.wantType, tc.retryable)
			}
			if tc.op == drillcloud.GCPOpGetKey {
				// The retry after the fault succeeds and disables once.
				res, err := h.acts.DisableKey(context.Background(), in)
				if err != nil || !res.Verified || h.twin.Calls(drillcloud.GCPOpDisableKey) != 1 {
					t.Fatalf("retry = %+v %v", res, err)
				}
			}
		})
	}
}

// The attacker's calls with the stolen key are in the audit evidence, and after
// containment its next attempt is refused.
func TestAuditEventsAndAttackerRefused(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	stolen, err := h.twin.KeyFile(h.victim, h.url)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := drillcloud.GCPAttackerCall(ctx, h.url, stolen); err != nil {
			t.Fatalf("attacker call before containment: %v", err)
		}
	}
	ev, err := h.acts.AuditEvents(ctx, h.in(sever.ActionGCPAuditEvents, sever.Values{"lookback": "1h", "max_events": 2}))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Output["count"] != 2 || ev.Output["truncated"] != true || len(ev.Evidence) != 1 || len(ev.Evidence[0].SHA256) != 64 {
		t.Fatalf("audit events = %+v", ev)
	}
	if m, _ := ev.Output["methods"].([]string); len(m) != 1 || m[0] != "google.iam.admin.v1.GetServiceAccount" {
		t.Errorf("methods = %v", ev.Output["methods"])
	}
	if _, err := h.acts.DisableKey(ctx, h.in(sever.ActionGCPDisableKey, nil)); err != nil {
		t.Fatal(err)
	}
	err = drillcloud.GCPAttackerCall(ctx, h.url, stolen)
	if !errors.Is(err, drillcloud.ErrGCPRefused) {
		t.Fatalf("attacker call after containment: %v; want refused", err)
	}
}

// Key names: the resource name, its full form, and a bare key id with the
// service account and project beside it.
func TestKeyNameOf(t *testing.T) {
	const email = "app@proj-123.iam.gserviceaccount.com"
	const id = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		cred sever.Credential
		want string
		ok   bool
	}{
		{sever.Credential{ID: "projects/proj-123/serviceAccounts/" + email + "/keys/" + id}, "projects/proj-123/serviceAccounts/" + email + "/keys/" + id, true},
		{sever.Credential{ID: "//iam.googleapis.com/projects/proj-123/serviceAccounts/" + email + "/keys/" + id}, "projects/proj-123/serviceAccounts/" + email + "/keys/" + id, true},
		{sever.Credential{ID: id, Principal: email, Account: "proj-123"}, "projects/proj-123/serviceAccounts/" + email + "/keys/" + id, true},
		{sever.Credential{ID: id, Principal: email}, "projects/-/serviceAccounts/" + email + "/keys/" + id, true},
		{sever.Credential{ID: id}, "", false},
		{sever.Credential{ID: "projects/proj-123/serviceAccounts/" + email + "/keys/" + id + "/../x"}, "", false},
		{sever.Credential{ID: "projects/proj-123/serviceAccounts/a b/keys/" + id}, "", false},
		{sever.Credential{ID: ""}, "", false},
	} {
		k, err := gcpact.KeyNameOf(tc.cred)
		if (err == nil) != tc.ok || (tc.ok && k.String() != tc.want) {
			t.Errorf("KeyNameOf(%+v) = %v, %v; want %q ok=%v", tc.cred, k, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseKeyName(f *testing.F) {
	f.Add("projects/proj-123/serviceAccounts/app@proj-123.iam.gserviceaccount.com/keys/0123456789abcdef")
	f.Add("//iam.googleapis.com/projects/-/serviceAccounts/1234567890/keys/ab")
	f.Add("projects//serviceAccounts//keys/")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := gcpact.ParseKeyName(s)
		if err != nil {
			return
		}
		// A parsed name prints back to what was parsed and never holds a path
		// separator, query or space in a segment.
		if k.String() != strings.TrimPrefix(s, "//iam.googleapis.com/") {
			t.Fatalf("%q parsed to %q", s, k.String())
		}
		for _, seg := range []string{k.Project, k.ServiceAccount, k.KeyID} {
			if seg == "" || strings.ContainsAny(seg, "/?# \t\n%") {
				t.Fatalf("%q: segment %q", s, seg)
			}
		}
	})
}

var _ = time.Second
