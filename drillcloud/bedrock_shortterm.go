package drillcloud

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Short-term Amazon Bedrock API keys are not stored anywhere in AWS: the key is
// "bedrock-api-key-" followed by the base64 of a SigV4-presigned
// "bedrock.amazonaws.com/?Action=CallWithBearerToken…&Version=1" request,
// signed with the credentials of the identity that minted it (AWS's token
// generators do exactly this). The runtime checks the presigned signature, the
// expiry (at most 12 hours, and never past the signing session's), and then
// authorises the call as that identity: with its policies, and for a session
// with its aws:TokenIssueTime. That is why denying bedrock:CallWithBearerToken
// on the identity, or AWSRevokeOlderSessions on a role, stops keys nobody can
// list.
const (
	// ShortTermBedrockKeyPrefix starts every short-term Bedrock API key.
	ShortTermBedrockKeyPrefix = "bedrock-api-key-"
	// ShortTermBedrockKeyIDPrefix starts the id sever (and StartAttacker) give
	// short-term keys: the prefix, then the ARN of the minting identity.
	ShortTermBedrockKeyIDPrefix = "short-term:"
	// MaxShortTermBedrockKeyLifetime is the longest a short-term key lives.
	MaxShortTermBedrockKeyLifetime = 12 * time.Hour

	shortTermHost    = "bedrock.amazonaws.com"
	shortTermVersion = "&Version=1"
)

// MintShortTermBedrockKey presigns a short-term Bedrock API key with the
// credentials of keyID (an access key or a session) for region, valid for ttl
// (0 or more than 12 h means 12 h), as AWS's token generator does. The key is a
// secret: hand it only to the code that plays its holder.
func (c *Cloud) MintShortTermBedrockKey(keyID, region string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxShortTermBedrockKeyLifetime {
		ttl = MaxShortTermBedrockKeyLifetime
	}
	return c.mintShortTerm(keyID, region, ttl, time.Now().UTC())
}

// mintShortTerm presigns at signedAt for ttl, unchecked, so tests can make
// expired and over-long keys.
func (c *Cloud) mintShortTerm(keyID, region string, ttl time.Duration, signedAt time.Time) (string, error) {
	creds, err := c.Credentials(keyID)
	if err != nil {
		return "", fmt.Errorf("mint short-term bedrock api key: %w", err)
	}
	if region == "" {
		region = DefaultRegion
	}
	u := "https://" + shortTermHost + "/?Action=CallWithBearerToken&X-Amz-Expires=" + strconv.Itoa(int(ttl/time.Second))
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("mint short-term bedrock api key with %s: %w", keyID, err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, unsignedPaylod, "bedrock", region, signedAt)
	if err != nil {
		return "", fmt.Errorf("mint short-term bedrock api key with %s: presign: %w", keyID, err)
	}
	return ShortTermBedrockKeyPrefix + base64.StdEncoding.EncodeToString(
		[]byte(strings.TrimPrefix(signed, "https://")+shortTermVersion)), nil
}

// shortTermKeyFor mints a key for the identity a short-term id names
// ("short-term:" + user, role or assumed-role ARN) with its newest usable
// credential: the user's active access key, or the role's newest unexpired
// session (of the named session for an assumed-role ARN). It is how a drill's
// attacker comes to hold a short-term key for a credential id sever knows.
func (c *Cloud) shortTermKeyFor(id string) (string, error) {
	arn, ok := strings.CutPrefix(id, ShortTermBedrockKeyIDPrefix)
	if !ok {
		return "", fmt.Errorf("short-term bedrock api key %s: the id does not start %q", id, ShortTermBedrockKeyIDPrefix)
	}
	keyID, err := c.minterCredential(arn)
	if err != nil {
		return "", fmt.Errorf("short-term bedrock api key %s: %w", id, err)
	}
	return c.MintShortTermBedrockKey(keyID, DefaultRegion, 0)
}

