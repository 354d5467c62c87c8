package drillcloud

import (
	"encoding/xml"
	"strconv"
	"time"
)

var stsOps = map[string]*opDef{
	"GetCallerIdentity": {readOnly: true, noPolicy: true, handle: stsGetCallerIdentity},
	"GetAccessKeyInfo":  {readOnly: true, handle: stsGetAccessKeyInfo},
	"GetSessionToken":   {readOnly: true, handle: stsGetSessionToken},
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
	dur := 43200
	if v := cl.form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 129600 {
			return nil, errf(400, "ValidationError", "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 129600", v)
		}
		dur = n
	}
	cl.param("durationSeconds", strconv.Itoa(dur))
	c := cl.c
	s := &session{
		id: newKeyID("ASIA", cl.id.account), secret: newSecretKey(), token: newSessionToken(),
		principal: cl.id.p, account: cl.id.account, issued: cl.now,
		expires: cl.now.Add(time.Duration(dur) * time.Second), sourceKey: cl.id.keyID, fromGetSessionToken: true,
	}
	c.mu.Lock()
	c.st.sessions[s.id] = s
	c.st.keyAccount[s.id] = s.account
	c.mu.Unlock()
	cl.applied = true
	type creds struct {
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		Expiration      isoTime
	}
	return queryXML(cl.svc, cl.op, cl.reqID, struct {
		XMLName     xml.Name `xml:"GetSessionTokenResult"`
		Credentials creds
	}{Credentials: creds{AccessKeyId: s.id, SecretAccessKey: s.secret, SessionToken: s.token, Expiration: isoTime(s.expires)}})
}
