package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	const id = "inc-acme-0123456789abcdef0123"
	approverToken := "approver-0123456789abcdef"
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name       string
		body       string
		token      string
		header     map[string]string
		svcErr     error
		wantStatus int
		wantField  string
		wantReq    service.DecideRequest
	}{
		{name: "approve", body: `{"step":"disable","decision":"approve","reason":"confirmed leak"}`, token: approverToken, wantStatus: 200,
			wantReq: service.DecideRequest{Step: "disable", Approve: true, Reason: "confirmed leak", Approver: "U012AB3CD", Channel: "api"}},
		{name: "deny from the CLI with hash and key", body: `{"step":"disable","decision":"deny","args_sha256":"` + hash + `","channel":"cli","as":"U012AB3CD"}`,
			token: approverToken, header: map[string]string{"Idempotency-Key": "k-1"}, wantStatus: 200,
			wantReq: service.DecideRequest{Step: "disable", ArgsSHA256: hash, Approver: "U012AB3CD", Channel: "cli", IdempotencyKey: httpapi.ScopedIdempotencyKey("alice", "k-1")}},
		{name: "bound to a request", body: `{"step":"disable","decision":"approve","nonce":"0123456789abcdef0123456789abcdef"}`, token: approverToken, wantStatus: 200,
			wantReq: service.DecideRequest{Step: "disable", Approve: true, Approver: "U012AB3CD", Channel: "api", Nonce: "0123456789abcdef0123456789abcdef"}},
		{name: "bad nonce", body: `{"step":"disable","decision":"approve","nonce":"not-a-nonce"}`, token: approverToken, wantStatus: 400, wantField: "nonce"},
		{name: "as someone else", body: `{"step":"disable","decision":"approve","as":"U999"}`, token: approverToken, wantStatus: 403, wantField: "as"},
		{name: "approver is not taken from the body", body: `{"step":"disable","decision":"approve","approver":"U999"}`, token: approverToken, wantStatus: 400, wantField: "approver"},
		{name: "missing step", body: `{"decision":"approve"}`, token: approverToken, wantStatus: 400, wantField: "step"},
		{name: "bad decision", body: `{"step":"disable","decision":"yes"}`, token: approverToken, wantStatus: 400, wantField: "decision"},
		{name: "bad hash", body: `{"step":"disable","decision":"approve","args_sha256":"xyz"}`, token: approverToken, wantStatus: 400, wantField: "args_sha256"},
		{name: "bad channel", body: `{"step":"disable","decision":"approve","channel":"slack-http"}`, token: approverToken, wantStatus: 400, wantField: "channel"},
		{name: "refused by the workflow", body: `{"step":"disable","decision":"approve"}`, token: approverToken,
			svcErr: sever.Errorf(sever.ECONFLICT, "", "decide: U012AB3CD raised this incident and may not approve its actions"), wantStatus: 409},
		{name: "missing scope", body: `{"step":"disable","decision":"approve"}`, token: closerToken, wantStatus: 403},
		{name: "no token", body: `{"step":"disable","decision":"approve"}`, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *service.DecideRequest
			a := newAPI(t, &fakeService{DecideFunc: func(_ context.Context, gotID string, r service.DecideRequest) (service.DecideResult, error) {
				if gotID != id {
					t.Errorf("id = %q, want %q", gotID, id)
				}
				got = &r
				return service.DecideResult{IncidentID: id, Step: r.Step, Status: "running"}, tt.svcErr
			}}, func(o *httpapi.Options) {
				o.Tokens = append(o.Tokens, httpapi.Token{Name: "alice", Value: approverToken,
					Scopes: []string{httpapi.ScopeApprovalsWrite}, Approver: "U012AB3CD"})
			})
			rec := a.do(t, req{method: "POST", path: "/v1/incidents/" + id + "/approvals", token: tt.token,
				contentType: "application/json", body: tt.body, header: tt.header})
			if !checkServiceRequest(t, rec, tt.wantStatus, tt.wantField, tt.svcErr, got, tt.wantReq) {
				return
			}
		})
	}
}

// A close carries the closing token's approver identity, the same mapping decisions
// use: an operator's Slack user, never the token's name taken for one.
func TestCloseCarriesApproverIdentity(t *testing.T) {
	t.Parallel()
	const id = "inc-acme-0123456789abcdef0123"
	for _, tc := range []struct {
		name         string
		token        httpapi.Token
		wantBy, want string
	}{
		{"operator with a Slack user", httpapi.Token{Name: "alice", Value: "operator-0123456789abcdef", Approver: "U012AB3CD"}, "alice", "U012AB3CD"},
		{"token without one decides as its name", httpapi.Token{Name: "ops-bot", Value: "opsbot-0123456789abcdef"}, "ops-bot", "ops-bot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got *service.CloseRequest
			a := newAPI(t, &fakeService{CloseIncidentFunc: func(_ context.Context, _ string, r service.CloseRequest) error {
				got = &r
				return nil
			}}, func(o *httpapi.Options) {
				tok := tc.token
				tok.Scopes = []string{httpapi.ScopeIncidentsWrite}
				o.Tokens = append(o.Tokens, tok)
			})
			rec := a.do(t, req{method: "POST", path: "/v1/incidents/" + id + "/close", token: tc.token.Value,
				contentType: "application/json", body: `{"reason":"test key","false_positive":true}`})
			if rec.Code != 200 || got == nil {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got.By != tc.wantBy || got.Approver != tc.want || !got.FalsePositive {
				t.Errorf("close request %+v; want by %q deciding as %q", got, tc.wantBy, tc.want)
			}
		})
	}
}
