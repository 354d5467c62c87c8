package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan/secrettest"
	"github.com/sever-ir/sever/service"
)

// fakeKey builds key-shaped values at run time (see secrettest).
var fakeKey = secrettest.Fake

const (
	keyAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	keyURLB64 = keyAlnum + "_-"
)

// TestIntakeRefusesHiddenSecrets: issue 12 item 3. Every string field of a signal
// goes through the one detector, after normalization, so none of these reach the
// engine; the error names the field and the rule and never the value.
func TestIntakeRefusesHiddenSecrets(t *testing.T) {
	t.Parallel()
	anthropic := fakeKey("sk-ant-"+"api03-", keyURLB64, 93) + "AA"
	slackBot := "xox" + "b-" + fakeKey("", "0123456789", 12) + "-" + fakeKey("", "0123456789", 13) + "-" + fakeKey("", keyAlnum, 24)
	awsSecret := fakeKey("", keyAlnum, 30) + "/" + fakeKey("", keyAlnum, 9)
	glpat := fakeKey("gl"+"pat-", keyURLB64, 20)
	google := fakeKey("AI"+"za", keyURLB64, 35)
	stripe := fakeKey("sk"+"_live_", keyAlnum, 24)
	tests := []struct {
		name, field, value, rule string
		set                      func(m map[string]any, v string)
	}{
		{"slack bot token in summary", "summary", "bot token " + slackBot, "slack-bot-token", setSummary},
		{"aws secret key in summary", "summary", "aws secret " + awsSecret + " was pushed", "aws-secret-access-key", setSummary},
		{"anthropic key split by a space", "summary", "key sk-ant- " + anthropic[len("sk-ant-"):], "anthropic-api-key", setSummary},
		{"anthropic key with a zero-width space", "summary", anthropic[:14] + "\u200b" + anthropic[14:], "anthropic-api-key", setSummary},
		{"gitlab token", "summary", "token " + glpat, "gitlab-pat", setSummary},
		{"google api key", "summary", google, "gcp-api-key", setSummary},
		{"stripe live key", "summary", "stripe " + stripe, "stripe-access-token", setSummary},
		{"soft hyphen in a label", "labels[0]", stripe[:7] + "\u00ad" + stripe[7:], "stripe-access-token",
			func(m map[string]any, v string) { m["labels"] = []string{v} }},
		{"slack token as the principal", "credential.principal", slackBot, "slack-bot-token",
			func(m map[string]any, v string) { cred(m)["principal"] = v }},
		{"full-width key in source_event_id", "source_event_id", "ｇｌｐａｔ－" + glpat[len("glpat-"):], "gitlab-pat",
			func(m map[string]any, v string) { m["source_event_id"] = v }},
	}
	var calls int
	a := newAPI(t, &fakeService{SubmitSignalFunc: func(context.Context, sever.Signal) (service.SubmitResult, error) {
		calls++
		return service.SubmitResult{}, nil
	}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.postSignal(t, signalJSON(t, func(m map[string]any) { tt.set(m, tt.value) }))
			if rec.Code != 400 {
				t.Fatalf("status = %d, want 400; body %s", rec.Code, rec.Body)
			}
			e := apiError(t, rec)
			if e.Code != sever.EINVALID || e.Field != tt.field {
				t.Errorf("code/field = %s/%s, want %s/%s", e.Code, e.Field, sever.EINVALID, tt.field)
			}
			if !strings.Contains(e.Message, tt.rule) || !strings.Contains(e.Message, tt.field) {
				t.Errorf("message %q does not name the field %s and the rule %s", e.Message, tt.field, tt.rule)
			}
			for _, part := range []string{tt.value, anthropic[20:], slackBot[10:], awsSecret[5:], glpat[6:], google[4:], stripe[8:]} {
				if strings.Contains(rec.Body.String(), part) {
					t.Fatalf("response repeats the secret: %s", rec.Body)
				}
			}
		})
	}
	if calls != 0 {
		t.Errorf("the service saw %d signals carrying secrets", calls)
	}
}

// TestIntakeAcceptsIdentifiers guards against false positives: what sever needs to
// name a credential and its evidence still goes through.
func TestIntakeAcceptsIdentifiers(t *testing.T) {
	t.Parallel()
	a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll})
	for _, mut := range []func(m map[string]any){
		func(m map[string]any) { cred(m)["id"] = "AKIAIOSFODNN7EXAMPLE" },
		func(m map[string]any) {
			m["summary"] = "access key AKIAIOSFODNN7EXAMPLE exposed; artifact sha256 " +
				"4355a46b19d348dc2f57c046f8ef63d4538ebb936000f3c9ee954a27460dd865 in commit da39a3ee5e6b4b0d3255bfef95601890afd80709"
		},
		func(m map[string]any) {
			cred(m)["provider"], cred(m)["type"], cred(m)["id"] = "anthropic", "anthropic_api_key", "apikey_01Rj2N8SVvo6BePZj99NhEXA"
			cred(m)["principal"], cred(m)["account"] = "", ""
		},
		func(m map[string]any) { m["source_event_id"] = "9a8b7c6d-5e4f-3a2b-1c0d-ef9876543210" },
		func(m map[string]any) {
			m["summary"] = "redacted key sk-ant-...abcd; the task-runner token was revoked"
		},
	} {
		body := signalJSON(t, mut)
		if rec := a.postSignal(t, body); rec.Code != 202 {
			t.Errorf("POST %s = %d, want 202; body %s", body, rec.Code, rec.Body)
		}
	}
}

