package drillcloud

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func sha256b64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func putLocked(ctx context.Context, cli *s3.Client, key string, body []byte, mode types.ObjectLockMode, until time.Time) (*s3.PutObjectOutput, error) {
	return cli.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ObjectLockMode: mode, ObjectLockRetainUntilDate: aws.Time(until),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ContentType: aws.String("application/json"),
	})
}

func TestS3Operations(t *testing.T) {
	seed := DefaultSeed()
	seed.Accounts[0].Buckets = append(seed.Accounts[0].Buckets, SeedBucket{Name: "scratch-bucket"})
	c := startCloud(t, seed)
	cli := s3From(noRetry(cfgFor(t, c, DefaultResponderKeyID)))
	ctx := ctx(t)
	body := []byte(`{"incident":"inc-1","evidence":"snapshot"}`)
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Millisecond)

	t.Run("ListBuckets", func(t *testing.T) {
		out, err := cli.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Buckets) != 2 || aws.ToString(out.Buckets[0].Name) != "scratch-bucket" || aws.ToString(out.Buckets[1].Name) != DefaultEvidenceBucket ||
			out.Owner == nil || aws.ToString(out.Buckets[0].BucketRegion) != DefaultRegion {
			t.Fatalf("buckets = %+v", out)
		}
	})

	var v1 string
	t.Run("PutObject with Object Lock and SHA-256", func(t *testing.T) {
		out, err := putLocked(ctx, cli, "inc-1/evidence.json", body, types.ObjectLockModeCompliance, until)
		if err != nil {
			t.Fatal(err)
		}
		v1 = aws.ToString(out.VersionId)
		if v1 == "" || aws.ToString(out.ChecksumSHA256) != sha256b64(body) || aws.ToString(out.ETag) == "" {
			t.Fatalf("put = %+v", out)
		}
		obj, ok := c.Object(DefaultEvidenceBucket, "inc-1/evidence.json")
		if !ok || obj.LockMode != "COMPLIANCE" || !obj.RetainUntil.Equal(until) || obj.ChecksumAlgo != "SHA256" || !bytes.Equal(obj.Data, body) {
			t.Fatalf("stored = %+v", obj)
		}
	})

	t.Run("PutObject default checksum and default retention", func(t *testing.T) {
		// No explicit lock: the bucket's 1-day COMPLIANCE default applies, and
		// the SDK's default CRC32 satisfies the checksum requirement.
		if _, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/default"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		obj, _ := c.Object(DefaultEvidenceBucket, "inc-1/default")
		if obj.LockMode != "COMPLIANCE" || obj.RetainUntil.Before(time.Now().Add(23*time.Hour)) || obj.ChecksumAlgo != "CRC32" {
			t.Fatalf("stored = %+v", obj)
		}
	})

	t.Run("GetObject and HeadObject", func(t *testing.T) {
		out, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/evidence.json"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(out.Body) // the SDK validates the SHA-256 while reading
		out.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("body = %q, %v", got, err)
		}
		if out.ObjectLockMode != types.ObjectLockModeCompliance || !out.ObjectLockRetainUntilDate.Equal(until) ||
			aws.ToString(out.VersionId) != v1 || aws.ToString(out.ChecksumSHA256) != sha256b64(body) || aws.ToString(out.ContentType) != "application/json" {
			t.Fatalf("get = %+v", out)
		}
		head, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/evidence.json")})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) || head.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOff {
			t.Fatalf("head = %+v, %v", head, err)
		}
		_, err = cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("missing")})
		var nf *types.NotFound
		if !asErr(err, &nf) {
			t.Fatalf("head missing: %v", err)
		}
		_, err = cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("missing")})
		var nk *types.NoSuchKey
		if !asErr(err, &nk) {
			t.Fatalf("get missing: %v", err)
		}
		_, err = cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/evidence.json"),
			ExpectedBucketOwner: aws.String("999999999999")})
		if httpStatus(err) != 403 {
			t.Fatalf("wrong expected owner: %v", err)
		}
		_, err = cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
		if errCode(err) != "NoSuchBucket" {
			t.Fatalf("missing bucket: %v", err)
		}
	})

	t.Run("Object Lock refuses deleting a retained version", func(t *testing.T) {
		_, err := cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/evidence.json"), VersionId: aws.String(v1)})
		if errCode(err) != "AccessDenied" {
			t.Fatalf("delete retained version: %v, want AccessDenied", err)
		}
		// Governance bypass does not apply to COMPLIANCE.
		_, err = cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/evidence.json"), VersionId: aws.String(v1), BypassGovernanceRetention: aws.Bool(true)})
		if errCode(err) != "AccessDenied" {
			t.Fatalf("bypass on COMPLIANCE: %v", err)
		}
		if n := len(c.ObjectVersions(DefaultEvidenceBucket, "inc-1/evidence.json")); n != 1 {
			t.Fatalf("%d versions left, want 1", n)
		}
		// Without a version id S3 only adds a delete marker; the evidence stays.
		out, err := cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/evidence.json")})
		if err != nil || !aws.ToBool(out.DeleteMarker) {
			t.Fatalf("delete marker: %+v, %v", out, err)
		}
		if _, ok := c.Object(DefaultEvidenceBucket, "inc-1/evidence.json"); ok {
			t.Fatal("latest should be a delete marker")
		}
		vs := c.ObjectVersions(DefaultEvidenceBucket, "inc-1/evidence.json")
		if len(vs) != 2 || !bytes.Equal(vs[0].Data, body) || !vs[1].DeleteMarker {
			t.Fatalf("versions = %+v", vs)
		}
		got, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("inc-1/evidence.json"), VersionId: aws.String(v1)})
		if err != nil {
			t.Fatalf("old version still readable: %v", err)
		}
		got.Body.Close()
	})

	t.Run("GOVERNANCE yields to bypass", func(t *testing.T) {
		out, err := putLocked(ctx, cli, "gov", []byte("g"), types.ObjectLockModeGovernance, until)
		if err != nil {
			t.Fatal(err)
		}
		del := &s3.DeleteObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("gov"), VersionId: out.VersionId}
		if _, err := cli.DeleteObject(ctx, del); errCode(err) != "AccessDenied" {
			t.Fatalf("without bypass: %v", err)
		}
		del.BypassGovernanceRetention = aws.Bool(true)
		if _, err := cli.DeleteObject(ctx, del); err != nil {
			t.Fatalf("with bypass: %v", err)
		}
	})

	t.Run("checksum and lock validation", func(t *testing.T) {
		_, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("bad"), Body: strings.NewReader("data"),
			ChecksumSHA256: aws.String(sha256b64([]byte("other")))})
		if errCode(err) != "BadDigest" {
			t.Fatalf("wrong sha256: %v", err)
		}
		_, err = putLocked(ctx, cli, "past", []byte("p"), types.ObjectLockModeCompliance, time.Now().Add(-time.Hour))
		if errCode(err) != "InvalidArgument" {
			t.Fatalf("retain in the past: %v", err)
		}
		_, err = cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scratch-bucket"), Key: aws.String("k"), Body: strings.NewReader("d"),
			ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until)})
		if errCode(err) != "InvalidRequest" {
			t.Fatalf("lock on a bucket without Object Lock: %v", err)
		}
	})

	t.Run("GetObjectLockConfiguration", func(t *testing.T) {
		out, err := cli.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(DefaultEvidenceBucket)})
		if err != nil {
			t.Fatal(err)
		}
		cfg := out.ObjectLockConfiguration
		if cfg.ObjectLockEnabled != types.ObjectLockEnabledEnabled || cfg.Rule.DefaultRetention.Mode != types.ObjectLockRetentionModeCompliance ||
			aws.ToInt32(cfg.Rule.DefaultRetention.Days) != 1 {
			t.Fatalf("config = %+v", cfg)
		}
		if _, err := cli.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("scratch-bucket")}); errCode(err) != "ObjectLockConfigurationNotFoundError" {
			t.Fatalf("unlocked bucket: %v", err)
		}
	})

	t.Run("unversioned bucket", func(t *testing.T) {
		for _, v := range []string{"one", "two"} {
			if _, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scratch-bucket"), Key: aws.String("k"), Body: strings.NewReader(v)}); err != nil {
				t.Fatal(err)
			}
		}
		if vs := c.ObjectVersions("scratch-bucket", "k"); len(vs) != 1 || string(vs[0].Data) != "two" || vs[0].VersionID != "null" {
			t.Fatalf("versions = %+v", vs)
		}
		if _, err := cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("scratch-bucket"), Key: aws.String("k")}); err != nil {
			t.Fatal(err)
		}
		if vs := c.ObjectVersions("scratch-bucket", "k"); len(vs) != 0 {
			t.Fatalf("after delete = %+v", vs)
		}
	})
}

