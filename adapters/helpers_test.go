package adapters_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate returns fixture name after mut changed its decoded form.
func mutate(t testing.TB, name string, mut func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, name), &m); err != nil {
		t.Fatal(err)
	}
	mut(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// obj walks m down the keys, each an object.
func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// wantError checks that err is a *sever.Error with code invalid naming field.
func wantError(t testing.TB, err error, field string, msg ...string) {
	t.Helper()
	wantCode(t, err, sever.EINVALID, field, "", msg...)
}

// wantUnprocessable checks that err is a 422 *sever.Error naming field, whose
// message has each of msg and none of secret.
func wantUnprocessable(t testing.TB, err error, field, secret string, msg ...string) {
	t.Helper()
	wantCode(t, err, sever.EUNPROCESSABLE, field, secret, msg...)
}

func wantCode(t testing.TB, err error, code, field, secret string, msg ...string) {
	t.Helper()
	var e *sever.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want a *sever.Error naming %q", err, err, field)
	}
	if e.Code != code || e.Field != field {
		t.Errorf("code/field = %q/%q, want %q/%q (%s)", e.Code, e.Field, code, field, e.Message)
	}
	for _, m := range msg {
		if !strings.Contains(e.Message, m) {
			t.Errorf("message %q lacks %q", e.Message, m)
		}
	}
	if secret != "" && strings.Contains(e.Error(), secret) {
		t.Errorf("error quotes the secret: %q", e.Error())
	}
}

// oneSignal parses body with parse, checks the result as checkResult does and
// returns its only signal.
func oneSignal(t testing.TB, parse func([]byte) (adapters.Result, error), body []byte) sever.Signal {
	t.Helper()
	res, err := parse(body)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, body, res, err)
	if len(res.Signals) != 1 {
		t.Fatalf("%d signals, want 1; ignored: %s", len(res.Signals), res.Ignored)
	}
	return res.Signals[0]
}

// checkResult holds for whatever a parser returns: an error is a *sever.Error
// with a code; a result is either ignored with a reason or has signals that pass
// Validate, name their source event and hash the body.
func checkResult(t testing.TB, body []byte, res adapters.Result, err error) {
	t.Helper()
	if err != nil {
		var e *sever.Error
		if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
			t.Fatalf("error %v (%T) is not a *sever.Error with code and message", err, err)
		}
		if len(e.Message) > 1200 {
			t.Errorf("message is %d bytes long", len(e.Message))
		}
		return
	}
	if (len(res.Signals) == 0) == (res.Ignored == "") {
		t.Fatalf("result has %d signals and ignored reason %q; want exactly one of them", len(res.Signals), res.Ignored)
	}
	ids := map[string]bool{}
	for _, s := range res.Signals {
		if err := s.Validate(); err != nil {
			t.Errorf("signal fails Validate: %v", err)
		}
		if s.SourceEventID == "" || ids[s.SourceEventID] {
			t.Errorf("source event id %q is empty or repeated within one payload", s.SourceEventID)
		}
		ids[s.SourceEventID] = true
		if s.PayloadSHA256 != sever.SHA256Hex(body) {
			t.Errorf("PayloadSHA256 = %q, want the body's", s.PayloadSHA256)
		}
		if s.ID != "" || s.Receipt != "" || !s.ReceivedAt.IsZero() || s.Reporter != "" {
			t.Errorf("parser set intake fields: %+v", s)
		}
		if s.ObservedAt.Location() != time.UTC {
			t.Errorf("ObservedAt %v is not in UTC", s.ObservedAt)
		}
		if len(s.Labels) > 32 {
			t.Errorf("%d labels; sever allows 32", len(s.Labels))
		}
		for _, l := range s.Labels {
			if l == "" || len([]rune(l)) > 64 {
				t.Errorf("label %q breaks the label rules", l)
			}
		}
	}
}

// eventIDOf is the vendor's event ID in a source event ID: the part before
// "@<version>#<digest>", which the tests check separately.
func eventIDOf(sourceEventID string) string {
	if i := strings.LastIndex(sourceEventID, "@"); i >= 0 {
		return sourceEventID[:i]
	}
	return sourceEventID
}

// parser is the shape of every adapter's parser but GitHub's.
type parser func(body []byte) (adapters.Result, error)

