package slackapp

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	testDeadline = time.Date(2026, 7, 1, 12, 30, 0, 0, time.UTC)
	testCred     = sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAEXAMPLE0000000001",
		Principal: "arn:aws:iam::123456789012:user/ci-deployer", Account: "123456789012"}
)

// testRequest is the approval request the tests share.
func testRequest() ApprovalRequest {
	args := map[string]any{"user_name": "ci-deployer", "access_key_id": "AKIAEXAMPLE0000000001", "status": "Inactive"}
	return ApprovalRequest{
		IncidentID: "inc-aws-0123456789abcdef0123", StepID: "disable_key", StepName: "Disable the exposed access key",
		Action: "aws.iam.disable_access_key", Args: args,
		ArgsSHA256: sever.ArgsSHA256("aws.iam.disable_access_key", testCred, args),
		Credential: testCred, Approvers: []string{"U012AB3CD", "U045EF6GH"}, Quorum: 1,
		Deadline: testDeadline, Requester: "guardduty",
	}
}

func destructiveRequest() ApprovalRequest {
	r := testRequest()
	r.StepID, r.StepName, r.Action = "delete_key", "Delete the access key", "aws.iam.delete_access_key"
	r.Args = map[string]any{"user_name": "ci-deployer", "access_key_id": "AKIAEXAMPLE0000000001", "rotate_first": true}
	r.ArgsSHA256 = sever.ArgsSHA256(r.Action, r.Credential, r.Args)
	r.Destructive = true
	r.Quorum = 2
	r.Approvers = []string{"U012AB3CD", "U045EF6GH", "W0ENTGRID1", "oncall@example.com"}
	r.BlastRadius = []string{"ci-deployer pipelines (3 repositories)", "nightly backup job <prod>"}
	return r
}

// hostileRequest carries values that try to break out of the message's markup.
func hostileRequest() ApprovalRequest {
	r := testRequest()
	r.StepName = "Disable <!channel> & `friends`"
	r.Credential.Principal = "<@U000EVIL> <https://evil.example|click>"
	r.Args = map[string]any{"note": "```<!here>``` & <https://x.example|y>", "nested": map[string]any{"b": 2, "a": []any{1, "z"}}}
	r.ArgsSHA256 = sever.ArgsSHA256(r.Action, r.Credential, r.Args)
	r.BlastRadius = []string{"<!everyone>"}
	r.Requester = "U0REQUESTR"
	return r
}

func longArgsRequest() ApprovalRequest {
	r := testRequest()
	r.StepName = ""
	r.Args = map[string]any{"policy": strings.Repeat("<&>", 1500)}
	r.ArgsSHA256 = sever.ArgsSHA256(r.Action, r.Credential, r.Args)
	r.Deadline = time.Time{}
	r.Approvers = nil
	r.Requester = ""
	return r
}

type rendered struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

