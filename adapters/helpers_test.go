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
	var e *sever.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want a *sever.Error naming %q", err, err, field)
	}
	if e.Code != sever.EINVALID || e.Field != field {
		t.Errorf("code/field = %q/%q, want %q/%q (%s)", e.Code, e.Field, sever.EINVALID, field, e.Message)
	}
	for _, m := range msg {
		if !strings.Contains(e.Message, m) {
			t.Errorf("message %q lacks %q", e.Message, m)
		}
	}
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
