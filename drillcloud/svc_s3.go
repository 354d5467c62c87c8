package drillcloud

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

var s3Ops = map[string]*opDef{
	"ListBuckets": {action: "s3:ListAllMyBuckets", readOnly: true, handle: s3ListBuckets},
	"PutObject":   {action: "s3:PutObject", resource: s3ObjectARN, handle: s3PutObject},
	"GetObject": {actionFn: func(cl *call) string { return s3VersionedAction(cl, "s3:GetObject", "s3:GetObjectVersion") },
		readOnly: true, resource: s3ObjectARN, handle: s3GetObject},
	"HeadObject": {actionFn: func(cl *call) string { return s3VersionedAction(cl, "s3:GetObject", "s3:GetObjectVersion") },
		readOnly: true, resource: s3ObjectARN, handle: s3GetObject},
	"DeleteObject": {actionFn: func(cl *call) string { return s3VersionedAction(cl, "s3:DeleteObject", "s3:DeleteObjectVersion") },
		resource: s3ObjectARN, handle: s3DeleteObject},
	"GetObjectLockConfiguration": {action: "s3:GetBucketObjectLockConfiguration", readOnly: true,
		resource: func(cl *call) string { return "arn:aws:s3:::" + cl.path["bucket"] }, handle: s3GetObjectLockConfiguration},
}

func s3VersionedAction(cl *call, plain, versioned string) string {
	if cl.r.URL.Query().Get("versionId") != "" {
		return versioned
	}
	return plain
}

func s3ObjectARN(cl *call) string {
	return "arn:aws:s3:::" + cl.path["bucket"] + "/" + cl.path["key"]
}

// s3ObjectOps are the object operations by method.
var s3ObjectOps = map[string]string{http.MethodPut: "PutObject", http.MethodGet: "GetObject", http.MethodHead: "HeadObject", http.MethodDelete: "DeleteObject"}

// s3Subresources are the object subresources the drill cloud does not serve,
// by method: a request naming one is an unknown operation.
var s3Subresources = map[string][]string{
	http.MethodPut: {"retention", "legal-hold", "tagging", "acl", "uploadId"},
	http.MethodGet: {"acl", "tagging", "retention", "legal-hold", "attributes", "torrent", "uploadId"},
}

// s3Route maps a path-style request to its operation.
func s3Route(r *http.Request) (string, map[string]string) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	p := map[string]string{"bucket": bucket, "key": key}
	q := r.URL.Query()
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets", p
		}
	case key == "":
		if r.Method == http.MethodGet && q.Has("object-lock") {
			return "GetObjectLockConfiguration", p
		}
	default:
		if r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" {
			return "CopyObject", p
		}
		for _, sub := range s3Subresources[r.Method] {
			if q.Has(sub) {
				return "", p
			}
		}
		return s3ObjectOps[r.Method], p
	}
	return "", p
}

type s3Algo struct {
	name, header string
	newHash      func() hash.Hash
}

var s3Algos = []s3Algo{
	{"CRC32", "x-amz-checksum-crc32", func() hash.Hash { return crc32.NewIEEE() }},
	{"CRC32C", "x-amz-checksum-crc32c", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"CRC64NVME", "x-amz-checksum-crc64nvme", func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) }},
	{"SHA1", "x-amz-checksum-sha1", sha1.New},
	{"SHA256", "x-amz-checksum-sha256", sha256.New},
}

func s3Checksum(a s3Algo, data []byte) string {
	h := a.newHash()
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func s3Algorithm(name string) (s3Algo, bool) {
	for _, a := range s3Algos {
		if a.name == name {
			return a, true
		}
	}
	return s3Algo{}, false
}

// s3Bucket finds a bucket the caller's account owns. Callers hold c.mu.
func (cl *call) s3Bucket() (*bucket, *apiError) {
	name := cl.path["bucket"]
	cl.param("bucketName", name)
	b := cl.c.st.buckets[name]
	if b == nil {
		return nil, &apiError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
	}
	owner := cl.r.Header.Get("X-Amz-Expected-Bucket-Owner")
	if b.account != cl.id.account || (owner != "" && owner != b.account) {
		return nil, &apiError{Status: 403, Code: "AccessDenied", Message: "Access Denied"}
	}
	return b, nil
}

// onBucket runs h under c.mu on the bucket the path names, once s3Bucket has
// let the caller use it.
func (cl *call) onBucket(h func(b *bucket) (*response, error)) (*response, error) {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	b, e := cl.s3Bucket()
	if e != nil {
		return nil, e
	}
	return h(b)
}

// s3Version reads the object key and version id of the path and query,
// recording both.
func (cl *call) s3Version() (key, versionID string) {
	key, versionID = cl.path["key"], cl.r.URL.Query().Get("versionId")
	cl.param("key", key)
	cl.param("versionId", versionID)
	return key, versionID
}

func s3XML(reqID string, v any) (*response, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal s3 response: %w", err)
	}
	resp := newResponse(200, "application/xml", append([]byte(xml.Header), b...))
	resp.header.Set("X-Amz-Request-Id", reqID)
	resp.header.Set("X-Amz-Id-2", hostID(reqID))
	return resp, nil
}