func TestMessagesGolden(t *testing.T) {
	decidedAt := testDeadline.Add(-20 * time.Minute)
	tests := []struct {
		name   string
		render func() (string, []slack.Block)
	}{
		{"approval_basic", func() (string, []slack.Block) { return ApprovalMessage(testRequest()) }},
		{"approval_destructive", func() (string, []slack.Block) { return ApprovalMessage(destructiveRequest()) }},
		{"approval_hostile", func() (string, []slack.Block) { return ApprovalMessage(hostileRequest()) }},
		{"approval_long_args", func() (string, []slack.Block) { return ApprovalMessage(longArgsRequest()) }},
		{"decided_approved", func() (string, []slack.Block) {
			r := destructiveRequest()
			return DecidedMessage(r, Decided{Approved: true, At: decidedAt, Decisions: []sever.Decision{
				{StepID: r.StepID, Approve: true, Approver: "U012AB3CD", Channel: "slack-http", ArgsSHA256: r.ArgsSHA256, At: decidedAt.Add(-time.Minute)},
				{StepID: r.StepID, Approve: true, Approver: "oncall@example.com", Channel: "cli", ArgsSHA256: r.ArgsSHA256, At: decidedAt},
			}})
		}},
		{"decided_denied", func() (string, []slack.Block) {
			r := testRequest()
			return DecidedMessage(r, Decided{Approved: false, At: decidedAt, Decisions: []sever.Decision{
				{StepID: r.StepID, Approve: false, Approver: "U045EF6GH", Channel: "slack-socket", ArgsSHA256: r.ArgsSHA256, At: decidedAt, Reason: "false positive <test key>"},
			}})
		}},
		{"expired_deny", func() (string, []slack.Block) {
			return ExpiredMessage(testRequest(), Expired{OnTimeout: sever.OnTimeoutDeny, At: testDeadline})
		}},
		{"expired_proceed_partial", func() (string, []slack.Block) {
			r := destructiveRequest()
			return ExpiredMessage(r, Expired{OnTimeout: sever.OnTimeoutProceed, At: testDeadline, Decisions: []sever.Decision{
				{StepID: r.StepID, Approve: true, Approver: "U012AB3CD", Channel: "slack-http", ArgsSHA256: r.ArgsSHA256, At: decidedAt},
			}})
		}},
		{"approval_nonce", func() (string, []slack.Block) { return ApprovalMessage(withNonceReq(testRequest())) }},
		{"superseded_escalated", func() (string, []slack.Block) {
			return SupersededMessage(withNonceReq(testRequest()), Superseded{At: testDeadline})
		}},
		{"superseded_closed", func() (string, []slack.Block) {
			return SupersededMessage(withNonceReq(destructiveRequest()), Superseded{Canceled: true, At: decidedAt})
		}},
		{"notice_opened", func() (string, []slack.Block) {
			return mustNotice(t, Notice{IncidentID: "inc-aws-0123456789abcdef0123", Kind: "opened", Credential: testRequest().Credential,
				Status: sever.IncidentOpen, Runbook: "aws-access-key-exposed", At: decidedAt,
				Text: "vendor credential_exposed from aws-health: key <@U1> published on GitHub"})
		}},
		{"notice_step_failed_drill", func() (string, []slack.Block) {
			return mustNotice(t, Notice{IncidentID: "inc-aws-0123456789abcdef0123", Kind: "step_failed", Credential: testRequest().Credential,
				Status: sever.IncidentOpen, StepID: "deactivate", Action: "aws.iam.deactivate_access_key", At: decidedAt, Drill: true,
				Text: "AccessDenied: UpdateAccessKey on AKIAEXAMPLE: not authorized"})
		}},
		{"notice_contained", func() (string, []slack.Block) {
			return mustNotice(t, Notice{IncidentID: "inc-aws-0123456789abcdef0123", Kind: "contained", Credential: testRequest().Credential,
				Status: sever.IncidentContained, Runbook: "aws-access-key-exposed", At: decidedAt, Text: "contained and verified 812ms after the first signal"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, blocks := tt.render()
			checkLimits(t, text, blocks)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep the golden files readable: <@U…>, not \u003c@U…\u003e
			enc.SetIndent("", "  ")
			if err := enc.Encode(rendered{Text: text, Blocks: blocks}); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./slackapp -run TestMessagesGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (rerun with -update if intended)\n--- got ---\n%s", path, got)
			}
			// The JSON is what Slack receives: it must read back as blocks.
			var back struct {
				Blocks slack.Blocks `json:"blocks"`
			}
			if err := json.Unmarshal(got, &back); err != nil || len(back.Blocks.BlockSet) != len(blocks) {
				t.Errorf("blocks do not round-trip: %v (%d of %d)", err, len(back.Blocks.BlockSet), len(blocks))
			}
		})
	}
}

// checkLimits asserts Slack's size limits and that no unescaped control sequence
// (a mention, a special command, a link) comes from the request's values.
func checkLimits(t *testing.T, text string, blocks []slack.Block) {
	t.Helper()
	if len(blocks) > 50 {
		t.Errorf("%d blocks; Slack allows 50", len(blocks))
	}
	checkText := func(where string, o *slack.TextBlockObject, limit int) {
		t.Helper()
		if o == nil {
			return
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		if n := utf8.RuneCountInString(o.Text); n > limit {
			t.Errorf("%s: %d characters; limit %d", where, n, limit)
		}
		if o.Type == slack.PlainTextType {
			return // plain_text is shown literally: Slack parses no markup in it
		}
		for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U000EVIL>", "<https://"} {
			if strings.Contains(o.Text, bad) {
				t.Errorf("%s: unescaped %q in %q", where, bad, o.Text)
			}
		}
	}
	for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<@"} {
		if strings.Contains(text, bad) {
			t.Errorf("fallback text: unescaped %q", bad)
		}
	}
	for i, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			checkText("header", b.Text, maxHeaderText)
		case *slack.SectionBlock:
			checkText("section", b.Text, maxSectionText)
			if len(b.Fields) > 10 {
				t.Errorf("section %d: %d fields", i, len(b.Fields))
			}
			for _, f := range b.Fields {
				checkText("field", f, maxFieldText)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					checkText("context", o, maxFieldText)
				}
			}
		case *slack.ActionBlock:
			if len(b.BlockID) > maxBlockID {
				t.Errorf("block_id %d characters", len(b.BlockID))
			}
			for _, e := range b.Elements.ElementSet {
				btn := e.(*slack.ButtonBlockElement)
				if len(btn.Value) > maxButtonValue {
					t.Errorf("button %s: value %d characters", btn.ActionID, len(btn.Value))
				}
				v, err := decodeButtonValue(btn.Value)
				if err != nil {
					t.Errorf("button %s: value does not decode: %v", btn.ActionID, err)
				}
				if want := map[string]string{ActionApprove: DecisionApprove, ActionDeny: DecisionDeny}[btn.ActionID]; v.Decision != want {
					t.Errorf("button %s carries decision %q", btn.ActionID, v.Decision)
				}
				if b.BlockID != BlockID(v.Incident, v.Step) {
					t.Errorf("block_id %q does not match the value", b.BlockID)
				}
				if btn.Confirm != nil {
					checkText("confirm text", btn.Confirm.Text, 300)
				}
			}
		}
	}
}

