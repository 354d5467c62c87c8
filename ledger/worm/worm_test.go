package worm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/drillcloud/drilltest"
	"github.com/sever-ir/sever/ledger"
)

// Buckets of the test cloud besides drillcloud.DefaultEvidenceBucket (COMPLIANCE).
const (
	governanceBucket = "sever-ledger-governance" // Object Lock without default retention
	plainBucket      = "sever-plain"             // no Object Lock
)

type env struct {
	cloud  *drillcloud.Cloud
	s3     *s3.Client
	ledger *ledger.Store
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	seed := drillcloud.DefaultSeed()
	seed.Accounts[0].Buckets = append(seed.Accounts[0].Buckets,
		drillcloud.SeedBucket{Name: governanceBucket, Region: drillcloud.DefaultRegion, ObjectLock: &drillcloud.SeedObjectLock{}},
		drillcloud.SeedBucket{Name: plainBucket, Region: drillcloud.DefaultRegion, Versioning: true})
	cloud := drilltest.Start(t, seed)
	cfg, err := cloud.AWSConfig(context.Background(), drillcloud.DefaultResponderKeyID)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(filepath.Join(t.TempDir(), ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &env{cloud: cloud, s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), ledger: l, now: time.Now()}
}

func (e *env) mirror(t *testing.T, bucket, mode string) *Mirror {
	t.Helper()
	m, err := New(e.s3, Options{Bucket: bucket, Prefix: DefaultPrefix, Retention: 48 * time.Hour, LockMode: mode,
		Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// appendN appends n facts to the local ledger and returns them as stored.
func (e *env) appendN(t *testing.T, incident string, n int) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		stored, _, err := e.ledger.Append(context.Background(), ledger.Entry{
			Incident: incident, At: at.Add(time.Duration(i) * time.Second), Kind: ledger.KindStepOutcome,
			Actor: "sever", Enforcement: sever.EnterpriseEnforced, Step: fmt.Sprintf("step-%d", i),
			Action: "aws.iam.deactivate_access_key", Result: "verified inactive", Key: fmt.Sprintf("step/%d/outcome", i),
			Detail: map[string]string{"key_id": "AKIAIOSFODNN7EXAMPLE"}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stored)
	}
	return out
}

// mirrored appends n facts and copies them.
func (e *env) mirrored(t *testing.T, m *Mirror, incident string, n int) []ledger.Entry {
	t.Helper()
	entries := e.appendN(t, incident, n)
	for _, x := range entries {
		if err := m.Put(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	return entries
}

// overwrite is an attacker with s3:PutObject adding a newer version under a key:
// Object Lock does not stop that, it only keeps the older version.
func (e *env) overwrite(t *testing.T, m *Mirror, key string, body []byte, metaHash string) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(key), Body: bytes.NewReader(body),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256}
	if metaHash != "" {
		in.Metadata = map[string]string{MetaHash: metaHash}
	}
	if _, err := e.s3.PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

func key(t *testing.T, m *Mirror, incident string, seq int64) string {
	t.Helper()
	k, err := m.Key(incident, seq)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustJSON(t *testing.T, e ledger.Entry) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewOptions(t *testing.T) {
	c := s3.New(s3.Options{})
	for _, tc := range []struct {
		name string
		c    Client
		o    Options
		want string // error substring; "" = accepted
	}{
		{"defaults", c, Options{Bucket: "b"}, ""},
		{"governance", c, Options{Bucket: "b", LockMode: "GOVERNANCE", Retention: 24 * time.Hour}, ""},
		{"no client", nil, Options{Bucket: "b"}, "no S3 client"},
		{"no bucket", c, Options{}, "no bucket"},
		{"short retention", c, Options{Bucket: "b", Retention: time.Hour}, "shorter than 24h"},
		{"lower-case mode", c, Options{Bucket: "b", LockMode: "compliance"}, "COMPLIANCE or GOVERNANCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.c, tc.o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			case tc.want == "" && (m.o.Retention < MinRetention || m.mode == ""):
				t.Errorf("defaults not applied: %+v", m.o)
			}
		})
	}
}

func TestKey(t *testing.T) {
	m, _ := New(s3.New(s3.Options{}), Options{Bucket: "b", Prefix: "sever-ledger/"})
	for _, tc := range []struct {
		incident string
		seq      int64
		want     string // "" = refused
	}{
		{"inc-aws-0123456789abcdef0123", 1, "sever-ledger/inc-aws-0123456789abcdef0123/0000000001.json"},
		{"inc-1", 9_999_999_999, "sever-ledger/inc-1/9999999999.json"},
		{"inc-1", 0, ""},
		{"inc-1", 10_000_000_000, ""},
		{"", 1, ""},
		{"..", 1, ""},
		{"a/b", 1, ""},
		{"inc 1", 1, ""},
		{strings.Repeat("a", 257), 1, ""},
	} {
		got, err := m.Key(tc.incident, tc.seq)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("Key(%q, %d) = %q, %v; want %q", tc.incident, tc.seq, got, err, tc.want)
		}
	}
}

func TestPut(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.mirror(t, drillcloud.DefaultEvidenceBucket, "COMPLIANCE")

	t.Run("LockedWithChecksumAndHash", func(t *testing.T) {
		x := e.mirrored(t, m, "inc-put", 1)[0]
		k := key(t, m, "inc-put", 1)
		obj, ok := e.cloud.Object(drillcloud.DefaultEvidenceBucket, k)
		if !ok {
			t.Fatalf("no object at %s", k)
		}
		if want := e.now.Add(48 * time.Hour).Truncate(time.Second); obj.LockMode != "COMPLIANCE" || !obj.RetainUntil.Equal(want) {
			t.Errorf("lock %s until %v, want COMPLIANCE until %v", obj.LockMode, obj.RetainUntil, want)
		}
		if obj.ChecksumAlgo != "SHA256" {
			t.Errorf("checksum algorithm %q, want SHA256", obj.ChecksumAlgo)
		}
		if !bytes.Equal(obj.Data, mustJSON(t, x)) {
			t.Errorf("object holds %s, want the entry's JSON %s", obj.Data, mustJSON(t, x))
		}
		var parsed ledger.Entry
		if err := json.Unmarshal(obj.Data, &parsed); err != nil || sever.SHA256Hex(parsed.Canonical()) != x.Hash {
			t.Errorf("the object's canonical form does not hash to the entry hash: %v", err)
		}
		head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(k)})
		if err != nil || head.Metadata[MetaHash] != x.Hash {
			t.Errorf("metadata %v (%v), want %s=%s", head.Metadata, err, MetaHash, x.Hash)
		}
	})

	t.Run("RetryWritesNoSecondVersion", func(t *testing.T) {
		x := e.mirrored(t, m, "inc-retry", 1)[0]
		puts := e.cloud.Applied("s3:PutObject")
		for range 3 {
			if err := m.Put(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.cloud.Applied("s3:PutObject"); got != puts {
			t.Errorf("retries applied %d puts", got-puts)
		}
		if vs := e.cloud.ObjectVersions(m.Bucket(), key(t, m, "inc-retry", 1)); len(vs) != 1 {
			t.Errorf("%d versions, want 1", len(vs))
		}
	})

	t.Run("ConflictRefused", func(t *testing.T) {
		x := e.mirrored(t, m, "inc-conflict", 1)[0]
		other := x
		other.Result = "split brain"
		other.Hash = other.ComputeHash()
		err := m.Put(ctx, other)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		for _, want := range []string{"inc-conflict", "seq 1", x.Hash, other.Hash} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
		vs := e.cloud.ObjectVersions(m.Bucket(), key(t, m, "inc-conflict", 1))
		if len(vs) != 1 || !bytes.Equal(vs[0].Data, mustJSON(t, x)) {
			t.Errorf("the object changed: %d versions", len(vs))
		}
	})

	t.Run("ObjectLockRefusesDeletingTheVersion", func(t *testing.T) {
		e.mirrored(t, m, "inc-worm", 1)
		k := key(t, m, "inc-worm", 1)
		v := e.cloud.ObjectVersions(m.Bucket(), k)[0]
		_, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(k),
			VersionId: aws.String(v.VersionID), BypassGovernanceRetention: aws.Bool(true)})
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Fatalf("deleting the locked version: err = %v, want AccessDenied", err)
		}
		if vs := e.cloud.ObjectVersions(m.Bucket(), k); len(vs) != 1 || vs[0].VersionID != v.VersionID {
			t.Errorf("versions after the refused delete: %+v", vs)
		}
	})

	t.Run("BucketWithoutObjectLock", func(t *testing.T) {
		plain := e.mirror(t, plainBucket, "COMPLIANCE")
		x := e.appendN(t, "inc-plain", 1)[0]
		err := plain.Put(ctx, x)
		if err == nil || !strings.Contains(err.Error(), "Object Lock") || !strings.Contains(err.Error(), "inc-plain seq 1") {
			t.Fatalf("err = %v, want the bucket's missing Object Lock named", err)
		}
	})

	t.Run("EntryNotStored", func(t *testing.T) {
		if err := m.Put(ctx, ledger.Entry{Incident: "inc-x", Seq: 1}); err == nil || !strings.Contains(err.Error(), "no hash") {
			t.Errorf("err = %v", err)
		}
		if err := m.Put(ctx, ledger.Entry{Incident: "../inc", Seq: 1, Hash: strings.Repeat("a", 64)}); err == nil {
			t.Error("an incident that cannot name an object was accepted")
		}
	})
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	compliance := e.mirror(t, drillcloud.DefaultEvidenceBucket, "COMPLIANCE")
	governance := e.mirror(t, governanceBucket, "GOVERNANCE")
	for _, tc := range []struct {
		name   string
		m      *Mirror
		tamper func(t *testing.T, m *Mirror, inc string, x []ledger.Entry)
		seq    int64
		reason ledger.Reason
		detail string
	}{
		{name: "Intact", m: compliance},
		{name: "EditedKeepingTheHash", m: compliance, seq: 2, reason: ledger.ReasonEdited, detail: "hashes to",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				y := x[1]
				y.Result = "never happened"
				e.overwrite(t, m, key(t, m, inc, 2), mustJSON(t, y), y.Hash)
			}},
		{name: "EditedWithRecomputedHash", m: compliance, seq: 3, reason: ledger.ReasonInserted, detail: "does not follow",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				y := x[1]
				y.Result = "never happened"
				y.Hash = y.ComputeHash()
				e.overwrite(t, m, key(t, m, inc, 2), mustJSON(t, y), y.Hash)
			}},
		{name: "EditedLastEntryMetadataLeft", m: compliance, seq: 5, reason: ledger.ReasonEdited, detail: "metadata is",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				y := x[4]
				y.Result = "never happened"
				y.Hash = y.ComputeHash()
				e.overwrite(t, m, key(t, m, inc, 5), mustJSON(t, y), x[4].Hash)
			}},
		{name: "WrittenOutsideSever", m: compliance, seq: 2, reason: ledger.ReasonEdited, detail: "no sever-hash metadata",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				e.overwrite(t, m, key(t, m, inc, 2), mustJSON(t, x[1]), "")
			}},
		{name: "NotCanonical", m: compliance, seq: 2, reason: ledger.ReasonEdited, detail: "as sever writes it",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				b, _ := json.MarshalIndent(x[1], "", "  ")
				e.overwrite(t, m, key(t, m, inc, 2), b, x[1].Hash)
			}},
		{name: "NotAnEntry", m: compliance, seq: 4, reason: ledger.ReasonEdited, detail: "not a ledger entry",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				e.overwrite(t, m, key(t, m, inc, 4), []byte("deleted by ops"), x[3].Hash)
			}},
		{name: "HiddenByDeleteMarker", m: compliance, seq: 3, reason: ledger.ReasonDeleted, detail: "delete marker",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				// Object Lock allows a delete marker; the locked version stays.
				if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(key(t, m, inc, 3))}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "LastHiddenByDeleteMarker", m: compliance, seq: 5, reason: ledger.ReasonDeleted, detail: "delete marker",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(key(t, m, inc, 5))}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "MiddleVersionRemovedWithGovernanceBypass", m: governance, seq: 3, reason: ledger.ReasonDeleted, detail: "entry 3 is missing from the S3 copy: the next object is seq 4",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				k := key(t, m, inc, 3)
				v := e.cloud.ObjectVersions(m.Bucket(), k)[0]
				if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(k),
					VersionId: aws.String(v.VersionID), BypassGovernanceRetention: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "Reordered", m: compliance, seq: 2, reason: ledger.ReasonReordered, detail: "entry 3 is at position 2",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				e.overwrite(t, m, key(t, m, inc, 2), mustJSON(t, x[2]), x[2].Hash)
				e.overwrite(t, m, key(t, m, inc, 3), mustJSON(t, x[1]), x[1].Hash)
			}},
		{name: "AnotherIncidentsEntry", m: compliance, seq: 2, reason: ledger.ReasonInserted, detail: "belongs to incident",
			tamper: func(t *testing.T, m *Mirror, inc string, x []ledger.Entry) {
				y := e.mirrored(t, m, inc+"-other", 2)[1]
				e.overwrite(t, m, key(t, m, inc, 2), mustJSON(t, y), y.Hash)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := "inc-verify-" + strings.ToLower(tc.name)
			x := e.mirrored(t, tc.m, inc, 5)
			if tc.tamper != nil {
				tc.tamper(t, tc.m, inc, x)
			}
			brk, err := tc.m.Verify(ctx, inc)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.reason == "" && brk != nil:
				t.Fatalf("break in an intact copy: %s", brk)
			case tc.reason == "":
				return
			case brk == nil:
				t.Fatal("no break found")
			case brk.Incident != inc || brk.Seq != tc.seq || brk.Reason != tc.reason || !strings.Contains(brk.Detail, tc.detail):
				t.Fatalf("break = %s; want seq %d %s with %q", brk, tc.seq, tc.reason, tc.detail)
			}
			// The local ledger is untouched, so Compare names the tampered seq too.
			diffs, err := tc.m.Compare(ctx, e.ledger, inc)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) == 0 {
				t.Fatal("Compare found no difference")
			}
		})
	}

	t.Run("UnknownIncident", func(t *testing.T) {
		_, err := compliance.Verify(ctx, "inc-never")
		var se *sever.Error
		if !errors.As(err, &se) || se.Code != sever.ENOTFOUND {
			t.Fatalf("err = %v, want not_found", err)
		}
	})
}