func s3Empty(status int, reqID string) *response {
	resp := newResponse(status, "", nil)
	resp.header.Set("X-Amz-Request-Id", reqID)
	resp.header.Set("X-Amz-Id-2", hostID(reqID))
	return resp
}

func canonicalUserID(account string) string {
	return hashHex([]byte("drillcloud-canonical-" + account))
}

func s3ListBuckets(cl *call) (*response, error) {
	q := cl.r.URL.Query()
	prefix, region := q.Get("prefix"), q.Get("bucket-region")
	type bkt struct {
		Name         string
		CreationDate msTime
		BucketRegion string
	}
	var list []bkt
	c := cl.c
	c.mu.Lock()
	alias := c.st.accounts[cl.id.account].alias
	for _, b := range c.st.buckets {
		if b.account == cl.id.account && strings.HasPrefix(b.name, prefix) && (region == "" || b.region == region) {
			list = append(list, bkt{b.name, msTime(b.created), b.region})
		}
	}
	c.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	if alias == "" {
		alias = cl.id.account
	}
	return s3XML(cl.reqID, struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Owner   struct{ ID, DisplayName string }
		Buckets struct {
			Bucket []bkt
		}
	}{Xmlns: s3NS, Owner: struct{ ID, DisplayName string }{canonicalUserID(cl.id.account), alias}, Buckets: struct{ Bucket []bkt }{list}})
}

// s3Body returns the object payload and any trailing headers, decoding
// aws-chunked uploads (and checking their chunk signatures).
func (cl *call) s3Body() ([]byte, http.Header, *apiError) {
	mode := cl.r.Header.Get("X-Amz-Content-Sha256")
	chunked := strings.Contains(cl.r.Header.Get("Content-Encoding"), "aws-chunked") ||
		mode == streamingSigned || mode == streamingSignedTrailer || mode == streamingUnsignedTrail
	if !chunked {
		return cl.body, http.Header{}, nil
	}
	data, trailer, err := decodeAWSChunked(cl.body, mode, cl.sigKey, cl.amzDate, cl.auth.scope(), cl.auth.Signature)
	if err != nil {
		if strings.Contains(err.Error(), "signature") {
			return nil, nil, &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: err.Error()}
		}
		return nil, nil, &apiError{Status: 400, Code: "IncompleteBody", Message: err.Error()}
	}
	if dl := cl.r.Header.Get("X-Amz-Decoded-Content-Length"); dl != "" {
		if n, err := strconv.Atoi(dl); err != nil || n != len(data) {
			return nil, nil, &apiError{Status: 400, Code: "IncompleteBody", Message: fmt.Sprintf("You did not provide the number of bytes specified by the x-amz-decoded-content-length header (%s, got %d).", dl, len(data))}
		}
	}
	return data, trailer, nil
}

