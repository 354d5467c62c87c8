package drillcloud

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRoutesByMethod pins the S3 and Bedrock routes now read from method
// tables: unserved subresources stay unknown operations.
func TestRoutesByMethod(t *testing.T) {
	cases := []struct {
		route      func(*http.Request) (string, map[string]string)
		method     string
		target     string
		copySource bool
		want       string
	}{
		{s3Route, http.MethodGet, "/", false, "ListBuckets"},
		{s3Route, http.MethodPut, "/", false, ""},
		{s3Route, http.MethodGet, "/b?object-lock", false, "GetObjectLockConfiguration"},
		{s3Route, http.MethodGet, "/b", false, ""},
		{s3Route, http.MethodPut, "/b/k", false, "PutObject"},
		{s3Route, http.MethodPut, "/b/k", true, "CopyObject"},
		{s3Route, http.MethodPut, "/b/k?tagging", true, "CopyObject"},
		{s3Route, http.MethodPut, "/b/k?retention", false, ""},
		{s3Route, http.MethodPut, "/b/k?uploadId=1", false, ""},
		{s3Route, http.MethodPut, "/b/k?attributes", false, "PutObject"},
		{s3Route, http.MethodGet, "/b/k", false, "GetObject"},
		{s3Route, http.MethodGet, "/b/k?versionId=v", false, "GetObject"},
		{s3Route, http.MethodGet, "/b/k?torrent", false, ""},
		{s3Route, http.MethodGet, "/b/k?legal-hold", false, ""},
		{s3Route, http.MethodHead, "/b/k", false, "HeadObject"},
		{s3Route, http.MethodHead, "/b/k?acl", false, "HeadObject"},
		{s3Route, http.MethodDelete, "/b/k", false, "DeleteObject"},
		{s3Route, http.MethodPost, "/b/k", false, ""},
		{bedrockRoute, http.MethodGet, "/logging/modelinvocations", false, "GetModelInvocationLoggingConfiguration"},
		{bedrockRoute, http.MethodPut, "/logging/modelinvocations", false, "PutModelInvocationLoggingConfiguration"},
		{bedrockRoute, http.MethodDelete, "/logging/modelinvocations", false, "DeleteModelInvocationLoggingConfiguration"},
		{bedrockRoute, http.MethodPost, "/logging/modelinvocations", false, ""},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if tc.copySource {
			r.Header.Set("X-Amz-Copy-Source", "/src/k")
		}
		if got, _ := tc.route(r); got != tc.want {
			t.Errorf("%s %s (copy source %v) = %q, want %q", tc.method, tc.target, tc.copySource, got, tc.want)
		}
	}
}
