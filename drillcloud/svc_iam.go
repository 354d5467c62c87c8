package drillcloud

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

var iamOps = map[string]*opDef{
	"CreateAccessKey":          {resource: iamUserResource, handle: onUser(iamCreateAccessKey)},
	"ListAccessKeys":           {readOnly: true, resource: iamUserResource, handle: onUser(iamListAccessKeys)},
	"UpdateAccessKey":          {resource: iamUserResource, handle: iamUpdateStatus(accessKeyCred)},
	"DeleteAccessKey":          {resource: iamUserResource, handle: iamDeleteCred(accessKeyCred)},
	"GetAccessKeyLastUsed":     {readOnly: true, handle: withLock(iamGetAccessKeyLastUsed)},
	"PutUserPolicy":            {resource: iamUserResource, handle: onUser(iamPutInline)},
	"GetUserPolicy":            {readOnly: true, resource: iamUserResource, handle: onUser(iamGetInline)},
	"ListUserPolicies":         {readOnly: true, resource: iamUserResource, handle: onUser(iamListInline)},
	"ListAttachedUserPolicies": {readOnly: true, resource: iamUserResource, handle: onUser(iamListAttachedUserPolicies)},
	"AttachUserPolicy":         {resource: iamUserResource, handle: onUser(iamAttachUserPolicy)},
	"GetUser":                  {readOnly: true, resource: iamUserResource, handle: onUser(iamGetPrincipal)},
	"PutRolePolicy":            {resource: iamRoleResource, handle: onRole(iamPutInline)},
	"GetRolePolicy":            {readOnly: true, resource: iamRoleResource, handle: onRole(iamGetInline)},
	"DeleteUserPolicy":         {resource: iamUserResource, handle: onUser(iamDeleteInline)},
	"DeleteRolePolicy":         {resource: iamRoleResource, handle: onRole(iamDeleteInline)},
	"ListRolePolicies":         {readOnly: true, resource: iamRoleResource, handle: onRole(iamListInline)},
}

func iamUserResource(cl *call) string {
	name := cl.form.Get("UserName")
	if name == "" && cl.id != nil && cl.id.p.kind == "user" {
		name = cl.id.p.name
	}
	return fmt.Sprintf("arn:aws:iam::%s:user/%s", cl.id.account, name)
}

func iamRoleResource(cl *call) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", cl.id.account, cl.form.Get("RoleName"))
}

func iamNoSuchEntity(format string, args ...any) *apiError {
	return errf(404, "NoSuchEntity", format, args...)
}

func iamValidation(format string, args ...any) *apiError {
	return errf(400, "ValidationError", format, args...)
}

