package drillcloud

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// renderRefusals lists protocolError for every service, refusal kind (one past
// the last too, the unmapped fallback) and with and without a caller message.
func renderRefusals() string {
	var b strings.Builder
	line := func(svc string, k errKind, msg string, e *apiError) {
		fmt.Fprintf(&b, "%s\t%d\t%q\t%d\t%s\t%q\t%v\n", svc, k, msg, e.Status, e.Code, e.Message, e.Receiver)
	}
	for _, name := range []string{"iam", "sts", "ec2", "secretsmanager", "cloudtrail", "s3", "bedrock"} {
		for k := ekInvalidKey; k <= ekUnknownOp+1; k++ {
			for _, msg := range []string{"", "custom"} {
				line(name, k, msg, protocolError(services[name], k, msg))
			}
		}
	}
	for k := ekInvalidKey; k <= ekUnknownOp+1; k++ {
		if k != ekServer { // a server fault always has a service
			line("-", k, "", protocolError(nil, k, ""))
		}
	}
	return b.String()
}

// TestProtocolErrorsUnchanged pins every protocol's refusal codes, statuses and
// messages to testdata/protocol_errors.golden, written from the switch the
// refusals table replaced: the SDKs classify errors by these.
func TestProtocolErrorsUnchanged(t *testing.T) {
	want, err := os.ReadFile("testdata/protocol_errors.golden")
	if err != nil {
		t.Fatalf("read golden: %v", err)
	}
	got := renderRefusals()
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			t.Errorf("line %d:\n got  %s\n want %s", i+1, gl[i], wl[i])
		}
	}
	if len(gl) != len(wl) {
		t.Errorf("got %d lines, want %d", len(gl), len(wl))
	}
}
