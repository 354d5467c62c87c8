package worm

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "modernc.org/sqlite"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/ledger"
)

// TestCheckpointsInS3 anchors a ledger in the Object Lock bucket, cuts the ledger's
// end on the host and finds the cut from the S3 checkpoints; two writers sharing the
// prefix number their checkpoints without gaps or overwrites; a hidden checkpoint is
// reported, not skipped.
func TestCheckpointsInS3(t *testing.T) {
	ctx := context.Background()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name   string
		attack func(t *testing.T, e *env, m *Mirror)
		want   string // in the error or the first break; "" = none
	}{
		{name: "untouched", want: ""},
		{name: "truncated", want: "inc-b seq 3: truncated", attack: func(t *testing.T, e *env, _ *Mirror) {
			truncate(t, e.ledger.Path())
		}},
		{name: "checkpoint hidden by a delete marker", want: "hidden by a delete marker", attack: func(t *testing.T, e *env, m *Mirror) {
			if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(m.AnchorKey(3))}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "forged checkpoint", want: "not by the trusted key", attack: func(t *testing.T, e *env, m *Mirror) {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			c, err := e.ledger.Checkpoint(ctx, other, "", "forged")
			if err != nil {
				t.Fatal(err)
			}
			if err := m.WriteCheckpoint(ctx, c.Marshal()); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m1 := e.mirror(t, drillcloud.DefaultEvidenceBucket, "")
			m2 := e.mirror(t, drillcloud.DefaultEvidenceBucket, "") // a second worker on the same prefix
			a1 := &ledger.Anchorer{Store: e.ledger, Key: key, Sinks: []ledger.AnchorSink{m1}, Every: 1, Next: m1}
			a2 := &ledger.Anchorer{Store: e.ledger, Key: key, Sinks: []ledger.AnchorSink{m2}, Every: 1}
			for i, inc := range []string{"inc-a", "inc-b", "inc-a", "inc-b", "inc-b"} {
				a := []*ledger.Anchorer{a1, a2}[i%2]
				stored, _, err := e.ledger.Append(ctx, ledger.Entry{Incident: inc, Kind: ledger.KindSignal, Actor: "siem",
					Key: fmt.Sprintf("signal/%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if err := a.Put(ctx, stored); err != nil {
					t.Fatal(err)
				}
			}
			raws, err := m1.ReadCheckpoints(ctx)
			if err != nil || len(raws) != 5 {
				t.Fatalf("ReadCheckpoints = %d checkpoints, %v; want 5", len(raws), err)
			}
			if tc.attack != nil {
				tc.attack(t, e, m1)
			}
			e.ledger.Anchors(pub, m2)
			got := ""
			brk, err := e.ledger.VerifyAll(ctx)
			switch {
			case err != nil:
				got = err.Error()
			case brk != nil:
				got = brk.String()
			}
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("VerifyAll = %q, want %q", got, tc.want)
			}
		})
	}
}

// truncate cuts the ledger file the way issue 12 describes: drop the delete trigger,
// delete the last entries, patch the heads.
func truncate(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`DROP TRIGGER entries_no_delete`,
		`DELETE FROM entries WHERE gseq = 5`,
		`UPDATE incidents SET seq = 2, hash = (SELECT hash FROM entries WHERE incident = 'inc-b' AND seq = 2) WHERE incident = 'inc-b'`,
		`UPDATE days SET last = 4, last_incident = 'inc-b', last_seq = 2, head = (SELECT chain FROM entries WHERE gseq = 4)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
