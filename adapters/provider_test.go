package adapters_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

func TestParseProvider(t *testing.T) {
	t.Parallel()
	tests := []signalCase{
		{name: "Anthropic key exposed", body: fixture(t, "provider-anthropic-key-exposed.json"),
			eventID: "anthropic/<20250601094455.EXAMPLE@notices.example.com>", kind: sever.KindCredentialExposed, severity: "high",
			cred: sever.Credential{Provider: "anthropic", Type: sever.CredAnthropicAPIKey, ID: "apikey_01Rj2N8SVvo6BePZj99NhEXA",
				Principal: "svc-support-bot", Account: "org-example"},
			url: "https://github.com/example-org/support-bot/blob/4e5f6a7/config.py"},
		{name: "OpenAI key revoked by the provider", body: fixture(t, "provider-openai-key-revoked.json"),
			eventID: "openai/evt_01JX2EXAMPLE", kind: sever.KindVendorAction, severity: "info",
			cred: sever.Credential{Provider: "openai", Type: sever.CredOpenAIAPIKey, ID: "key_abc123EXAMPLE", Account: "proj_example"}},
		{name: "abuse observed, severity given", body: mutate(t, "provider-openai-key-revoked.json", func(m map[string]any) {
			m["notice_type"], m["severity"] = "abuse_observed", "high"
		}), eventID: "openai/evt_01JX2EXAMPLE", kind: sever.KindAbuseReport, severity: "high",
			cred: sever.Credential{Provider: "openai", Type: sever.CredOpenAIAPIKey, ID: "key_abc123EXAMPLE", Account: "proj_example"}},
		{name: "another provider: a generic token", body: mutate(t, "provider-openai-key-revoked.json", func(m map[string]any) {
			m["provider"], m["notice_type"] = "mistral", "key_exposed"
		}), eventID: "mistral/evt_01JX2EXAMPLE", kind: sever.KindCredentialExposed, severity: "high",
			cred: sever.Credential{Provider: "mistral", Type: sever.CredGenericToken, ID: "key_abc123EXAMPLE", Account: "proj_example"}},
		{name: "AWS Bedrock API key", body: mutate(t, "provider-openai-key-revoked.json", func(m map[string]any) {
			m["provider"] = "aws"
			obj(m, "key")["type"], obj(m, "key")["id"] = "aws_bedrock_api_key", "BedrockAPIKey-example-at-123456789012"
		}), eventID: "aws/evt_01JX2EXAMPLE", kind: sever.KindVendorAction, severity: "info",
			cred: sever.Credential{Provider: "aws", Type: sever.CredAWSBedrockAPIKey, ID: "BedrockAPIKey-example-at-123456789012", Account: "proj_example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := parseOne(t, adapters.ParseProvider, tt.body)
			want := wantSignal{"provider", tt.eventID, sever.OriginVendor, tt.kind, tt.severity, tt.cred, ""}
			if want.check(t, s) && tt.url != "" && (s.Extra == nil || s.Extra.URL != tt.url) {
				t.Errorf("meta = %+v, want %s", s.Extra, tt.url)
			}
		})
	}
}