func s3PutObject(cl *call) (*response, error) {
	data, trailer, e := cl.s3Body()
	if e != nil {
		return nil, e
	}
	h := cl.r.Header
	if md := h.Get("Content-MD5"); md != "" {
		want, err := base64.StdEncoding.DecodeString(md)
		if err != nil || len(want) != md5.Size {
			return nil, &apiError{Status: 400, Code: "InvalidDigest", Message: "The Content-MD5 you specified was invalid."}
		}
		if got := md5.Sum(data); !bytes.Equal(got[:], want) {
			return nil, &apiError{Status: 400, Code: "BadDigest", Message: "The Content-MD5 you specified did not match what we received."}
		}
	}
	var algo s3Algo
	var sum string
	for _, a := range s3Algos {
		v := h.Get(a.header)
		if v == "" {
			v = trailer.Get(a.header)
		}
		if v == "" {
			continue
		}
		if sum != "" {
			return nil, &apiError{Status: 400, Code: "InvalidRequest", Message: "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."}
		}
		if got := s3Checksum(a, data); got != v {
			return nil, &apiError{Status: 400, Code: "BadDigest", Message: fmt.Sprintf("The %s you specified did not match the calculated checksum.", a.name)}
		}
		algo, sum = a, v
	}
	if sdk := h.Get("X-Amz-Sdk-Checksum-Algorithm"); sdk != "" && sum == "" {
		return nil, &apiError{Status: 400, Code: "InvalidRequest", Message: "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found."}
	}

	mode := h.Get("X-Amz-Object-Lock-Mode")
	untilStr := h.Get("X-Amz-Object-Lock-Retain-Until-Date")
	legal := h.Get("X-Amz-Object-Lock-Legal-Hold")
	var until time.Time
	if mode != "" || untilStr != "" {
		if mode == "" || untilStr == "" {
			return nil, &apiError{Status: 400, Code: "InvalidArgument", Message: "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"}
		}
		if mode != "GOVERNANCE" && mode != "COMPLIANCE" {
			return nil, &apiError{Status: 400, Code: "InvalidArgument", Message: "Unknown wormMode directive."}
		}
		t, err := time.Parse(time.RFC3339Nano, untilStr)
		if err != nil {
			return nil, &apiError{Status: 400, Code: "InvalidArgument", Message: "The retain until date must be provided in ISO 8601 format"}
		}
		if !t.After(cl.now) {
			return nil, &apiError{Status: 400, Code: "InvalidArgument", Message: "The retain until date must be in the future!"}
		}
		until = t
	}
	if legal != "" && legal != "ON" && legal != "OFF" {
		return nil, &apiError{Status: 400, Code: "InvalidArgument", Message: "Legal Hold must be either of 'ON' or 'OFF'"}
	}
	key := cl.path["key"]
	cl.param("key", key)
	cl.param("x-amz-object-lock-mode", mode)
	cl.param("x-amz-object-lock-retain-until-date", untilStr)

	return cl.onBucket(func(b *bucket) (*response, error) {
		cl.resource("AWS::S3::Object", "arn:aws:s3:::"+b.name+"/"+key)
		if b.lock == nil && (mode != "" || legal != "") {
			return nil, &apiError{Status: 400, Code: "InvalidRequest", Message: "Bucket is missing Object Lock Configuration"}
		}
		if b.lock != nil && mode == "" && b.lock.Mode != "" {
			mode = b.lock.Mode
			until = cl.now.AddDate(b.lock.Years, 0, b.lock.Days)
		}
		if (mode != "" || legal == "ON") && sum == "" && h.Get("Content-MD5") == "" {
			return nil, &apiError{Status: 400, Code: "InvalidRequest", Message: "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"}
		}
		if sum == "" {
			// S3 computes a CRC64NVME for every upload that brings none.
			algo, _ = s3Algorithm("CRC64NVME")
			sum = s3Checksum(algo, data)
		}
		etag := md5.Sum(data)
		v := &objectVersion{
			versionID: "null", data: append([]byte(nil), data...), etag: `"` + hex.EncodeToString(etag[:]) + `"`,
			contentType: h.Get("Content-Type"), lastModified: cl.now, lockMode: mode, retainUntil: until, legalHold: legal == "ON",
			checksumAlgo: algo.name, checksum: sum, metadata: map[string]string{},
		}
		if v.contentType == "" {
			v.contentType = "binary/octet-stream"
		}
		for k, vs := range h {
			if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") {
				v.metadata[lk] = vs[0]
			}
		}
		if b.versioning {
			v.versionID = randAlnum(32)
			b.objects[key] = append(b.objects[key], v)
		} else {
			b.objects[key] = []*objectVersion{v}
		}
		cl.applied = true
		resp := s3Empty(200, cl.reqID)
		resp.header.Set("ETag", v.etag)
		resp.header.Set("X-Amz-Server-Side-Encryption", "AES256")
		resp.header.Set(algo.header, sum)
		resp.header.Set("X-Amz-Checksum-Type", "FULL_OBJECT")
		if b.versioning {
			resp.header.Set("X-Amz-Version-Id", v.versionID)
		}
		return resp, nil
	})
}