func TestApprovalMessageShape(t *testing.T) {
	tests := []struct {
		name        string
		req         ApprovalRequest
		wantConfirm bool
		wantInText  []string
	}{
		{"plain", testRequest(), false, []string{"<@U012AB3CD>, <@U045EF6GH>", "quorum 1 of 2", "<!date^1782909000^{date_short_pretty} {time}|2026-07-01 12:30 UTC>",
			"```{\"access_key_id\":\"AKIAEXAMPLE0000000001\",\"status\":\"Inactive\",\"user_name\":\"ci-deployer\"}```"}},
		// The blast radius is plain_text, shown literally: nothing in it is escaped.
		{"destructive", destructiveRequest(), true, []string{"`oncall@example.com`", "<@W0ENTGRID1>", "quorum 2 of 4", "• nightly backup job <prod>"}},
		{"hostile", hostileRequest(), false, []string{`\u0060\u0060\u0060&lt;!here&gt;\u0060\u0060\u0060 &amp; &lt;https://x.example|y&gt;`, "• <!everyone>", "<@U0REQUESTR>"}},
		{"long", longArgsRequest(), false, []string{"_(truncated:", "_nobody is configured to approve this step_", "*Deadline*\n_none_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, blocks := ApprovalMessage(tt.req)
			all, _ := json.Marshal(blocks)
			var texts strings.Builder
			var act *slack.ActionBlock
			for _, b := range blocks {
				switch b := b.(type) {
				case *slack.SectionBlock:
					if b.Text != nil {
						texts.WriteString(b.Text.Text + "\n")
					}
					for _, f := range b.Fields {
						texts.WriteString(f.Text + "\n")
					}
				case *slack.ActionBlock:
					act = b
				}
			}
			for _, want := range tt.wantInText {
				if !strings.Contains(texts.String(), want) {
					t.Errorf("message lacks %q:\n%s", want, texts.String())
				}
			}
			if act == nil || len(act.Elements.ElementSet) != 2 {
				t.Fatalf("want an actions block with two buttons, got %s", all)
			}
			approve := act.Elements.ElementSet[0].(*slack.ButtonBlockElement)
			deny := act.Elements.ElementSet[1].(*slack.ButtonBlockElement)
			if approve.ActionID != ActionApprove || approve.Style != slack.StylePrimary || deny.ActionID != ActionDeny || deny.Style != slack.StyleDanger {
				t.Errorf("buttons: %+v %+v", approve, deny)
			}
			if (approve.Confirm != nil) != tt.wantConfirm || deny.Confirm != nil {
				t.Errorf("confirm dialog: approve %v deny %v, want approve %v", approve.Confirm != nil, deny.Confirm != nil, tt.wantConfirm)
			}
			v, err := decodeButtonValue(approve.Value)
			if err != nil || v.Incident != tt.req.IncidentID || v.Step != tt.req.StepID || v.ArgsSHA256 != tt.req.ArgsSHA256 {
				t.Errorf("approve value %q → %+v, %v", approve.Value, v, err)
			}
			for _, secretish := range []string{"aws_secret_access_key", "SecretAccessKey"} {
				if strings.Contains(string(all), secretish) {
					t.Errorf("message mentions %s", secretish)
				}
			}
		})
	}
}