// minterCredential picks the credential a short-term key of arn is signed with.
func (c *Cloud) minterCredential(arn string) (string, error) {
	acct, kind, name, sessName, err := parseMinterARN(arn)
	if err != nil {
		return "", err
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.st.accounts[acct]
	if a == nil {
		return "", fmt.Errorf("account %s is not in the drill cloud", acct)
	}
	if kind == "user" {
		u := a.users[name]
		if u == nil {
			return "", fmt.Errorf("no user %s in account %s", name, acct)
		}
		for _, k := range c.st.userKeys(u) {
			if k.status == "Active" {
				return k.id, nil
			}
		}
		return "", fmt.Errorf("user %s in account %s has no active access key to sign with", name, acct)
	}
	r := a.roles[name]
	if r == nil {
		return "", fmt.Errorf("no role %s in account %s", name, acct)
	}
	var best *session
	for _, s := range c.st.sessions {
		if s.principal != r || !now.Before(s.expires) || (sessName != "" && s.name != sessName) {
			continue
		}
		if best == nil || s.issued.After(best.issued) || (s.issued.Equal(best.issued) && s.id < best.id) {
			best = s
		}
	}
	if best == nil {
		return "", fmt.Errorf("role %s in account %s has no unexpired session to sign with", name, acct)
	}
	return best.id, nil
}

// parseMinterARN reads a user, role or assumed-role ARN.
func parseMinterARN(arn string) (acct, kind, name, sessName string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[4] == "" {
		return "", "", "", "", fmt.Errorf("%q is not an IAM user, role or assumed-role ARN", arn)
	}
	acct, res := parts[4], parts[5]
	switch {
	case parts[2] == "iam" && strings.HasPrefix(res, "user/"):
		kind, name = "user", res[strings.LastIndex(res, "/")+1:]
	case parts[2] == "iam" && strings.HasPrefix(res, "role/"):
		kind, name = "role", res[strings.LastIndex(res, "/")+1:]
	case parts[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		f := strings.Split(res, "/")
		if len(f) != 3 {
			return "", "", "", "", fmt.Errorf("%q is not an assumed-role ARN (assumed-role/ROLE/SESSION)", arn)
		}
		kind, name, sessName = "role", f[1], f[2]
	default:
		return "", "", "", "", fmt.Errorf("%q is not an IAM user, role or assumed-role ARN", arn)
	}
	if name == "" {
		return "", "", "", "", fmt.Errorf("%q names no identity", arn)
	}
	return acct, kind, name, sessName, nil
}

// presignedToken is a decoded short-term key. It holds signing material and a
// session token: it must never be logged or put in an error.
type presignedToken struct {
	host     string
	rawQuery string // without X-Amz-Signature, as signed
	auth     authHeader
	amzDate  string
	date     time.Time
	expires  time.Duration
	secToken string
}

// decodeShortTermKey parses a short-term key. Errors describe the shape only,
// never the content.
func decodeShortTermKey(tok string) (presignedToken, error) {
	var p presignedToken
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(tok, ShortTermBedrockKeyPrefix))
	if err != nil {
		return p, fmt.Errorf("short-term key is not base64")
	}
	s, ok := strings.CutSuffix(string(raw), shortTermVersion)
	if !ok {
		return p, fmt.Errorf("short-term key has no version 1 marker")
	}
	host, query, ok := strings.Cut(s, "/?")
	if !ok || host == "" {
		return p, fmt.Errorf("short-term key is not a presigned request")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return p, fmt.Errorf("short-term key has an unparsable query")
	}
	if q.Get("Action") != "CallWithBearerToken" || q.Get("X-Amz-Algorithm") != sigAlgorithm || q.Get("X-Amz-SignedHeaders") != "host" {
		return p, fmt.Errorf("short-term key does not presign CallWithBearerToken with %s over host", sigAlgorithm)
	}
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(cred) != 5 || cred[3] != "bedrock" || cred[4] != scopeTerminal {
		return p, fmt.Errorf("short-term key has a malformed credential scope")
	}
	p.auth = authHeader{KeyID: cred[0], Date: cred[1], Region: cred[2], Service: cred[3], SignedHeaders: []string{"host"},
		Signature: q.Get("X-Amz-Signature")}
	p.amzDate = q.Get("X-Amz-Date")
	if p.date, err = time.Parse(amzDateFormat, p.amzDate); err != nil || p.date.Format("20060102") != p.auth.Date {
		return p, fmt.Errorf("short-term key has a malformed or mismatched X-Amz-Date")
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || secs <= 0 || time.Duration(secs)*time.Second > MaxShortTermBedrockKeyLifetime {
		return p, fmt.Errorf("short-term key X-Amz-Expires must be 1..%d seconds", int(MaxShortTermBedrockKeyLifetime/time.Second))
	}
	p.expires = time.Duration(secs) * time.Second
	p.secToken = q.Get("X-Amz-Security-Token")
	q.Del("X-Amz-Signature")
	p.host, p.rawQuery = host, q.Encode()
	return p, nil
}

// verify checks the presigned signature with secret.
func (p presignedToken) verify(secret string) bool {
	in := sigInput{method: http.MethodGet, rawPath: "/", rawQuery: p.rawQuery, host: p.host, header: http.Header{}}
	canonical := canonicalRequest(in, p.auth.SignedHeaders, unsignedPaylod, true)
	key := signingKey(secret, p.auth.Date, p.auth.Region, p.auth.Service)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign(p.amzDate, p.auth.scope(), canonical)))
	return hmac.Equal([]byte(want), []byte(p.auth.Signature))
}

