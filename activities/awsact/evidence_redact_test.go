package awsact

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// TestStoreEvidenceRedactsSecrets: issue 12 item 3. The S3 Object Lock copy cannot
// be deleted, so a key that reached a signal's text some other way must be redacted
// before the bundle is written.
func TestStoreEvidenceRedactsSecrets(t *testing.T) {
	d := newDrill(t)
	d.acts.EvidenceBucket = drillcloud.DefaultEvidenceBucket
	in := input(sever.ActionAWSStoreEvidence, sever.Values{"include": []any{"signals"}})
	glpat := "gl" + "pat-" + "Zx8Kq2Lm9Rt4Vb7Np3Wd"
	in.Signals[0].Summary = "pushed " + glpat[:8] + "\u200b" + glpat[8:] + " to a public repository"
	_, obj := d.storeEvidence(in)
	if s := string(obj.Data); strings.Contains(s, glpat[8:]) || !strings.Contains(s, "[redacted]") {
		t.Errorf("evidence bundle = %s; want the key redacted", s)
	}
}
