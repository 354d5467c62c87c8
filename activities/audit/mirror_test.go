package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/drillcloud/drilltest"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/ledger/worm"
)

// s3Mirror is a WORM mirror on the drill cloud's Object Lock bucket, through the SDK.
func s3Mirror(t *testing.T) (*worm.Mirror, *drillcloud.Cloud) {
	t.Helper()
	cloud := drilltest.Start(t, drillcloud.DefaultSeed())
	cfg, err := cloud.AWSConfig(context.Background(), drillcloud.DefaultResponderKeyID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := worm.New(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		worm.Options{Bucket: drillcloud.DefaultEvidenceBucket, Prefix: worm.DefaultPrefix})
	if err != nil {
		t.Fatal(err)
	}
	return m, cloud
}

// flaky fails its first n puts without passing them on: the worker died, or S3 did
// not answer, after the ledger append and before the copy.
type flaky struct {
	Mirror
	mu sync.Mutex
	n  int
}

func (f *flaky) Put(ctx context.Context, e ledger.Entry) error {
	f.mu.Lock()
	fail := f.n > 0
	f.n--
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("s3:PutObject: connection reset")
	}
	return f.Mirror.Put(ctx, e)
}

// recorder remembers what it was given.
type recorder struct {
	mu   sync.Mutex
	seqs []int64
}

func (r *recorder) Put(_ context.Context, e ledger.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs = append(r.seqs, e.Seq)
	return nil
}

func facts(n int) []contract.LedgerFact {
	at := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	out := make([]contract.LedgerFact, n)
	for i := range out {
		out[i] = contract.LedgerFact{At: at.Add(time.Duration(i) * time.Second), Kind: contract.FactStepOutcome,
			Actor: "sever", Step: fmt.Sprintf("s%d", i), Result: "succeeded", Key: fmt.Sprintf("1/step/s%d/outcome", i)}
	}
	return out
}

func TestAppendMirrorsEveryEntry(t *testing.T) {
	ctx := context.Background()
	m, cloud := s3Mirror(t)

	t.Run("WritesBoth", func(t *testing.T) {
		prod := open(t, "ledger.db")
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		(&Activities{Ledger: prod, Mirror: m}).Register(env)
		in := contract.LedgerAppendInput{IncidentID: "inc-both", Facts: facts(3)}
		if _, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in); err != nil {
			t.Fatal(err)
		}
		if brk, err := m.Verify(ctx, "inc-both"); err != nil || brk != nil {
			t.Fatalf("Verify = %v, %v", brk, err)
		}
		if d, err := m.Compare(ctx, prod, "inc-both"); err != nil || len(d) != 0 {
			t.Fatalf("Compare = %v, %v", d, err)
		}
	})

	t.Run("CatchesUpAfterCrashBetweenAppendAndCopy", func(t *testing.T) {
		prod := open(t, "ledger.db")
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		f := &flaky{Mirror: m, n: 1}
		(&Activities{Ledger: prod, Mirror: f}).Register(env)
		in := contract.LedgerAppendInput{IncidentID: "inc-crash", Facts: facts(3)}

		_, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in)
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || ae.Type() != ErrMirror || ae.NonRetryable() {
			t.Fatalf("err = %v, want a retryable %s error", err, ErrMirror)
		}
		local, _ := prod.Entries(ctx, "inc-crash")
		d, _ := m.Compare(ctx, prod, "inc-crash")
		// The batch is one ledger transaction: all three are appended, none copied.
		if len(local) != 3 || len(d) != 3 || d[0].Kind != worm.MissingInS3 || d[2].Kind != worm.MissingInS3 {
			t.Fatalf("after the crash: %d local entries, differences %v; want 3 entries not copied", len(local), d)
		}

		// The retry appends nothing twice and copies what the crash left behind.
		v, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in)
		if err != nil {
			t.Fatal(err)
		}
		var res contract.LedgerAppendResult
		if err := v.Get(&res); err != nil || res != (contract.LedgerAppendResult{Existing: 3}) {
			t.Fatalf("retry = %+v, %v", res, err)
		}
		if brk, err := m.Verify(ctx, "inc-crash"); err != nil || brk != nil {
			t.Fatalf("Verify = %v, %v", brk, err)
		}
		if d, err := m.Compare(ctx, prod, "inc-crash"); err != nil || len(d) != 0 {
			t.Fatalf("Compare = %v, %v", d, err)
		}
		key, _ := m.Key("inc-crash", 1)
		if vs := cloud.ObjectVersions(m.Bucket(), key); len(vs) != 1 {
			t.Errorf("%d versions of seq 1, want 1", len(vs))
		}
	})

	t.Run("EntryAppendedBeforeTheMirrorWasConfigured", func(t *testing.T) {
		prod := open(t, "ledger.db")
		in := contract.LedgerAppendInput{IncidentID: "inc-late", Facts: facts(2)}
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		(&Activities{Ledger: prod}).Register(env)
		if _, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in); err != nil {
			t.Fatal(err)
		}
		env = s.NewTestActivityEnvironment()
		(&Activities{Ledger: prod, Mirror: m}).Register(env)
		if _, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in); err != nil {
			t.Fatal(err)
		}
		if d, err := m.Compare(ctx, prod, "inc-late"); err != nil || len(d) != 0 {
			t.Fatalf("Compare = %v, %v", d, err)
		}
	})
}

func TestDrillFactsGoToTheDrillMirror(t *testing.T) {
	for _, tc := range []struct {
		name              string
		drillLedger       bool
		drill             bool
		wantProd, wantDrl int
	}{
		{"Production", true, false, 2, 0},
		{"Drill", true, true, 0, 2},
		// Without a drill ledger drill facts land in the production ledger, and so in
		// its mirror: the mirror holds whatever its ledger holds.
		{"DrillWithoutDrillLedger", false, true, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prodM, drillM := &recorder{}, &recorder{}
			a := &Activities{Ledger: open(t, "ledger.db"), Mirror: prodM, DrillMirror: drillM}
			if tc.drillLedger {
				a.Drill = open(t, "drill.db")
			}
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			a.Register(env)
			in := contract.LedgerAppendInput{IncidentID: "inc-1", Drill: tc.drill, Facts: facts(2)}
			if _, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in); err != nil {
				t.Fatal(err)
			}
			if len(prodM.seqs) != tc.wantProd || len(drillM.seqs) != tc.wantDrl {
				t.Errorf("production mirror got %v, drill mirror %v; want %d and %d entries", prodM.seqs, drillM.seqs, tc.wantProd, tc.wantDrl)
			}
		})
	}
}
