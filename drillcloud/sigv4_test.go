package drillcloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

// verifierServer checks each request with the server-side verifier and
// reports the outcome in X-Verify ("ok" or the sigErrKind number).
func verifierServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a, err := parseAuthorization(r.Header.Get("Authorization"))
		if err != nil {
			w.Header().Set("X-Verify", "parse: "+err.Error())
			return
		}
		_, _, serr := verifySignature(newSigInput(r, body), a, testSecret, time.Now().UTC(), a.Service == "s3")
		if serr != nil {
			w.Header().Set("X-Verify", strconv.Itoa(int(serr.kind)))
			w.Header().Set("X-Verify-Msg", serr.msg)
			return
		}
		w.Header().Set("X-Verify", "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifySignatureAgainstSDKSigner(t *testing.T) {
	srv := verifierServer(t)
	type req struct {
		method, path, rawPath, query string
		body                         string
		header                       map[string][]string
		service                      string
		payloadHash                  string // default: sha256(body)
		token                        string
		signedAt                     time.Duration // offset from now
		tamper                       func(*http.Request)
		secret                       string
	}
	cases := []struct {
		name string
		req  req
		want string
	}{
		{name: "query POST form", req: req{method: "POST", path: "/", body: "Action=ListAccessKeys&UserName=ci-deployer&Version=2010-05-08",
			header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, service: "iam"}, want: "ok"},
		{name: "GET with awkward query", req: req{method: "GET", path: "/", query: "b=hello%20world&a=1&c=x%2Fy&d=~t&e=%2B&empty=", service: "ec2"}, want: "ok"},
		{name: "escaped path non-S3", req: req{method: "POST", path: "/model/anthropic.claude-v2:1/invoke", rawPath: "/model/anthropic.claude-v2%3A1/invoke", body: "{}", service: "bedrock"}, want: "ok"},
		{name: "S3 path with spaces and unicode", req: req{method: "PUT", path: "/bucket/key with space/ünï.txt", body: "data", service: "s3",
			header: map[string][]string{"X-Amz-Content-Sha256": {hashHex([]byte("data"))}}}, want: "ok"},
		{name: "S3 unsigned payload", req: req{method: "PUT", path: "/bucket/k", body: "whatever", service: "s3", payloadHash: unsignedPaylod,
			header: map[string][]string{"X-Amz-Content-Sha256": {unsignedPaylod}}}, want: "ok"},
		{name: "excess spaces and multi-value header", req: req{method: "POST", path: "/", body: "x", service: "iam",
			header: map[string][]string{"X-Amz-Meta-Note": {"  a   b  c "}, "X-Amz-Meta-Multi": {"1", "2"}}}, want: "ok"},
		{name: "session token", req: req{method: "POST", path: "/", body: "Action=GetCallerIdentity&Version=2011-06-15", service: "sts", token: "tok/en+=="}, want: "ok"},
		{name: "empty body GET", req: req{method: "GET", path: "/logging/modelinvocations", service: "bedrock"}, want: "ok"},

		{name: "body changed after signing", req: req{method: "POST", path: "/", body: "Action=A", service: "iam",
			tamper: func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("Action=B")) }}, want: strconv.Itoa(int(sigMismatch))},
		{name: "signed header changed", req: req{method: "POST", path: "/", body: "x", service: "iam", header: map[string][]string{"X-Amz-Meta-A": {"1"}},
			tamper: func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "2") }}, want: strconv.Itoa(int(sigMismatch))},
		{name: "query param added", req: req{method: "GET", path: "/", query: "a=1", service: "ec2",
			tamper: func(r *http.Request) { r.URL.RawQuery += "&b=2" }}, want: strconv.Itoa(int(sigMismatch))},
		{name: "wrong secret", req: req{method: "POST", path: "/", body: "x", service: "iam", secret: "not-the-secret-at-all-0000000000"}, want: strconv.Itoa(int(sigMismatch))},
		{name: "signed 20 minutes ago", req: req{method: "POST", path: "/", body: "x", service: "iam", signedAt: -20 * time.Minute}, want: strconv.Itoa(int(sigExpired))},
		{name: "signed 20 minutes ahead", req: req{method: "POST", path: "/", body: "x", service: "iam", signedAt: 20 * time.Minute}, want: strconv.Itoa(int(sigExpired))},
		{name: "S3 content sha mismatch", req: req{method: "PUT", path: "/b/k", body: "data", service: "s3",
			header: map[string][]string{"X-Amz-Content-Sha256": {hashHex([]byte("other"))}}, payloadHash: hashHex([]byte("other"))}, want: strconv.Itoa(int(sigPayloadMismatch))},
		{name: "S3 without content sha", req: req{method: "GET", path: "/", service: "s3"}, want: strconv.Itoa(int(sigMissingContentSHA))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req
			u := srv.URL + r.path
			hr, err := http.NewRequest(r.method, u, bytes.NewReader([]byte(r.body)))
			if err != nil {
				t.Fatal(err)
			}
			if r.rawPath != "" {
				hr.URL.RawPath = r.rawPath
			}
			hr.URL.RawQuery = r.query
			for k, vs := range r.header {
				for _, v := range vs {
					hr.Header.Add(k, v)
				}
			}
			ph := r.payloadHash
			if ph == "" {
				s := sha256.Sum256([]byte(r.body))
				ph = hex.EncodeToString(s[:])
			}
			secret := testSecret
			if r.secret != "" {
				secret = r.secret
			}
			creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret, SessionToken: r.token}
			signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = r.service == "s3" })
			if err := signer.SignHTTP(context.Background(), creds, hr, ph, r.service, "us-east-1", time.Now().Add(r.signedAt)); err != nil {
				t.Fatal(err)
			}
			if r.tamper != nil {
				r.tamper(hr)
			}
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Verify"); got != tc.want {
				t.Fatalf("verify = %q (%s), want %q", got, resp.Header.Get("X-Verify-Msg"), tc.want)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	good := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		header  string
		wantErr string
	}{
		{"valid", good, ""},
		{"valid without spaces", strings.ReplaceAll(good, ", ", ","), ""},
		{"empty", "", "missing an Authorization"},
		{"other algorithm", "AWS4-ECDSA-P256-SHA256 Credential=x", "unsupported algorithm"},
		{"credential with 4 parts", strings.Replace(good, "/iam/", "/", 1), "5 slash-separated"},
		{"bad terminal", strings.Replace(good, "aws4_request", "aws4_reqest", 1), "must end in"},
		{"bad date", strings.Replace(good, "20240101", "2024-1-1", 1), "yyyymmdd"},
		{"unsorted headers", strings.Replace(good, "content-type;host", "host;content-type", 1), "sorted"},
		{"uppercase header", strings.Replace(good, "content-type", "Content-Type", 1), "invalid signed header"},
		{"no host", strings.Replace(good, "content-type;host;x-amz-date", "content-type;x-amz-date", 1), "must include host"},
		{"short signature", strings.Replace(good, strings.Repeat("ab", 32), "abcd", 1), "64 hex"},
		{"non-hex signature", strings.Replace(good, strings.Repeat("ab", 32), strings.Repeat("zz", 32), 1), "not hex"},
		{"missing signature", strings.Split(good, ", Signature")[0], "missing Signature"},
		{"duplicate component", good + ", Signature=" + strings.Repeat("cd", 32), "duplicate"},
		{"unknown component", good + ", Foo=bar", "unknown component"},
		{"component without value", good + ", Foo", "malformed component"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseAuthorization(tc.header)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if a.KeyID != "AKIDEXAMPLE" || a.Service != "iam" || a.Region != "us-east-1" || len(a.SignedHeaders) != 3 {
					t.Fatalf("parsed %+v", a)
				}
				if again, err := parseAuthorization(a.String()); err != nil || fmt.Sprint(again) != fmt.Sprint(a) {
					t.Fatalf("round trip: %+v, %v", again, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAccountFromKeyID(t *testing.T) {
	for _, acct := range []string{"111122223333", "000000000001", "999999999999"} {
		id := newKeyID("AKIA", acct)
		got, ok := accountFromKeyID(id)
		if !ok || got != acct {
			t.Fatalf("accountFromKeyID(%s) = %q, %v; want %s", id, got, ok, acct)
		}
	}
	if _, ok := accountFromKeyID(DefaultCompromisedKeyID); ok {
		t.Fatalf("synthetic id %s should not decode", DefaultCompromisedKeyID)
	}
}