// s3GetObject serves GetObject and HeadObject (which S3 answers without a
// body and, for errors, without an error document).
func s3GetObject(cl *call) (*response, error) {
	key, versionID := cl.s3Version()
	return cl.onBucket(func(b *bucket) (*response, error) {
		var v *objectVersion
		if versionID != "" {
			v, _ = b.findVersion(key, versionID)
			if v == nil {
				return nil, &apiError{Status: 404, Code: "NoSuchVersion", Message: "The specified version does not exist."}
			}
			if v.deleteMarker {
				return nil, &apiError{Status: 405, Code: "MethodNotAllowed", Message: "The specified method is not allowed against this resource.",
					Header: map[string]string{"X-Amz-Delete-Marker": "true", "X-Amz-Version-Id": v.versionID}}
			}
		} else {
			v = b.latest(key)
			if v == nil {
				return nil, &apiError{Status: 404, Code: "NoSuchKey", Message: "The specified key does not exist."}
			}
			if v.deleteMarker {
				return nil, &apiError{Status: 404, Code: "NoSuchKey", Message: "The specified key does not exist.",
					Header: map[string]string{"X-Amz-Delete-Marker": "true", "X-Amz-Version-Id": v.versionID}}
			}
		}
		resp := s3Empty(200, cl.reqID)
		if cl.op == "GetObject" {
			resp.body = append([]byte(nil), v.data...)
		}
		hd := resp.header
		hd.Set("Content-Type", v.contentType)
		hd.Set("Content-Length", strconv.Itoa(len(v.data)))
		hd.Set("ETag", v.etag)
		hd.Set("Last-Modified", v.lastModified.UTC().Format(http.TimeFormat))
		hd.Set("Accept-Ranges", "bytes")
		hd.Set("X-Amz-Server-Side-Encryption", "AES256")
		if b.versioning {
			hd.Set("X-Amz-Version-Id", v.versionID)
		}
		if v.lockMode != "" {
			hd.Set("X-Amz-Object-Lock-Mode", v.lockMode)
			hd.Set("X-Amz-Object-Lock-Retain-Until-Date", v.retainUntil.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		if b.lock != nil {
			hold := "OFF"
			if v.legalHold {
				hold = "ON"
			}
			hd.Set("X-Amz-Object-Lock-Legal-Hold", hold)
		}
		if strings.EqualFold(cl.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
			if a, ok := s3Algorithm(v.checksumAlgo); ok {
				hd.Set(a.header, v.checksum)
				hd.Set("X-Amz-Checksum-Type", "FULL_OBJECT")
			}
		}
		for k, val := range v.metadata {
			hd.Set(k, val)
		}
		return resp, nil
	})
}

// s3DeleteObject refuses to delete a version that Object Lock protects, as
// S3 does. Without a version id it only adds a delete marker, which Object
// Lock allows.
func s3DeleteObject(cl *call) (*response, error) {
	key, versionID := cl.s3Version()
	bypass := strings.EqualFold(cl.r.Header.Get("X-Amz-Bypass-Governance-Retention"), "true")
	return cl.onBucket(func(b *bucket) (*response, error) {
		resp := s3Empty(204, cl.reqID)
		switch {
		case versionID != "":
			v, i := b.findVersion(key, versionID)
			if v == nil {
				return resp, nil
			}
			if !v.deleteMarker && v.locked(cl.now, bypass) {
				return nil, &apiError{Status: 403, Code: "AccessDenied", Message: "Access Denied because object protected by object lock."}
			}
			b.objects[key] = append(b.objects[key][:i:i], b.objects[key][i+1:]...)
			if len(b.objects[key]) == 0 {
				delete(b.objects, key)
			}
			resp.header.Set("X-Amz-Version-Id", v.versionID)
			if v.deleteMarker {
				resp.header.Set("X-Amz-Delete-Marker", "true")
			}
			cl.applied = true
		case b.versioning:
			m := &objectVersion{versionID: randAlnum(32), deleteMarker: true, lastModified: cl.now}
			b.objects[key] = append(b.objects[key], m)
			resp.header.Set("X-Amz-Version-Id", m.versionID)
			resp.header.Set("X-Amz-Delete-Marker", "true")
			cl.applied = true
		default:
			if _, ok := b.objects[key]; ok {
				delete(b.objects, key)
				cl.applied = true
			}
		}
		return resp, nil
	})
}

func s3GetObjectLockConfiguration(cl *call) (*response, error) {
	return cl.onBucket(func(b *bucket) (*response, error) {
		if b.lock == nil {
			return nil, &apiError{Status: 404, Code: "ObjectLockConfigurationNotFoundError", Message: "Object Lock configuration does not exist for this bucket"}
		}
		type retention struct {
			Mode  string
			Days  int `xml:",omitempty"`
			Years int `xml:",omitempty"`
		}
		type rule struct {
			DefaultRetention retention
		}
		out := struct {
			XMLName           xml.Name `xml:"ObjectLockConfiguration"`
			Xmlns             string   `xml:"xmlns,attr"`
			ObjectLockEnabled string
			Rule              *rule `xml:",omitempty"`
		}{Xmlns: s3NS, ObjectLockEnabled: "Enabled"}
		if b.lock.Mode != "" {
			out.Rule = &rule{retention{b.lock.Mode, b.lock.Days, b.lock.Years}}
		}
		return s3XML(cl.reqID, out)
	})
}