// targetUser resolves UserName, defaulting to the caller as IAM does.
// Callers must hold c.mu.
func (cl *call) targetUser() (*principal, *apiError) {
	a := cl.c.st.accounts[cl.id.account]
	name := cl.form.Get("UserName")
	if name == "" {
		if cl.id.p.kind != "user" {
			return nil, iamValidation("Must specify userName when calling with non-User credentials")
		}
		name = cl.id.p.name
	}
	cl.param("userName", name)
	u := a.users[name]
	if u == nil {
		return nil, iamNoSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, nil
}

func (cl *call) targetRole() (*principal, *apiError) {
	name := cl.form.Get("RoleName")
	if name == "" {
		return nil, iamValidation("1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
	}
	cl.param("roleName", name)
	r := cl.c.st.accounts[cl.id.account].roles[name]
	if r == nil {
		return nil, iamNoSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, nil
}

func (cl *call) iamXML(result any) (*response, error) {
	return queryXML(cl.svc, cl.op, cl.reqID, result)
}

type iamAccessKey struct {
	UserName        string
	AccessKeyId     string
	Status          string
	SecretAccessKey string
	CreateDate      isoTime
}

func iamCreateAccessKey(cl *call, u *principal) (*response, error) {
	c := cl.c
	if n := len(c.st.userKeys(u)); n >= 2 {
		return nil, errf(409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	}
	k := &accessKey{id: newKeyID("AKIA", u.account), secret: newSecretKey(), status: "Active", user: u, account: u.account, created: cl.now}
	c.st.keys[k.id] = k
	c.st.keyAccount[k.id] = u.account
	cl.applied = true
	cl.resource("AWS::IAM::AccessKey", k.id)
	return cl.iamXML(struct {
		XMLName   xml.Name `xml:"CreateAccessKeyResult"`
		AccessKey iamAccessKey
	}{AccessKey: iamAccessKey{UserName: u.name, AccessKeyId: k.id, Status: k.status, SecretAccessKey: k.secret, CreateDate: isoTime(k.created)}})
}

type iamKeyMeta struct {
	UserName    string
	AccessKeyId string
	Status      string
	CreateDate  isoTime
}

func iamListAccessKeys(cl *call, u *principal) (*response, error) {
	var metas []iamKeyMeta
	for _, k := range cl.c.st.userKeys(u) {
		metas = append(metas, iamKeyMeta{UserName: u.name, AccessKeyId: k.id, Status: k.status, CreateDate: isoTime(k.created)})
	}
	return cl.iamXML(struct {
		XMLName           xml.Name `xml:"ListAccessKeysResult"`
		AccessKeyMetadata memberList[iamKeyMeta]
		IsTruncated       bool
	}{AccessKeyMetadata: memberList[iamKeyMeta]{metas}})
}

// iamCredRef says how IAM addresses one kind of credential of a user.
type iamCredRef struct {
	field    string // request parameter holding the id
	param    string // its name in the call log
	resType  string // CloudTrail resource type
	notFound string // NoSuchEntity message format, given the id
}

var (
	accessKeyRef   = iamCredRef{"AccessKeyId", "accessKeyId", "AWS::IAM::AccessKey", "The Access Key with id %s cannot be found."}
	serviceCredRef = iamCredRef{"ServiceSpecificCredentialId", "serviceSpecificCredentialId", "AWS::IAM::ServiceSpecificCredential", "No such credential %s exists"}
)

// userCredID resolves the target user and the id of the credential ref names,
// recording both. Callers must hold c.mu.
func (cl *call) userCredID(ref iamCredRef) (*principal, string, *apiError) {
	u, e := cl.targetUser()
	if e != nil {
		return nil, "", e
	}
	id := cl.form.Get(ref.field)
	if id == "" {
		return nil, "", iamValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", ref.param)
	}
	cl.param(ref.param, id)
	cl.resource(ref.resType, id)
	return u, id, nil
}

// userKey finds a key that belongs to the target user; IAM reports a key of
// another user as not found.
func (cl *call) userKey() (*accessKey, *principal, *apiError) {
	u, id, e := cl.userCredID(accessKeyRef)
	if e != nil {
		return nil, nil, e
	}
	if k := cl.c.st.keys[id]; k != nil && k.user == u {
		return k, u, nil
	}
	return nil, nil, iamNoSuchEntity(accessKeyRef.notFound, id)
}

// iamCred is a credential of the target user as Update*/Delete* handlers see
// it: its status to set and how to delete it.
type iamCred struct {
	status *string
	remove func()
}

func accessKeyCred(cl *call) (iamCred, *apiError) {
	k, _, e := cl.userKey()
	if e != nil {
		return iamCred{}, e
	}
	return iamCred{&k.status, func() { delete(cl.c.st.keys, k.id) }}, nil
}

// iamUpdateStatus serves UpdateAccessKey and UpdateServiceSpecificCredential.
// Status is checked before the credential is looked up, as IAM does.
func iamUpdateStatus(find func(*call) (iamCred, *apiError)) opHandler {
	return withLock(func(cl *call) (*response, error) {
		status := cl.form.Get("Status")
		if status != "Active" && status != "Inactive" {
			return nil, iamValidation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
		}
		cl.param("status", status)
		cr, e := find(cl)
		if e != nil {
			return nil, e
		}
		if *cr.status != status {
			*cr.status = status
			cl.applied = true
		}
		return cl.iamXML(nil)
	})
}

// iamDeleteCred serves DeleteAccessKey and DeleteServiceSpecificCredential.
func iamDeleteCred(find func(*call) (iamCred, *apiError)) opHandler {
	return withLock(func(cl *call) (*response, error) {
		cr, e := find(cl)
		if e != nil {
			return nil, e
		}
		cr.remove()
		cl.applied = true
		return cl.iamXML(nil)
	})
}

func iamGetAccessKeyLastUsed(cl *call) (*response, error) {
	id := cl.form.Get("AccessKeyId")
	cl.param("accessKeyId", id)
	k := cl.c.st.keys[id]
	if k == nil || k.account != cl.id.account {
		return nil, iamNoSuchEntity(accessKeyRef.notFound, id)
	}
	type lastUsed struct {
		LastUsedDate *isoTime `xml:",omitempty"`
		ServiceName  string
		Region       string
	}
	lu := lastUsed{ServiceName: "N/A", Region: "N/A"}
	if !k.lastUsed.IsZero() {
		t := isoTime(k.lastUsed)
		lu = lastUsed{LastUsedDate: &t, ServiceName: k.lastSvc, Region: k.lastRegion}
	}
	return cl.iamXML(struct {
		XMLName           xml.Name `xml:"GetAccessKeyLastUsedResult"`
		UserName          string
		AccessKeyLastUsed lastUsed
	}{UserName: k.user.name, AccessKeyLastUsed: lu})
}

// iamPutInline serves Put{User,Role}Policy: it validates and stores an inline
// policy, applied only when the stored document changed.
func iamPutInline(cl *call, p *principal) (*response, error) {
	name, doc := cl.form.Get("PolicyName"), cl.form.Get("PolicyDocument")
	cl.param("policyName", name)
	if !iamNameRE.MatchString(name) {
		return nil, iamValidation("The specified value for policyName is invalid: %q", truncate(name, 80))
	}
	if _, err := parsePolicy(doc); err != nil {
		return nil, errf(400, "MalformedPolicyDocument", "Syntax errors in policy: %v", err)
	}
	if len(doc) > 10240 {
		return nil, errf(409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for %s %s.", p.kind, p.name)
	}
	cl.param("policyDocument", doc)
	if old, ok := p.inline[name]; !ok || old != doc {
		p.inline[name] = doc
		cl.applied = true
	}
	return cl.iamXML(nil)
}

// iamInline finds the inline policy PolicyName of p; a missing one is
// NoSuchEntity, as in IAM. c.mu must be held.
func (cl *call) iamInline(p *principal) (name, doc string, e *apiError) {
	name = cl.form.Get("PolicyName")
	cl.param("policyName", name)
	doc, ok := p.inline[name]
	if !ok {
		return "", "", iamNoSuchEntity("The %s policy with name %s cannot be found.", p.kind, name)
	}
	return name, doc, nil
}

// iamDeleteInline serves Delete{User,Role}Policy.
func iamDeleteInline(cl *call, p *principal) (*response, error) {
	name, _, e := cl.iamInline(p)
	if e != nil {
		return nil, e
	}
	delete(p.inline, name)
	cl.applied = true
	return cl.iamXML(nil)
}

// iamEncodePolicy URL-encodes a policy document the way IAM returns it from
// Get*Policy (RFC 3986 percent-encoding).
func iamEncodePolicy(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// iamGetInline serves Get{User,Role}Policy, whose results differ only in the
// names IAM gives their elements.
func iamGetInline(cl *call, p *principal) (*response, error) {
	name, doc, e := cl.iamInline(p)
	if e != nil {
		return nil, e
	}
	return cl.iamXML(xmlElem{cl.op + "Result", []xmlField{
		{p.kindTitle() + "Name", p.name}, {"PolicyName", name}, {"PolicyDocument", iamEncodePolicy(doc)}}})
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// iamListInline serves List{User,Role}Policies.
func iamListInline(cl *call, p *principal) (*response, error) {
	return cl.iamXML(struct {
		XMLName     xml.Name
		PolicyNames memberList[string]
		IsTruncated bool
	}{XMLName: xml.Name{Local: cl.op + "Result"}, PolicyNames: memberList[string]{sortedKeys(p.inline)}})
}

type iamAttached struct {
	PolicyName string
	PolicyArn  string
}

func iamListAttachedUserPolicies(cl *call, u *principal) (*response, error) {
	var out []iamAttached
	for _, arn := range u.attached {
		out = append(out, iamAttached{PolicyName: policyNameFromARN(arn), PolicyArn: arn})
	}
	return cl.iamXML(struct {
		XMLName          xml.Name `xml:"ListAttachedUserPoliciesResult"`
		AttachedPolicies memberList[iamAttached]
		IsTruncated      bool
	}{AttachedPolicies: memberList[iamAttached]{out}})
}

func iamAttachUserPolicy(cl *call, u *principal) (*response, error) {
	arn := cl.form.Get("PolicyArn")
	cl.param("policyArn", arn)
	if _, ok := cl.c.st.accounts[u.account].managedDocument(arn); !ok {
		return nil, iamNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	if containsString(u.attached, arn) {
		return cl.iamXML(nil)
	}
	if len(u.attached) >= 10 {
		return nil, errf(409, "LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")
	}
	u.attached = append(u.attached, arn)
	cl.applied = true
	return cl.iamXML(nil)
}

// iamGetPrincipal serves GetUser and GetRole: <User> or <Role> with fields
// named after the kind, and for a role the (empty) trust policy sever never
// reads.
func iamGetPrincipal(cl *call, p *principal) (*response, error) {
	return cl.iamXML(iamPrincipalXML(cl.op, p))
}

func iamPrincipalXML(op string, p *principal) xmlElem {
	kind := p.kindTitle()
	fields := []xmlField{{"Path", p.path}, {kind + "Name", p.name}, {kind + "Id", p.id}, {"Arn", p.arn}, {"CreateDate", isoTime(p.created)}}
	if p.kind == "role" {
		fields = append(fields, xmlField{"AssumeRolePolicyDocument", "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"})
	}
	return xmlElem{op + "Result", []xmlField{{kind, xmlElem{kind, fields}}}}
}

// VendorAttachPolicy attaches a managed policy to a user the way AWS itself
// does when it quarantines an exposed key: no caller credentials, recorded
// in the call log as an AWS-internal event.
func (c *Cloud) VendorAttachPolicy(userName, policyARN string) error {
	c.mu.Lock()
	u := c.st.findUser(userName)
	if u == nil {
		c.mu.Unlock()
		return fmt.Errorf("vendor attach %s to %s: no such user", policyARN, userName)
	}
	if _, ok := c.st.accounts[u.account].managedDocument(policyARN); !ok {
		c.mu.Unlock()
		return fmt.Errorf("vendor attach %s to %s: unknown managed policy", policyARN, userName)
	}
	applied := !containsString(u.attached, policyARN)
	if applied {
		u.attached = append(u.attached, policyARN)
	}
	acct := u.account
	c.mu.Unlock()
	now := time.Now().UTC()
	c.record(Event{
		ID: newUUID(), RequestID: newUUID(), Time: now, Service: "iam", Operation: "AttachUserPolicy",
		EventSource: "iam.amazonaws.com", Action: "iam:AttachUserPolicy", Account: acct,
		Principal: "arn:aws:iam::aws:root", UserName: "AWS Internal", Region: DefaultRegion,
		SourceIP: "AWS Internal", UserAgent: "AWS Internal", HTTPStatus: 200,
		RequestParameters: map[string]string{"userName": userName, "policyArn": policyARN}, Applied: applied,
	})
	return nil
}