// localFunc serves Compare a local copy other than the store.
type localFunc func() []ledger.Entry

func (f localFunc) Entries(context.Context, string) ([]ledger.Entry, error) { return f(), nil }

func TestCompare(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.mirror(t, drillcloud.DefaultEvidenceBucket, "COMPLIANCE")
	type want struct {
		seq    int64
		kind   DiffKind
		detail string
	}
	for _, tc := range []struct {
		name   string
		copied int // of 5 entries, how many reach S3
		local  func(x []ledger.Entry) Local
		tamper func(t *testing.T, inc string, x []ledger.Entry)
		want   []want
	}{
		{name: "Same", copied: 5},
		{name: "S3Behind", copied: 3, want: []want{{4, MissingInS3, "not copied"}, {5, MissingInS3, "not copied"}}},
		{name: "LocalLostEntries", copied: 5, local: func(x []ledger.Entry) Local { return localFunc(func() []ledger.Entry { return x[:3] }) },
			want: []want{{4, MissingLocally, "lacks"}, {5, MissingLocally, "lacks"}}},
		{name: "LocalGap", copied: 5, local: func(x []ledger.Entry) Local {
			return localFunc(func() []ledger.Entry { return append(append([]ledger.Entry(nil), x[:2]...), x[3:]...) })
		}, want: []want{{3, MissingLocally, "lacks"}}},
		{name: "RewrittenKeepingTheHash", copied: 5, tamper: func(t *testing.T, inc string, x []ledger.Entry) {
			y := x[1]
			y.Result = "never happened"
			e.overwrite(t, m, key(t, m, inc, 2), mustJSON(t, y), y.Hash)
		}, want: []want{{2, Different, "without recomputing"}}},
		{name: "RewrittenWithNewHash", copied: 5, tamper: func(t *testing.T, inc string, x []ledger.Entry) {
			y := x[1]
			y.Result = "never happened"
			y.Hash = y.ComputeHash()
			e.overwrite(t, m, key(t, m, inc, 2), mustJSON(t, y), y.Hash)
		}, want: []want{{2, Different, "holds hash"}}},
		{name: "NotAnEntry", copied: 5, tamper: func(t *testing.T, inc string, x []ledger.Entry) {
			e.overwrite(t, m, key(t, m, inc, 5), []byte("{}"), "")
		}, want: []want{{5, Different, "as sever writes it"}}},
		{name: "HiddenByDeleteMarker", copied: 5, tamper: func(t *testing.T, inc string, x []ledger.Entry) {
			if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket()), Key: aws.String(key(t, m, inc, 3))}); err != nil {
				t.Fatal(err)
			}
		}, want: []want{{3, MissingInS3, "delete marker"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := "inc-compare-" + strings.ToLower(tc.name)
			x := e.appendN(t, inc, 5)
			for _, y := range x[:tc.copied] {
				if err := m.Put(ctx, y); err != nil {
					t.Fatal(err)
				}
			}
			if tc.tamper != nil {
				tc.tamper(t, inc, x)
			}
			var local Local = e.ledger
			if tc.local != nil {
				local = tc.local(x)
			}
			diffs, err := m.Compare(ctx, local, inc)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != len(tc.want) {
				t.Fatalf("differences = %v, want %v", diffs, tc.want)
			}
			for i, d := range diffs {
				w := tc.want[i]
				if d.Incident != inc || d.Seq != w.seq || d.Kind != w.kind || !strings.Contains(d.Detail, w.detail) {
					t.Errorf("difference %d = %s, want seq %d %s with %q", i, d, w.seq, w.kind, w.detail)
				}
			}
		})
	}
}