// authenticateShortTermBearer authenticates a bearer call that carries a
// short-term key: the presigned request must verify against a key or session
// that still exists (an inactive or deleted key, or an expired session, fails
// as AWS fails it), be unexpired and for the call's region. The call then runs as
// the signing identity, and bedrock:CallWithBearerToken is authorised against
// its policies, session issue time included. The call log names the signing
// key id, never the bearer key.
func (c *Cloud) authenticateShortTermBearer(cl *call, tok string) *apiError {
	p, err := decodeShortTermKey(tok)
	if err != nil {
		return protocolError(cl.svc, ekInvalidKey, "")
	}
	c.mu.Lock()
	k := c.st.keys[p.auth.KeyID]
	s := c.st.sessions[p.auth.KeyID]
	var secret, status, token, acct string
	var sessExpires time.Time
	var pr *principal
	switch {
	case k != nil:
		secret, status, pr, acct = k.secret, k.status, k.user, k.account
	case s != nil:
		secret, token, sessExpires, pr, acct = s.secret, s.token, s.expires, s.principal, s.account
	}
	c.mu.Unlock()
	switch {
	case k == nil && s == nil, k != nil && status != "Active":
		return protocolError(cl.svc, ekInvalidKey, "")
	case !p.verify(secret):
		return protocolError(cl.svc, ekSigMismatch, "")
	case s != nil && (p.secToken == "" || !hmac.Equal([]byte(p.secToken), []byte(token))):
		return protocolError(cl.svc, ekInvalidToken, "")
	case p.date.After(cl.now.Add(maxClockSkew)):
		return protocolError(cl.svc, ekSigExpired, "Signature not yet current")
	case !cl.now.Before(p.date.Add(p.expires)), s != nil && !cl.now.Before(sessExpires):
		return protocolError(cl.svc, ekExpiredToken, "")
	case p.auth.Region != cl.region:
		return protocolError(cl.svc, ekSigMismatch, fmt.Sprintf("The API key was issued for region %s, not %s", p.auth.Region, cl.region))
	}
	cl.auth.KeyID = p.auth.KeyID
	cl.id = &identity{keyID: p.auth.KeyID, account: acct, p: pr, sess: s}
	return c.checkPolicyFor(cl, bearerAction, "*")
}

// ShortTermBedrockKeySigner returns the access key or session id a short-term
// key was signed with, for tests that check what the call log names.
func ShortTermBedrockKeySigner(tok string) (string, error) {
	p, err := decodeShortTermKey(tok)
	if err != nil {
		return "", fmt.Errorf("short-term bedrock api key signer: %w", err)
	}
	return p.auth.KeyID, nil
}