// parseOne parses body, checks the result as checkResult does, and requires
// exactly one signal, which it returns with the result.
func parseOne(t testing.TB, parse parser, body []byte) (adapters.Result, sever.Signal) {
	t.Helper()
	res := parseOK(t, parse, body)
	if len(res.Signals) != 1 {
		t.Fatalf("%d signals, want 1 (%s)", len(res.Signals), res.Ignored)
	}
	return res, res.Signals[0]
}

// parseOK parses body, checks the result as checkResult does, and requires no
// error.
func parseOK(t testing.TB, parse parser, body []byte) adapters.Result {
	t.Helper()
	res, err := parse(body)
	checkResult(t, body, res, err)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// refusedOrIgnored checks the outcomes of a parse other than signals: with
// field set, err must be a *sever.Error naming it; with ignored set, the result
// must be ignored with a reason holding it; else err must be nil. It says
// whether the case is settled, so the caller checks signals only when not.
func refusedOrIgnored(t testing.TB, res adapters.Result, err error, field, ignored string) bool {
	t.Helper()
	if field != "" {
		var e *sever.Error
		if !errors.As(err, &e) || e.Field != field {
			t.Fatalf("err = %v; want one naming %s", err, field)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	if ignored != "" {
		if !strings.Contains(res.Ignored, ignored) {
			t.Fatalf("ignored = %q; want %q", res.Ignored, ignored)
		}
		return true
	}
	return false
}

// ignoreCase is a body a parser must accept and ignore with a reason holding msg.
type ignoreCase struct {
	name string
	body []byte
	msg  string
}

// runIgnored runs each case through parse as a subtest.
func runIgnored(t *testing.T, parse parser, tests []ignoreCase) {
	t.Helper()
	for _, tt := range tests {
		parseSubtest(t, parse, tt.name, tt.body, func(t *testing.T, res adapters.Result, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Signals) != 0 || !strings.Contains(res.Ignored, tt.msg) {
				t.Errorf("result = %+v, want ignored with %q", res, tt.msg)
			}
		})
	}
}

// rejectCase is a body a parser must refuse with an invalid error naming field
// whose message holds each of msg.
type rejectCase struct {
	name  string
	body  []byte
	field string
	msg   []string
}

// runRejects runs each case through parse as a subtest.
func runRejects(t *testing.T, parse parser, tests []rejectCase) {
	t.Helper()
	for _, tt := range tests {
		parseSubtest(t, parse, tt.name, tt.body, func(t *testing.T, _ adapters.Result, err error) {
			wantError(t, err, tt.field, tt.msg...)
		})
	}
}

// parseSubtest parses body in a subtest called name, checks the result as
// checkResult does, and hands it to check.
func parseSubtest(t *testing.T, parse parser, name string, body []byte, check func(*testing.T, adapters.Result, error)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		res, err := parse(body)
		checkResult(t, body, res, err)
		check(t, res, err)
	})
}

// signalCase is a body a parser turns into one signal, and what the signal
// must hold; observed "" and url "" are not checked.
type signalCase struct {
	name     string
	body     []byte
	eventID  string
	kind     sever.SignalKind
	severity string
	cred     sever.Credential
	observed string
	url      string
}

// wantSignal is what a test expects of a parsed signal's common fields; observed
// "" skips the observation time.
type wantSignal struct {
	source, eventID string
	origin          sever.Origin
	kind            sever.SignalKind
	severity        string
	cred            sever.Credential
	observed        string
}

// check reports the first field of s that differs from w, and says whether all
// matched, so a caller can go on to its parser's own fields.
func (w wantSignal) check(t testing.TB, s sever.Signal) bool {
	t.Helper()
	switch {
	case s.Source != w.source || eventIDOf(s.SourceEventID) != w.eventID:
		t.Errorf("source/event = %q/%q, want %s/%q", s.Source, s.SourceEventID, w.source, w.eventID)
	case s.Origin != w.origin || s.Kind != w.kind || s.Severity != w.severity:
		t.Errorf("origin/kind/severity = %q/%q/%q, want %q/%q/%q", s.Origin, s.Kind, s.Severity, w.origin, w.kind, w.severity)
	case s.Credential != w.cred:
		t.Errorf("credential = %+v, want %+v", s.Credential, w.cred)
	case w.observed != "" && !s.ObservedAt.Equal(utc(w.observed)):
		t.Errorf("ObservedAt = %v, want %s", s.ObservedAt, w.observed)
	default:
		return true
	}
	return false
}
