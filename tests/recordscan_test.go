package tests

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/temporalproto"
)

// secretsInNoRecord scans every record sever keeps of an incident — the documents
// the test hands in (answers, the stack log), each workflow history event, the four
// report formats and every file under the data dir (Temporal's database included,
// its pages hold the history) — and fails the test for each secret (name → value)
// found in one. A scan that saw no history event or no file fails too: it would
// prove nothing. It returns how many documents it read.
func secretsInNoRecord(t *testing.T, s *stack, incidentID string, docs map[string]string, secrets map[string]string) int {
	t.Helper()
	return secretsInNoRecordOf(t, s, []string{incidentID}, docs, secrets)
}

// secretsInNoRecordOf is secretsInNoRecord for the records of several incidents:
// the data dir is read once.
func secretsInNoRecordOf(t *testing.T, s *stack, incidentIDs []string, docs map[string]string, secrets map[string]string) int {
	t.Helper()
	var corpus []struct{ where, text string }
	add := func(where, text string) { corpus = append(corpus, struct{ where, text string }{where, text}) }
	for where, text := range docs {
		add(where, text)
	}
	events := 0
	for _, id := range incidentIDs {
		it := s.Client.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			b, _ := temporalproto.CustomJSONMarshalOptions{}.Marshal(ev)
			add(fmt.Sprintf("history event %d of %s", ev.GetEventId(), id), string(b))
			events++
		}
		for _, f := range []string{"md", "json", "html", "ocsf"} {
			code, body := get(t, s, "/v1/incidents/"+id+"/report?format="+f, true)
			if code != http.StatusOK {
				t.Fatalf("report %s of %s: %d", f, id, code)
			}
			add("report "+f+" of "+id, body)
		}
	}
	files := 0
	_ = filepath.WalkDir(s.Config.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			add(path, string(b))
			files++
		}
		return nil
	})
	if events == 0 || files == 0 {
		t.Fatalf("scanned %d history events and %d files; the scan saw nothing", events, files)
	}
	for _, c := range corpus {
		for name, secret := range secrets {
			if strings.Contains(c.text, secret) {
				t.Errorf("%s is in %s", name, c.where)
			}
		}
	}
	t.Logf("scanned %d documents (%d history events, %d files)", len(corpus), events, files)
	return len(corpus)
}