// racer is another writer that puts its own entry between the mirror's HeadObject and
// its PutObject; the conditional put then fails as S3 fails it.
type racer struct {
	Client
	put func(ctx context.Context) error
}

func (r racer) PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if aws.ToString(in.IfNoneMatch) != "*" {
		return nil, fmt.Errorf("put without If-None-Match: *")
	}
	if err := r.put(ctx); err != nil {
		return nil, err
	}
	return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
}

func TestPutLosesARace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.mirror(t, drillcloud.DefaultEvidenceBucket, "COMPLIANCE")
	for _, tc := range []struct {
		name     string
		same     bool
		conflict bool
	}{
		{"SameEntry", true, false},
		{"OtherEntry", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := "inc-race-" + strings.ToLower(tc.name)
			x := e.appendN(t, inc, 1)[0]
			theirs := x
			if !tc.same {
				theirs.Result = "written by the other ledger"
				theirs.Hash = theirs.ComputeHash()
			}
			raced, err := New(racer{Client: e.s3, put: func(ctx context.Context) error { return m.Put(ctx, theirs) }}, m.o)
			if err != nil {
				t.Fatal(err)
			}
			err = raced.Put(ctx, x)
			if errors.Is(err, ErrConflict) != tc.conflict || (!tc.conflict && err != nil) {
				t.Fatalf("err = %v, want conflict %v", err, tc.conflict)
			}
		})
	}
}

