package drillcloud

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigAlgorithm   = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	scopeTerminal  = "aws4_request"
	maxClockSkew   = 15 * time.Minute
	emptySHA256    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	unsignedPaylod = "UNSIGNED-PAYLOAD"

	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrail = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	KeyID         string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

func (a authHeader) scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + scopeTerminal
}

// String renders the header the way the SDK signer does, so a parsed header
// round-trips.
func (a authHeader) String() string {
	return sigAlgorithm + " Credential=" + a.KeyID + "/" + a.scope() +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

var errNoAuth = errors.New("request is missing an Authorization header")

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex". It is strict because a lenient parser
// would let a drill pass requests that AWS refuses.
func parseAuthorization(h string) (authHeader, error) {
	var a authHeader
	if h == "" {
		return a, errNoAuth
	}
	rest, ok := strings.CutPrefix(h, sigAlgorithm+" ")
	if !ok {
		return a, fmt.Errorf("authorization header: unsupported algorithm in %q", truncate(h, 40))
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return a, fmt.Errorf("authorization header: malformed component %q", truncate(part, 40))
		}
		if seen[k] {
			return a, fmt.Errorf("authorization header: duplicate component %q", k)
		}
		seen[k] = true
		switch k {
		case "Credential":
			parts := strings.Split(v, "/")
			if len(parts) != 5 {
				return a, fmt.Errorf("authorization header: credential %q must have 5 slash-separated parts", truncate(v, 80))
			}
			a.KeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
			if parts[4] != scopeTerminal {
				return a, fmt.Errorf("authorization header: credential scope must end in %q, got %q", scopeTerminal, truncate(parts[4], 40))
			}
			if a.KeyID == "" || a.Region == "" || a.Service == "" {
				return a, fmt.Errorf("authorization header: credential %q has an empty part", truncate(v, 80))
			}
			if _, err := time.Parse("20060102", a.Date); err != nil || len(a.Date) != 8 {
				return a, fmt.Errorf("authorization header: credential date %q is not yyyymmdd", truncate(a.Date, 20))
			}
		case "SignedHeaders":
			hs := strings.Split(v, ";")
			for i, name := range hs {
				if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, " \t:") {
					return a, fmt.Errorf("authorization header: invalid signed header name %q", truncate(name, 40))
				}
				if i > 0 && hs[i-1] >= name {
					return a, fmt.Errorf("authorization header: signed headers must be sorted and unique, got %q", truncate(v, 80))
				}
			}
			a.SignedHeaders = hs
		case "Signature":
			if len(v) != 64 {
				return a, fmt.Errorf("authorization header: signature must be 64 hex characters, got %d", len(v))
			}
			if _, err := hex.DecodeString(v); err != nil {
				return a, fmt.Errorf("authorization header: signature is not hex")
			}
			a.Signature = v
		default:
			return a, fmt.Errorf("authorization header: unknown component %q", truncate(k, 40))
		}
	}
	switch {
	case a.KeyID == "":
		return a, errors.New("authorization header: missing Credential")
	case a.SignedHeaders == nil:
		return a, errors.New("authorization header: missing SignedHeaders")
	case a.Signature == "":
		return a, errors.New("authorization header: missing Signature")
	}
	if !containsString(a.SignedHeaders, "host") {
		return a, errors.New("authorization header: SignedHeaders must include host")
	}
	return a, nil
}

// sigInput is everything the verifier needs from a request, captured once so
// that the body is read exactly once.
type sigInput struct {
	method     string
	rawPath    string
	rawQuery   string
	host       string
	header     http.Header
	contentLen int64
	body       []byte
}

