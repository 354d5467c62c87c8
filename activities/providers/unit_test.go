package providers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/config"
)

func TestClassify(t *testing.T) {
	x := &api{provider: "openai", action: "openai.x"}
	for _, tc := range []struct {
		status  int
		errType string // "" = retryable
	}{
		{401, "AccessDenied"}, {403, "AccessDenied"}, {404, "NotFound"}, {400, "InvalidArgument"}, {422, "InvalidArgument"},
		{429, ""}, {500, ""}, {502, ""}, {529, ""}, {409, ""},
	} {
		err := x.classify(&reply{status: tc.status, header: http.Header{}}, "get project API key", "key_x")
		if !strings.Contains(err.Error(), "openai.x: openai get project API key key_x: HTTP ") {
			t.Errorf("%d: message %q does not name the operation and key", tc.status, err)
		}
		if tc.errType == "" {
			wantRetryable(t, err)
			continue
		}
		wantPermanent(t, err, tc.errType)
	}
}

// OpenAI's "Incorrect API key provided" names a redacted form of the key it got;
// sever keeps even that out of step errors.
func TestProviderDetailScrubsKeys(t *testing.T) {
	for _, body := range []string{
		`{"error":{"message":"Incorrect API key provided: sk-admin-abc***********wxyz. You can find your API key at https://x.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-api03-AbCdEf"}}`,
		`{"error":{"message":"Bearer sk-proj-123 rejected","type":"x"}}`,
		// A key of another shape, hidden by a zero-width space: the shared detector's.
		`{"error":{"message":"token gl` + "pat-\u200b" + strings.Repeat("Ab3", 7) + ` rejected","type":"x"}}`,
	} {
		d := providerDetail([]byte(body))
		if strings.Contains(d, "sk-") || strings.Contains(d, "Ab3Ab3") || !strings.Contains(d, "[redacted]") {
			t.Errorf("detail %q keeps key material", d)
		}
	}
	if d := providerDetail([]byte(`{"error":{"message":"m","type":"t","code":"c"}}`)); d != "(c): m" {
		t.Errorf("detail = %q", d)
	}
	if d := providerDetail([]byte("<html>bad gateway</html>")); d != "" {
		t.Errorf("detail of HTML = %q", d)
	}
}

func TestRetryAfter(t *testing.T) {
	h := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	for v, want := range map[string]time.Duration{"": 0, "2": 2 * time.Second, "0.5": 500 * time.Millisecond, "3600": maxRetryAfter, "soon": 0, "-1": 0} {
		if got := retryAfter(h(v)); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
	if got := retryAfter(h(time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat))); got < 8*time.Second || got > 10*time.Second {
		t.Errorf("retryAfter(date in 10s) = %v", got)
	}
}

func TestFromConfig(t *testing.T) {
	t.Setenv("SEVER_TEST_ANTHROPIC_ADMIN", "sk-ant-admin01-fromtheenvironment")
	a := FromConfig(config.ProvidersConfig{
		Anthropic: config.AnthropicConfig{AdminKey: "env:SEVER_TEST_ANTHROPIC_ADMIN", BaseURL: "http://127.0.0.1:1"},
		OpenAI:    config.OpenAIConfig{Project: "proj_x"},
	}, nil, nil)
	if a.OpenAI != nil {
		t.Error("OpenAI configured without an admin key")
	}
	if a.Anthropic == nil || a.Anthropic.BaseURL != "http://127.0.0.1:1" {
		t.Fatalf("anthropic = %+v", a.Anthropic)
	}
	key, err := a.Anthropic.AdminKey(context.Background())
	if err != nil || key != "sk-ant-admin01-fromtheenvironment" {
		t.Fatalf("admin key = %v", err)
	}
	actor := adminActor("anthropic", key)
	if strings.Contains(actor, "fromthe") || !strings.HasPrefix(actor, "anthropic-admin-key:sha256:") || len(actor) != len("anthropic-admin-key:sha256:")+12 {
		t.Errorf("actor = %q", actor)
	}
}