// TestReadmeHandVerification runs ledger/README.md's by-hand check of the S3 copy
// (bash, jq, sha256sum) on downloaded objects, before and after tampering.
func TestReadmeHandVerification(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile("(?s)<!-- test: s3copy -->\n```bash\n(.*?)```").FindSubmatch(readme)
	if match == nil {
		t.Fatal("ledger/README.md has no script s3copy")
	}
	e := newEnv(t)
	m := e.mirror(t, drillcloud.DefaultEvidenceBucket, "COMPLIANCE")
	x := e.mirrored(t, m, "inc-readme", 4)
	tricky, _, err := e.ledger.Append(context.Background(), ledger.Entry{Incident: "inc-readme", Kind: ledger.KindStepOutcome,
		Key: "step/tricky/outcome", Result: "quote \" backslash \\ <b>&amp; é 日本 🙂 'single'", Detail: map[string]string{"note": "a|b\\c", "é": "ü"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Put(context.Background(), tricky); err != nil {
		t.Fatal(err)
	}
	// download is `aws s3 cp --recursive`: the latest version of every key.
	download := func(t *testing.T) string {
		dir := t.TempDir()
		for seq := int64(1); seq <= 5; seq++ {
			if obj, ok := e.cloud.Object(m.Bucket(), key(t, m, "inc-readme", seq)); ok {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%010d.json", seq)), obj.Data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	run := func(t *testing.T, want string, ok bool) {
		t.Helper()
		cmd := exec.Command("bash", "-c", string(match[1]))
		cmd.Env = append(os.Environ(), "DIR="+download(t))
		out, err := cmd.CombinedOutput()
		if (err == nil) != ok || !strings.Contains(string(out), want) {
			t.Fatalf("script: %v\n%s\nwant success %v and %q", err, out, ok, want)
		}
	}
	t.Run("Intact", func(t *testing.T) { run(t, "S3 copy OK: 5 entries, last hash "+tricky.Hash, true) })
	t.Run("Edited", func(t *testing.T) {
		y := x[2]
		y.Result = "never happened"
		e.overwrite(t, m, key(t, m, "inc-readme", 3), mustJSON(t, y), y.Hash)
		run(t, "seq 3: edited", false)
	})
	t.Run("Hidden", func(t *testing.T) {
		if _, err := e.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket()),
			Key: aws.String(key(t, m, "inc-readme", 2))}); err != nil {
			t.Fatal(err)
		}
		run(t, "seq 2: missing", false)
	})
}
