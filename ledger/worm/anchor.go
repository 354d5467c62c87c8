package worm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sever-ir/sever/internal/awserr"
	"github.com/sever-ir/sever/ledger"
)

// AnchorDir is where checkpoints go under the prefix: <prefix>.anchors/<n, 10
// digits>.json, numbered from 1 without gaps. No incident ID starts with a dot, so
// it never collides with an incident's objects.
const AnchorDir = ".anchors/"

// maxAnchorAttempts bounds how often WriteCheckpoint moves on to the next number when
// another writer took the one it tried.
const maxAnchorAttempts = 8

var (
	_ ledger.AnchorSink   = (*Mirror)(nil)
	_ ledger.AnchorSource = (*Mirror)(nil)
)

// AnchorKey returns the object key of checkpoint n.
func (m *Mirror) AnchorKey(n int64) string {
	return fmt.Sprintf("%s%s%010d.json", m.o.Prefix, AnchorDir, n)
}

// WriteCheckpoint stores a signed checkpoint (ledger.Checkpoint.Marshal) as the next
// numbered object under Object Lock, with If-None-Match: * so that it never replaces
// one: when another worker took the number it moves on to the next. The SHA-256 of
// the data is in the metadata (MetaHash).
func (m *Mirror) WriteCheckpoint(ctx context.Context, data []byte) error {
	m.anchorMu.Lock()
	defer m.anchorMu.Unlock()
	if m.nextAnchor == 0 {
		last, err := m.lastAnchor(ctx)
		if err != nil {
			return err
		}
		m.nextAnchor = last + 1
	}
	sum := sha256.Sum256(data)
	for range maxAnchorAttempts {
		key := m.AnchorKey(m.nextAnchor)
		// Look first: If-None-Match closes the race on S3, but not every S3-compatible
		// store honours it, and a taken number is the common case after a restart.
		taken, err := m.anchorExists(ctx, m.nextAnchor)
		if err != nil {
			return err
		}
		if taken {
			m.nextAnchor++
			continue
		}
		_, err = m.c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(m.o.Bucket), Key: aws.String(key), Body: bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json"),
			ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
			ObjectLockMode: m.mode, ObjectLockRetainUntilDate: aws.Time(m.o.Now().Add(m.o.Retention).Truncate(time.Second)),
			IfNoneMatch: aws.String("*"),
			Metadata:    map[string]string{MetaHash: hex.EncodeToString(sum[:])},
		}, putOnce)
		if err == nil {
			m.nextAnchor++
			return nil
		}
		if code, _ := awserr.Code(err); code != "PreconditionFailed" {
			return fmt.Errorf("ledger/worm: write checkpoint: s3:PutObject %s: %w", m.uri(key), err)
		}
		// Taken by another writer (or by a put of ours whose response was lost: a
		// duplicate checkpoint is harmless).
		m.nextAnchor++
	}
	return fmt.Errorf("ledger/worm: write checkpoint: %d numbers in a row were taken at %s", maxAnchorAttempts, m.uri(m.o.Prefix+AnchorDir))
}

// anchorExists reports whether checkpoint n exists.
func (m *Mirror) anchorExists(ctx context.Context, n int64) (bool, error) {
	key := m.AnchorKey(n)
	_, err := m.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.o.Bucket), Key: aws.String(key)})
	switch {
	case err == nil:
		return true, nil
	case isMissing(err):
		return false, nil
	}
	return false, fmt.Errorf("ledger/worm: checkpoints: s3:HeadObject %s: %w", m.uri(key), err)
}

// lastAnchor finds the number of the last checkpoint (0 for none) with O(log n)
// HeadObject calls and no listing: checkpoints are numbered without gaps.
func (m *Mirror) lastAnchor(ctx context.Context) (int64, error) {
	lo, hi := int64(0), int64(1) // lo exists (0 = none), hi is the next probe
	for {
		ok, err := m.anchorExists(ctx, hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 { // lo exists, hi does not
		mid := lo + (hi-lo)/2
		ok, err := m.anchorExists(ctx, mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// ReadCheckpoints reads every checkpoint from number 1 until one is missing. A
// missing number followed by a later checkpoint (within 16), or hidden by a delete
// marker, is an error: someone hid a checkpoint, which would hide a truncation.
func (m *Mirror) ReadCheckpoints(ctx context.Context) ([]ledger.RawCheckpoint, error) {
	var out []ledger.RawCheckpoint
	for n := int64(1); ; n++ {
		key := m.AnchorKey(n)
		res, err := m.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.o.Bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
		if err != nil {
			if code, _ := awserr.Code(err); code != "NoSuchKey" && code != "NotFound" {
				return nil, fmt.Errorf("ledger/worm: checkpoints: s3:GetObject %s: %w", m.uri(key), err)
			}
			if marker, id := deleteMarker(err); marker {
				return nil, fmt.Errorf("ledger/worm: checkpoints: %s is hidden by a delete marker (version %s): a checkpoint was hidden", m.uri(key), id)
			}
			for later := n + 1; later <= n+probeWindow; later++ {
				ok, err := m.anchorExists(ctx, later)
				if err != nil {
					return nil, err
				}
				if ok {
					return nil, fmt.Errorf("ledger/worm: checkpoints: %s is missing but checkpoint %d exists: a checkpoint was removed or hidden", m.uri(key), later)
				}
			}
			return out, nil
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, maxAnchorBytes+1))
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("ledger/worm: checkpoints: %s: %w", m.uri(key), err)
		}
		if len(body) > maxAnchorBytes {
			return nil, fmt.Errorf("ledger/worm: checkpoints: %s is larger than %d bytes: not a checkpoint", m.uri(key), maxAnchorBytes)
		}
		out = append(out, ledger.RawCheckpoint{Where: m.uri(key), Data: body})
	}
}

// maxAnchorBytes bounds a checkpoint read back: one holds a head per incident.
const maxAnchorBytes = 64 << 20