func TestParseProviderRejects(t *testing.T) {
	t.Parallel()
	const f = "provider-anthropic-key-exposed.json"
	m := func(mut func(m map[string]any)) []byte { return mutate(t, f, mut) }
	key := func(mut func(k map[string]any)) []byte { return m(func(m map[string]any) { mut(obj(m, "key")) }) }
	tests := []rejectCase{
		{"empty", []byte(" "), "", []string{"empty"}},
		{"unknown field", m(func(m map[string]any) { m["colour"] = "red" }), "colour", []string{"unknown field", "notice_type"}},
		{"field in the wrong case", m(func(m map[string]any) { m["Provider"] = m["provider"]; delete(m, "provider") }),
			"Provider", []string{`did you mean "provider"`}},
		{"unknown key field", key(func(k map[string]any) { k["secret"] = "x" }), "key.secret", []string{"unknown field"}},
		{"duplicate field", []byte(`{"schema":"sever.provider_notice.v1","schema":"x"}`), "schema", []string{"duplicate"}},
		{"wrong schema", m(func(m map[string]any) { m["schema"] = "v2" }), "schema", nil},
		{"no schema", m(func(m map[string]any) { delete(m, "schema") }), "schema", nil},
		{"provider upper case", m(func(m map[string]any) { m["provider"] = "Anthropic" }), "provider", nil},
		{"no notice_id", m(func(m map[string]any) { delete(m, "notice_id") }), "notice_id", nil},
		{"notice_id with a newline", m(func(m map[string]any) { m["notice_id"] = "a\nb" }), "notice_id", []string{"control"}},
		{"unknown notice_type", m(func(m map[string]any) { m["notice_type"] = "key_sold" }), "notice_type", []string{"key_exposed"}},
		{"no observed_at", m(func(m map[string]any) { delete(m, "observed_at") }), "observed_at", nil},
		{"observed_at without zone", m(func(m map[string]any) { m["observed_at"] = "2025-06-01T09:44:55" }), "observed_at", nil},
		{"no key", m(func(m map[string]any) { delete(m, "key") }), "key", nil},
		{"key a string", m(func(m map[string]any) { m["key"] = "apikey_01" }), "key", []string{"want an object"}},
		{"no key id", key(func(k map[string]any) { delete(k, "id") }), "key.id", nil},
		{"key type of another provider", key(func(k map[string]any) { k["type"] = "openai_api_key" }), "key.type", nil},
		{"unknown key type", key(func(k map[string]any) { k["type"] = "ssh_key" }), "key.type", nil},
		{"aws without key type", m(func(m map[string]any) { m["provider"] = "aws" }), "key.type", []string{"aws_access_key"}},
		{"aws access key that is no key id", m(func(m map[string]any) {
			m["provider"] = "aws"
			obj(m, "key")["type"] = "aws_access_key"
		}), "key.id", []string{"not an AWS access key ID"}},
		{"hint that elides nothing", key(func(k map[string]any) { k["hint"] = "sk-ant-api03-AbCd" }), "key.hint", []string{"never accepts"}},
		{"hint too long", key(func(k map[string]any) { k["hint"] = "sk-ant-api03-" + strings.Repeat("x", 20) + "…" }), "key.hint", nil},
		{"unknown severity", m(func(m map[string]any) { m["severity"] = "apocalyptic" }), "severity", nil},
		{"summary too long", m(func(m map[string]any) { m["summary"] = strings.Repeat("s", 1025) }), "summary", nil},
		{"url not http", m(func(m map[string]any) { m["url"] = "javascript:alert(1)" }), "url", nil},
	}
	runRejects(t, adapters.ParseProvider, tests)
}

// TestProviderSchemaFile keeps provider-schema.json, the documented contract, in
// step with the decoder.
func TestProviderSchemaFile(t *testing.T) {
	t.Parallel()
	type schema struct {
		Required   []string          `json:"required"`
		Properties map[string]schema `json:"properties"`
		Const      string            `json:"const"`
		Enum       []string          `json:"enum"`
		MaxLength  int               `json:"maxLength"`
	}
	var s schema
	if err := json.Unmarshal(fixture(t, "../provider-schema.json"), &s); err != nil {
		t.Fatal(err)
	}
	fields := func(typ reflect.Type) (names, required []string) {
		for sf := range typ.Fields() {
			name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
			names = append(names, name)
			if opts != "omitempty" {
				required = append(required, name)
			}
		}
		slices.Sort(names)
		slices.Sort(required)
		return names, required
	}
	keysOf := func(m map[string]schema) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(v []string) []string { v = slices.Clone(v); slices.Sort(v); return v }

	names, required := fields(reflect.TypeFor[adapters.ProviderNotice]())
	if got := keysOf(s.Properties); !slices.Equal(got, names) {
		t.Errorf("schema properties %v, decoder fields %v", got, names)
	}
	if got := sorted(s.Required); !slices.Equal(got, required) {
		t.Errorf("schema required %v, decoder requires %v", got, required)
	}
	names, required = fields(reflect.TypeFor[adapters.ProviderKey]())
	if got := keysOf(s.Properties["key"].Properties); !slices.Equal(got, names) {
		t.Errorf("schema key properties %v, decoder fields %v", got, names)
	}
	if got := sorted(s.Properties["key"].Required); !slices.Equal(got, required) {
		t.Errorf("schema key required %v, decoder requires %v", got, required)
	}
	if s.Properties["schema"].Const != adapters.ProviderSchema {
		t.Errorf("schema const %q, want %q", s.Properties["schema"].Const, adapters.ProviderSchema)
	}
	if got := s.Properties["notice_type"].Enum; !slices.Equal(got, adapters.ProviderNoticeTypes) {
		t.Errorf("notice_type enum %v, want %v", got, adapters.ProviderNoticeTypes)
	}
	if got, want := s.Properties["key"].Properties["type"].Enum, fmt.Sprint(sever.CredentialTypes); fmt.Sprint(got) != want {
		t.Errorf("key.type enum %v, want %v", got, want)
	}
	if got := s.Properties["severity"].Enum; !slices.Equal(got, sever.Severities) {
		t.Errorf("severity enum %v, want %v", got, sever.Severities)
	}
	if got := s.Properties["key"].Properties["hint"].MaxLength; got != 24 {
		t.Errorf("key.hint maxLength %d, want 24", got)
	}
}