func newSigInput(r *http.Request, body []byte) sigInput {
	rawPath := r.URL.EscapedPath()
	if r.RequestURI != "" && !strings.HasPrefix(r.RequestURI, "http") {
		// The request line is what the client signed; EscapedPath may
		// re-encode characters differently.
		rawPath, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if rawPath == "" {
		rawPath = "/"
	}
	return sigInput{
		method:     r.Method,
		rawPath:    rawPath,
		rawQuery:   r.URL.RawQuery,
		host:       r.Host,
		header:     r.Header,
		contentLen: r.ContentLength,
		body:       body,
	}
}

// sigError says why verification failed; the caller maps kind to each
// protocol's own error code.
type sigError struct {
	kind sigErrKind
	msg  string
}

type sigErrKind int

const (
	sigMismatch sigErrKind = iota
	sigExpired
	sigPayloadMismatch
	sigMissingContentSHA
	sigMalformed
)

func (e *sigError) Error() string { return e.msg }

// payloadHash returns the value that goes into the canonical request as the
// hashed payload, checking an explicit X-Amz-Content-Sha256 against the body.
func payloadHash(in sigInput, requireHeader bool) (string, *sigError) {
	declared := in.header.Get("X-Amz-Content-Sha256")
	if declared == "" {
		if requireHeader {
			return "", &sigError{sigMissingContentSHA, "Missing required header for this request: x-amz-content-sha256"}
		}
		return hashHex(in.body), nil
	}
	switch declared {
	case unsignedPaylod, streamingSigned, streamingSignedTrailer, streamingUnsignedTrail:
		return declared, nil
	}
	if computed := hashHex(in.body); computed != declared {
		return "", &sigError{sigPayloadMismatch, "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	return declared, nil
}

// canonicalRequest builds the SigV4 canonical request from the headers the
// client listed. escapePath is false for S3, which signs the path as sent.
func canonicalRequest(in sigInput, signed []string, hashedPayload string, escapePath bool) string {
	uri := in.rawPath
	if escapePath {
		uri = escapePathSigV4(uri)
	}
	var b strings.Builder
	b.WriteString(in.method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(in.rawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(in, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(hashedPayload)
	return b.String()
}

func canonicalHeaderValue(in sigInput, name string) string {
	switch name {
	case "host":
		return stripExcessSpaces(in.host)
	case "content-length":
		if v := in.header.Values("Content-Length"); len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return strconv.FormatInt(in.contentLen, 10)
	}
	vals := in.header.Values(name)
	cleaned := make([]string, len(vals))
	for i, v := range vals {
		cleaned[i] = strings.TrimSpace(stripExcessSpaces(v))
	}
	return strings.Join(cleaned, ",")
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		// An unparsable query cannot have been produced by a signer; hashing
		// it as-is makes the signature check fail instead of panicking.
		return raw
	}
	type kv struct{ k, v string }
	var params []kv
	for k, vs := range q {
		ek := sigv4Escape(k)
		for _, v := range vs {
			params = append(params, kv{ek, sigv4Escape(v)})
		}
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func sigv4Escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// escapePathSigV4 percent-encodes everything outside the unreserved set
// except '/', which is how every service but S3 double-encodes the path.
func escapePathSigV4(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isUnreserved(c) || c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(s[i])
	}
	return b.String()
}

func stringToSign(amzDate, scope, canonical string) string {
	return sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hashHex([]byte(canonical))
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminal)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// requestTime reads X-Amz-Date (or Date) and checks it against the scope date
// and the allowed skew.
func requestTime(in sigInput, a authHeader, now time.Time) (time.Time, string, *sigError) {
	amzDate := in.header.Get("X-Amz-Date")
	var t time.Time
	var err error
	if amzDate != "" {
		t, err = time.Parse(amzDateFormat, amzDate)
	} else if d := in.header.Get("Date"); d != "" {
		t, err = http.ParseTime(d)
		amzDate = t.UTC().Format(amzDateFormat)
	} else {
		return t, "", &sigError{sigMalformed, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if err != nil {
		return t, "", &sigError{sigMalformed, fmt.Sprintf("X-Amz-Date %q is not in the form yyyyMMddTHHmmssZ", truncate(amzDate, 40))}
	}
	if !containsString(a.SignedHeaders, "x-amz-date") && !containsString(a.SignedHeaders, "date") {
		return t, "", &sigError{sigMalformed, "Authorization header must sign x-amz-date or date"}
	}
	if t.Format("20060102") != a.Date {
		return t, "", &sigError{sigMismatch, fmt.Sprintf("Credential should be scoped to a valid date: %s does not match request date %s", a.Date, t.Format("20060102"))}
	}
	switch {
	case t.Before(now.Add(-maxClockSkew)):
		return t, "", &sigError{sigExpired, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))}
	case t.After(now.Add(maxClockSkew)):
		return t, "", &sigError{sigExpired, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))}
	}
	return t, amzDate, nil
}

// verifySignature checks the request signature with the given secret. It
// returns the signing key so streaming bodies can verify chunk signatures.
func verifySignature(in sigInput, a authHeader, secret string, now time.Time, isS3 bool) ([]byte, string, *sigError) {
	_, amzDate, serr := requestTime(in, a, now)
	if serr != nil {
		return nil, "", serr
	}
	ph, serr := payloadHash(in, isS3)
	if serr != nil {
		return nil, "", serr
	}
	canonical := canonicalRequest(in, a.SignedHeaders, ph, !isS3)
	key := signingKey(secret, a.Date, a.Region, a.Service)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign(amzDate, a.scope(), canonical)))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return nil, "", &sigError{sigMismatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return key, amzDate, nil
}

// decodeAWSChunked turns an aws-chunked body into its payload and trailing
// headers. For signed streams every chunk signature is chained from the seed
// signature and checked, as S3 does.
func decodeAWSChunked(body []byte, mode string, key []byte, amzDate, scope, seedSig string) ([]byte, http.Header, error) {
	signed := mode == streamingSigned || mode == streamingSignedTrailer
	r := bufio.NewReader(bytes.NewReader(body))
	var out bytes.Buffer
	prev := seedSig
	for {
		line, err := readCRLFLine(r)
		if err != nil {
			return nil, nil, fmt.Errorf("aws-chunked: reading chunk header: %w", err)
		}
		sizeHex, ext, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
		if err != nil || size < 0 || size > int64(len(body)) {
			return nil, nil, fmt.Errorf("aws-chunked: invalid chunk size %q", truncate(sizeHex, 20))
		}
		chunk := make([]byte, size)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, nil, fmt.Errorf("aws-chunked: short chunk of %d bytes: %w", size, err)
		}
		if signed {
			sig, ok := strings.CutPrefix(ext, "chunk-signature=")
			if !ok {
				return nil, nil, errors.New("aws-chunked: chunk is missing chunk-signature")
			}
			sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + emptySHA256 + "\n" + hashHex(chunk)
			want := hex.EncodeToString(hmacSHA256(key, sts))
			if !hmac.Equal([]byte(want), []byte(sig)) {
				return nil, nil, errors.New("aws-chunked: chunk signature does not match")
			}
			prev = sig
		}
		if size > 0 {
			out.Write(chunk)
			if _, err := readCRLFLine(r); err != nil {
				return nil, nil, fmt.Errorf("aws-chunked: chunk not terminated by CRLF: %w", err)
			}
			continue
		}
		// Final zero-length chunk: trailers (if any) follow, then an empty line.
		trailer := http.Header{}
		var rawTrailer strings.Builder
		var trailerSig string
		for {
			tl, err := readCRLFLine(r)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("aws-chunked: reading trailer: %w", err)
			}
			if tl == "" {
				break
			}
			name, val, ok := strings.Cut(tl, ":")
			if !ok {
				return nil, nil, fmt.Errorf("aws-chunked: malformed trailer line %q", truncate(tl, 40))
			}
			name = strings.ToLower(strings.TrimSpace(name))
			val = strings.TrimSpace(val)
			if name == "x-amz-trailer-signature" {
				trailerSig = val
				continue
			}
			trailer.Add(name, val)
			rawTrailer.WriteString(name + ":" + val + "\n")
		}
		if mode == streamingSignedTrailer && len(trailer) > 0 {
			sts := "AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + hashHex([]byte(rawTrailer.String()))
			want := hex.EncodeToString(hmacSHA256(key, sts))
			if !hmac.Equal([]byte(want), []byte(trailerSig)) {
				return nil, nil, errors.New("aws-chunked: trailer signature does not match")
			}
		}
		return out.Bytes(), trailer, nil
	}
}

func readCRLFLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		if err == io.EOF && line == "" {
			return "", io.EOF
		}
		if err != io.EOF {
			return "", err
		}
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	return line, nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