func setSummary(m map[string]any, v string) { m["summary"] = v }

// TestAdapterRefusesHiddenSecrets: what an adapter copies out of a vendor payload
// goes through the same detector as native intake.
func TestAdapterRefusesHiddenSecrets(t *testing.T) {
	t.Parallel()
	slackBot := "xox" + "b-" + fakeKey("", "0123456789", 12) + "-" + fakeKey("", "0123456789", 13) + "-" + fakeKey("", keyAlnum, 24)
	awsSecret := fakeKey("", keyAlnum, 30) + "/" + fakeKey("", keyAlnum, 9)
	google := fakeKey("AI"+"za", keyURLB64, 35)
	const title = `"title": "AWS access key invoking Bedrock from an unfamiliar network"`
	for _, tt := range []struct{ name, title, rule string }{
		{"slack token", "bot " + slackBot, "slack-bot-token"},
		{"aws secret key", "secret " + awsSecret, "aws-secret-access-key"},
		{"google key split by a space", "AIza " + google[4:], "gcp-api-key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll})
			body := strings.Replace(adapterFixture(t, "ocsf-detection-finding-aws-key.json"), title, `"title": "`+tt.title+`"`, 1)
			rec := a.do(t, adapterReq("ocsf", writerToken, body))
			if rec.Code != 400 {
				t.Fatalf("status = %d, want 400; body %s", rec.Code, rec.Body)
			}
			if e := apiError(t, rec); e.Field != "summary" || !strings.Contains(e.Message, tt.rule) || strings.Contains(rec.Body.String(), tt.title) {
				t.Errorf("error = %+v; want field summary naming rule %s, without the value", e, tt.rule)
			}
		})
	}
}

// TestAdapterProviderSecretRefused: the OCSF adapter copies
// unmapped.sever.credential.provider verbatim, and the provider is the prefix of the
// incident ID, so a secret there must be refused as native intake refuses it in the
// same field, before anything reaches the engine.
func TestAdapterProviderSecretRefused(t *testing.T) {
	t.Parallel()
	// A Slack bot token (55 bytes; rule slack-bot-token).
	slackBot := "xox" + "b-" + fakeKey("", "0123456789", 12) + "-" + fakeKey("", "0123456789", 13) + "-" +
		fakeKey("", "abcdefghijklmnopqrstuvwxyz0123456789", 24)

	// Control: the native endpoint refuses it as credential.provider.
	native := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll})
	if r := native.postSignal(t, signalJSON(t, func(m map[string]any) { cred(m)["provider"] = slackBot })); r.Code != 400 {
		t.Fatalf("control: native intake answered %d, want 400; body %s", r.Code, r.Body)
	}

	rec := &recorder{}
	a := newAPI(t, rec.service())
	body := adapterFixture(t, "ocsf-detection-finding-anthropic-key.json")
	const old = `"provider": "anthropic",`
	if !strings.Contains(body, old) {
		t.Fatalf("fixture has no %s", old)
	}
	body = strings.Replace(body, old, `"provider": "`+slackBot+`",`, 1)
	resp := a.do(t, adapterReq("ocsf", writerToken, body))
	for _, s := range rec.got() {
		if s.Credential.Provider == slackBot {
			t.Errorf("the engine got a signal whose credential.provider is a Slack bot token (incident id %s)",
				sever.IncidentID(s.Credential))
		}
	}
	if resp.Code != 400 {
		t.Fatalf("status = %d, want 400 naming credential.provider; body %s", resp.Code, resp.Body)
	}
	if e := apiError(t, resp); e.Field != "credential.provider" || !strings.Contains(e.Message, "slack-bot-token") ||
		strings.Contains(resp.Body.String(), slackBot) {
		t.Errorf("error = %+v; want field credential.provider naming rule slack-bot-token, without the value", e)
	}
}

// TestAdapterIgnoredReasonSecretRefused: the reason an adapter gives for ignoring a
// payload is built from vendor fields (here OCSF finding_info.uid of a closed
// finding). It passes the same detector as an adapted signal and is refused the same
// way, so the secret is neither logged nor sent back.
func TestAdapterIgnoredReasonSecretRefused(t *testing.T) {
	t.Parallel()
	glpat := fakeKey("gl"+"pat-", keyAlnum, 20)
	rec := &recorder{}
	a := newAPI(t, rec.service())
	body := adapterFixture(t, "ocsf-detection-finding-anthropic-key.json")
	for old, repl := range map[string]string{
		`"activity_id": 1,`:   `"activity_id": 3,`, // closed finding: ignored
		`"uid": "aigw-7731",`: `"uid": "` + glpat + `",`,
	} {
		if !strings.Contains(body, old) {
			t.Fatalf("fixture has no %s", old)
		}
		body = strings.Replace(body, old, repl, 1)
	}
	resp := a.do(t, adapterReq("ocsf", writerToken, body))
	if strings.Contains(resp.Body.String(), glpat[6:]) {
		t.Errorf("the answer (%d) repeats the secret: %s", resp.Code, resp.Body)
	}
	if logs := a.logs.String(); strings.Contains(logs, glpat[6:]) {
		t.Errorf("the log holds the secret:\n%s", logs)
	}
	if resp.Code != 400 {
		t.Fatalf("status = %d, want 400 as for a secret in an adapted signal; body %s", resp.Code, resp.Body)
	}
	if e := apiError(t, resp); !strings.Contains(e.Message, "gitlab") {
		t.Errorf("error = %+v; want the detector's rule named", e)
	}
}