func TestDecidedAndExpiredHaveNoButtons(t *testing.T) {
	r := testRequest()
	for name, blocks := range map[string][]slack.Block{
		"decided":    func() []slack.Block { _, b := DecidedMessage(r, Decided{Approved: true}); return b }(),
		"expired":    func() []slack.Block { _, b := ExpiredMessage(r, Expired{OnTimeout: "abort"}); return b }(),
		"superseded": func() []slack.Block { _, b := SupersededMessage(r, Superseded{}); return b }(),
		"closed":     func() []slack.Block { _, b := SupersededMessage(r, Superseded{Canceled: true}); return b }(),
	} {
		for _, b := range blocks {
			if _, ok := b.(*slack.ActionBlock); ok {
				t.Errorf("%s message still has buttons", name)
			}
		}
	}
}

func TestButtonValue(t *testing.T) {
	r := testRequest()
	good := encodeButtonValue(r, DecisionApprove)
	if len(good) > maxButtonValue {
		t.Fatalf("value is %d characters", len(good))
	}
	long := r
	long.IncidentID, long.StepID = strings.Repeat("i", maxIDLength), strings.Repeat("s", maxIDLength)
	if n := len(encodeButtonValue(long, DecisionDeny)); n > maxButtonValue {
		t.Errorf("longest valid value is %d characters", n)
	}
	if id := BlockID(long.IncidentID, long.StepID); len(id) > maxBlockID || !strings.HasPrefix(id, blockIDPrefix) {
		t.Errorf("block id %q", id)
	}
	sha := r.ArgsSHA256
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"good", good, true},
		{"empty", "", false},
		{"not json", "approve", false},
		{"unknown field", `{"v":1,"incident":"inc-1","step":"s","args_sha256":"` + sha + `","decision":"approve","x":1}`, false},
		{"trailing", good + `{}`, false},
		{"version", `{"v":3,"incident":"inc-1","step":"s","args_sha256":"` + sha + `","decision":"approve"}`, false},
		{"v2 with nonce", encodeButtonValue(withNonceReq(r), DecisionApprove), true},
		{"v2 without nonce", `{"v":2,"incident":"inc-1","step":"s","args_sha256":"` + sha + `","decision":"approve"}`, false},
		{"v2 bad nonce", `{"v":2,"incident":"inc-1","step":"s","args_sha256":"` + sha + `","decision":"approve","nonce":"XYZ"}`, false},
		{"v1 with nonce", `{"v":1,"incident":"inc-1","step":"s","args_sha256":"` + sha + `","decision":"approve","nonce":"` + testNonce + `"}`, false},
		{"no incident", `{"v":1,"incident":"","step":"s","args_sha256":"` + sha + `","decision":"approve"}`, false},
		{"control char", `{"v":1,"incident":"inc\n1","step":"s","args_sha256":"` + sha + `","decision":"approve"}`, false},
		{"short sha", `{"v":1,"incident":"inc-1","step":"s","args_sha256":"abc","decision":"approve"}`, false},
		{"upper sha", `{"v":1,"incident":"inc-1","step":"s","args_sha256":"` + strings.ToUpper(sha) + `","decision":"approve"}`, false},
		{"decision", `{"v":1,"incident":"inc-1","step":"s","args_sha256":"` + sha + `","decision":"maybe"}`, false},
		{"too long", `{"v":1,"incident":"` + strings.Repeat("a", 2000) + `"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeButtonValue(tt.value)
			if (err == nil) != tt.ok {
				t.Errorf("decode(%q) error = %v, want ok=%v", tt.value, err, tt.ok)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := testRequest()
	tests := []struct {
		name  string
		edit  func(*ApprovalRequest)
		field string
	}{
		{"ok", func(*ApprovalRequest) {}, ""},
		{"no incident", func(r *ApprovalRequest) { r.IncidentID = " " }, "incident_id"},
		{"no step", func(r *ApprovalRequest) { r.StepID = "" }, "step_id"},
		{"long step", func(r *ApprovalRequest) { r.StepID = strings.Repeat("s", 129) }, "step_id"},
		{"bad sha", func(r *ApprovalRequest) { r.ArgsSHA256 = "xyz" }, "args_sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.edit(&r)
			err := r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			se, ok := err.(*sever.Error)
			if !ok || se.Field != tt.field || se.Code != sever.EINVALID {
				t.Errorf("Validate() = %v, want invalid %s", err, tt.field)
			}
		})
	}
}

func mustNotice(t *testing.T, n Notice) (string, []slack.Block) {
	t.Helper()
	text, blocks, err := NoticeMessage(n)
	if err != nil {
		t.Fatal(err)
	}
	return text, blocks
}