// TestS3AWSChunkedOverTLS lets the SDK choose its streaming upload: over
// HTTPS it sends aws-chunked with a trailing checksum.
func TestS3AWSChunkedOverTLS(t *testing.T) {
	c, err := New(DefaultSeed())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var encodings []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		encodings = append(encodings, r.Header.Get("Content-Encoding")+"|"+r.Header.Get("X-Amz-Content-Sha256"))
		mu.Unlock()
		c.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg, err := c.AWSConfigFor(context.Background(), srv.URL, DefaultResponderKeyID)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = srv.Client()
	cli := s3From(noRetry(cfg))
	body := bytes.Repeat([]byte("evidence "), 10000)
	_, err = cli.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(DefaultEvidenceBucket), Key: aws.String("chunked"),
		Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	obj, ok := c.Object(DefaultEvidenceBucket, "chunked")
	if !ok || !bytes.Equal(obj.Data, body) || obj.Checksum != sha256b64(body) {
		t.Fatalf("stored %d bytes, checksum %s", len(obj.Data), obj.Checksum)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(encodings) != 1 || !strings.Contains(encodings[0], "aws-chunked") {
		t.Fatalf("request encodings = %q; the SDK did not stream", encodings)
	}
}

// TestS3SignedChunks sends STREAMING-AWS4-HMAC-SHA256-PAYLOAD by hand: the
// seed signature comes from the SDK signer and the chunk signatures from the
// SDK's stream signer.
func TestS3SignedChunks(t *testing.T) {
	c := defaultCloud(t)
	creds, _ := c.Credentials(DefaultResponderKeyID)
	chunks := [][]byte{bytes.Repeat([]byte("a"), 65536), []byte("tail")}
	send := func(tamper bool) *http.Response {
		t.Helper()
		now := time.Now().UTC()
		// The encoded length must be known before signing; build with dummy
		// signatures of the right size first.
		encode := func(sigs []string) []byte {
			var b bytes.Buffer
			for i, ch := range append(chunks, nil) {
				fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(ch), sigs[i])
				b.Write(ch)
				b.WriteString("\r\n")
			}
			return b.Bytes()
		}
		dummy := []string{strings.Repeat("0", 64), strings.Repeat("0", 64), strings.Repeat("0", 64)}
		req, _ := http.NewRequest(http.MethodPut, c.URL()+"/"+DefaultEvidenceBucket+"/signed", bytes.NewReader(encode(dummy)))
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Content-Sha256", streamingSigned)
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(chunks[0])+len(chunks[1])))
		// The bucket's default retention needs an integrity header.
		all := append(append([]byte(nil), chunks[0]...), chunks[1]...)
		req.Header.Set("Content-Md5", md5b64(all))
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err := signer.SignHTTP(context.Background(), creds, req, streamingSigned, "s3", DefaultRegion, now); err != nil {
			t.Fatal(err)
		}
		auth, _ := parseAuthorization(req.Header.Get("Authorization"))
		seed, _ := hex.DecodeString(auth.Signature)
		ss := v4.NewStreamSigner(creds, "s3", DefaultRegion, seed)
		var sigs []string
		for _, ch := range append(chunks, nil) {
			sig, err := ss.GetSignature(context.Background(), nil, ch, now)
			if err != nil {
				t.Fatal(err)
			}
			sigs = append(sigs, hex.EncodeToString(sig))
		}
		if tamper {
			sigs[1] = strings.Repeat("f", 64)
		}
		enc := encode(sigs)
		req.Body = io.NopCloser(bytes.NewReader(enc))
		req.ContentLength = int64(len(enc))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := send(false); resp.StatusCode != 200 {
		t.Fatalf("signed chunks: status %d (%s)", resp.StatusCode, lastCall(t, c, "PutObject").ErrorMsg)
	}
	obj, ok := c.Object(DefaultEvidenceBucket, "signed")
	if !ok || len(obj.Data) != 65540 {
		t.Fatalf("stored %d bytes", len(obj.Data))
	}
	if resp := send(true); resp.StatusCode != 403 {
		t.Fatalf("tampered chunk: status %d", resp.StatusCode)
	}
}
