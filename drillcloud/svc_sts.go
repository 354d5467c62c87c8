package drillcloud

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var stsOps = map[string]*opDef{
	"GetCallerIdentity": {readOnly: true, noPolicy: true, handle: stsGetCallerIdentity},
	"GetAccessKeyInfo":  {readOnly: true, handle: stsGetAccessKeyInfo},
	"GetSessionToken":   {readOnly: true, handle: stsGetSessionToken},
	// AssumeRole is how sever reaches an account through aws.accounts.<id>.role_arn.
	"AssumeRole": {readOnly: true, resource: func(cl *call) string { return cl.form.Get("RoleArn") }, handle: stsAssumeRole},
}

// roleSessionName is AWS's pattern for RoleSessionName.
var roleSessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// stsAssumeRole issues role session credentials. The drill cloud evaluates only
// explicit Deny statements, so the role's trust policy is not modelled: any caller
// may assume any seeded role, as a trust policy naming sever's principal would
// allow. An unknown role answers AccessDenied, as AWS does.
func stsAssumeRole(cl *call) (*response, error) {
	roleARN, name := cl.form.Get("RoleArn"), cl.form.Get("RoleSessionName")
	cl.param("roleArn", roleARN)
	cl.param("roleSessionName", name)
	if !roleSessionName.MatchString(name) {
		return nil, errf(400, "ValidationError", "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", truncate(name, 70))
	}
	acct, rest, ok := strings.Cut(strings.TrimPrefix(roleARN, "arn:aws:iam::"), ":role/")
	if !ok || !strings.HasPrefix(roleARN, "arn:aws:iam::") || rest == "" {
		return nil, errf(400, "ValidationError", "%s is invalid", truncate(roleARN, 200))
	}
	roleName := rest[strings.LastIndex(rest, "/")+1:]
	dur, e := cl.stsDuration(3600, 43200)
	if e != nil {
		return nil, e
	}
	c := cl.c
	c.mu.Lock()
	var role *principal
	if a := c.st.accounts[acct]; a != nil {
		role = a.roles[roleName]
	}
	if role == nil || role.arn != roleARN {
		c.mu.Unlock()
		return nil, protocolError(cl.svc, ekAccessDenied, fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", cl.id.arn(), truncate(roleARN, 200)))
	}
	s := &session{
		id: newKeyID("ASIA", acct), secret: newSecretKey(), token: newSessionToken(),
		principal: role, account: acct, name: name, issued: cl.now,
		expires: cl.now.Add(dur), sourceKey: cl.id.keyID,
	}
	cl.addSession(s)
	c.mu.Unlock()
	type user struct {
		AssumedRoleId string
		Arn           string
	}
	return queryXML(cl.svc, cl.op, cl.reqID, struct {
		XMLName         xml.Name `xml:"AssumeRoleResult"`
		Credentials     stsCredentials
		AssumedRoleUser user
	}{Credentials: s.credentials(),
		AssumedRoleUser: user{AssumedRoleId: role.id + ":" + name, Arn: fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", acct, role.name, name)}})
}

// stsDuration reads DurationSeconds, def when absent, which must lie between
// 900 and max; it records the duration used.
func (cl *call) stsDuration(def, max int) (time.Duration, *apiError) {
	dur := def
	if v := cl.form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > max {
			return 0, errf(400, "ValidationError", "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and %d", v, max)
		}
		dur = n
	}
	cl.param("durationSeconds", strconv.Itoa(dur))
	return time.Duration(dur) * time.Second, nil
}

// addSession stores the session the call issued. c.mu must be held.
func (cl *call) addSession(s *session) {
	cl.c.st.sessions[s.id] = s
	cl.c.st.keyAccount[s.id] = s.account
	cl.applied = true
}

// stsCredentials is the <Credentials> element of AssumeRole and GetSessionToken.
type stsCredentials struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      isoTime
}

func (s *session) credentials() stsCredentials {
	return stsCredentials{AccessKeyId: s.id, SecretAccessKey: s.secret, SessionToken: s.token, Expiration: isoTime(s.expires)}
}

func stsGetCallerIdentity(cl *call) (*response, error) {
	userID := cl.id.p.id
	if cl.id.p.kind == "role" && cl.id.sess != nil {
		userID += ":" + cl.id.sess.name
	}
	return queryXML(cl.svc, cl.op, cl.reqID, struct {
		XMLName xml.Name `xml:"GetCallerIdentityResult"`
		Arn     string
		UserId  string
		Account string
	}{Arn: cl.id.arn(), UserId: userID, Account: cl.id.account})
}

// stsGetAccessKeyInfo names the account of any key id: ours (even deleted),
// another seeded account's, or one whose id encodes its account.
func stsGetAccessKeyInfo(cl *call) (*response, error) {
	id := cl.form.Get("AccessKeyId")
	cl.param("accessKeyId", id)
	if len(id) < 16 || len(id) > 128 {
		return nil, errf(400, "ValidationError", "1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must have length between 16 and 128", truncate(id, 130))
	}
	cl.c.mu.Lock()
	acct, ok := cl.c.st.keyAccount[id]
	cl.c.mu.Unlock()
	if !ok {
		acct, ok = accountFromKeyID(id)
	}
	if !ok {
		return nil, errf(400, "InvalidParameterValue", "The access key id %s is not valid", truncate(id, 130))
	}
	return queryXML(cl.svc, cl.op, cl.reqID, struct {
		XMLName xml.Name `xml:"GetAccessKeyInfoResult"`
		Account string
	}{Account: acct})
}

func stsGetSessionToken(cl *call) (*response, error) {
	if cl.id.sess != nil {
		return nil, protocolError(cl.svc, ekAccessDenied, "Cannot call GetSessionToken with session credentials")
	}
	if cl.id.p.kind != "user" {
		return nil, protocolError(cl.svc, ekAccessDenied, "GetSessionToken requires IAM user credentials")
	}
	dur, e := cl.stsDuration(43200, 129600)
	if e != nil {
		return nil, e
	}
	c := cl.c
	s := &session{
		id: newKeyID("ASIA", cl.id.account), secret: newSecretKey(), token: newSessionToken(),
		principal: cl.id.p, account: cl.id.account, issued: cl.now,
		expires: cl.now.Add(dur), sourceKey: cl.id.keyID, fromGetSessionToken: true,
	}
	c.mu.Lock()
	cl.addSession(s)
	c.mu.Unlock()
	return queryXML(cl.svc, cl.op, cl.reqID, struct {
		XMLName     xml.Name `xml:"GetSessionTokenResult"`
		Credentials stsCredentials
	}{Credentials: s.credentials()})
}
