package slackapp

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every shape of a drill's approval request says DRILL in its header and its
// notification text, so nobody takes a rehearsal for an incident; a real request
// never does.
func TestDrillRequestsAreMarked(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	shapes := map[string]func(r ApprovalRequest) (string, any){
		"request":    func(r ApprovalRequest) (string, any) { return ApprovalMessage(r) },
		"decided":    func(r ApprovalRequest) (string, any) { return DecidedMessage(r, Decided{Approved: true, At: at}) },
		"expired":    func(r ApprovalRequest) (string, any) { return ExpiredMessage(r, Expired{OnTimeout: "deny", At: at}) },
		"superseded": func(r ApprovalRequest) (string, any) { return SupersededMessage(r, Superseded{At: at}) },
	}
	for name, render := range shapes {
		for _, drill := range []bool{true, false} {
			r := testRequest()
			r.Drill = drill
			fallback, blocks := render(r)
			raw, err := json.Marshal(blocks)
			if err != nil {
				t.Fatal(err)
			}
			var parsed []struct {
				Type string `json:"type"`
				Text struct {
					Text string `json:"text"`
				} `json:"text"`
			}
			if err := json.Unmarshal(raw, &parsed); err != nil || len(parsed) == 0 {
				t.Fatalf("%s: blocks %s (%v)", name, raw, err)
			}
			header := parsed[0].Text.Text
			marked := strings.HasPrefix(fallback, drillTag) && strings.HasPrefix(header, drillTag) && strings.Contains(string(raw), "*DRILL*")
			switch {
			case drill && !marked:
				t.Errorf("%s of a drill is not marked: fallback %q, header %q", name, fallback, header)
			case !drill && strings.Contains(fallback+string(raw), "DRILL"):
				t.Errorf("%s of a real incident says DRILL: %q", name, fallback)
			}
		}
	}
}
