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
	"CreateAccessKey":          {resource: iamUserResource, handle: iamCreateAccessKey},
	"ListAccessKeys":           {readOnly: true, resource: iamUserResource, handle: iamListAccessKeys},
	"UpdateAccessKey":          {resource: iamUserResource, handle: iamUpdateAccessKey},
	"DeleteAccessKey":          {resource: iamUserResource, handle: iamDeleteAccessKey},
	"GetAccessKeyLastUsed":     {readOnly: true, handle: iamGetAccessKeyLastUsed},
	"PutUserPolicy":            {resource: iamUserResource, handle: iamPutUserPolicy},
	"GetUserPolicy":            {readOnly: true, resource: iamUserResource, handle: iamGetUserPolicy},
	"ListUserPolicies":         {readOnly: true, resource: iamUserResource, handle: iamListUserPolicies},
	"ListAttachedUserPolicies": {readOnly: true, resource: iamUserResource, handle: iamListAttachedUserPolicies},
	"AttachUserPolicy":         {resource: iamUserResource, handle: iamAttachUserPolicy},
	"GetUser":                  {readOnly: true, resource: iamUserResource, handle: iamGetUser},
	"PutRolePolicy":            {resource: iamRoleResource, handle: iamPutRolePolicy},
	"GetRolePolicy":            {readOnly: true, resource: iamRoleResource, handle: iamGetRolePolicy},
	"DeleteUserPolicy":         {resource: iamUserResource, handle: iamDeleteUserPolicy},
	"DeleteRolePolicy":         {resource: iamRoleResource, handle: iamDeleteRolePolicy},
	"ListRolePolicies":         {readOnly: true, resource: iamRoleResource, handle: iamListRolePolicies},
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

func iamCreateAccessKey(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
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

func iamListAccessKeys(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
	var metas []iamKeyMeta
	for _, k := range c.st.userKeys(u) {
		metas = append(metas, iamKeyMeta{UserName: u.name, AccessKeyId: k.id, Status: k.status, CreateDate: isoTime(k.created)})
	}
	return cl.iamXML(struct {
		XMLName           xml.Name `xml:"ListAccessKeysResult"`
		AccessKeyMetadata memberList[iamKeyMeta]
		IsTruncated       bool
	}{AccessKeyMetadata: memberList[iamKeyMeta]{metas}})
}

// userKey finds a key that belongs to the target user; IAM reports a key of
// another user as not found.
func (cl *call) userKey() (*accessKey, *principal, *apiError) {
	u, e := cl.targetUser()
	if e != nil {
		return nil, nil, e
	}
	id := cl.form.Get("AccessKeyId")
	if id == "" {
		return nil, nil, iamValidation("1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null")
	}
	cl.param("accessKeyId", id)
	cl.resource("AWS::IAM::AccessKey", id)
	k := cl.c.st.keys[id]
	if k == nil || k.user != u {
		return nil, nil, iamNoSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	return k, u, nil
}

func iamUpdateAccessKey(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	status := cl.form.Get("Status")
	if status != "Active" && status != "Inactive" {
		return nil, iamValidation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	cl.param("status", status)
	k, _, e := cl.userKey()
	if e != nil {
		return nil, e
	}
	if k.status != status {
		k.status = status
		cl.applied = true
	}
	return cl.iamXML(nil)
}

func iamDeleteAccessKey(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	k, _, e := cl.userKey()
	if e != nil {
		return nil, e
	}
	delete(c.st.keys, k.id)
	cl.applied = true
	return cl.iamXML(nil)
}

func iamGetAccessKeyLastUsed(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	id := cl.form.Get("AccessKeyId")
	cl.param("accessKeyId", id)
	k := c.st.keys[id]
	if k == nil || k.account != cl.id.account {
		return nil, iamNoSuchEntity("The Access Key with id %s cannot be found.", id)
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

// putInline validates and stores an inline policy, reporting whether the
// stored document changed.
func (cl *call) putInline(p *principal) (bool, *apiError) {
	name, doc := cl.form.Get("PolicyName"), cl.form.Get("PolicyDocument")
	cl.param("policyName", name)
	if !iamNameRE.MatchString(name) {
		return false, iamValidation("The specified value for policyName is invalid: %q", truncate(name, 80))
	}
	if _, err := parsePolicy(doc); err != nil {
		return false, errf(400, "MalformedPolicyDocument", "Syntax errors in policy: %v", err)
	}
	if len(doc) > 10240 {
		return false, errf(409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for %s %s.", p.kind, p.name)
	}
	cl.param("policyDocument", doc)
	if old, ok := p.inline[name]; ok && old == doc {
		return false, nil
	}
	p.inline[name] = doc
	return true, nil
}

func iamPutUserPolicy(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
	changed, e := cl.putInline(u)
	if e != nil {
		return nil, e
	}
	cl.applied = changed
	return cl.iamXML(nil)
}

func iamPutRolePolicy(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	r, e := cl.targetRole()
	if e != nil {
		return nil, e
	}
	changed, e := cl.putInline(r)
	if e != nil {
		return nil, e
	}
	cl.applied = changed
	return cl.iamXML(nil)
}

func iamDeleteUserPolicy(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
	return cl.deleteInline(u, "user")
}

func iamDeleteRolePolicy(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	r, e := cl.targetRole()
	if e != nil {
		return nil, e
	}
	return cl.deleteInline(r, "role")
}

// deleteInline removes an inline policy; a missing one is NoSuchEntity, as in IAM.
// c.mu must be held.
func (cl *call) deleteInline(p *principal, kind string) (*response, error) {
	name := cl.form.Get("PolicyName")
	cl.param("policyName", name)
	if _, ok := p.inline[name]; !ok {
		return nil, iamNoSuchEntity("The %s policy with name %s cannot be found.", kind, name)
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

func iamGetUserPolicy(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
	name := cl.form.Get("PolicyName")
	cl.param("policyName", name)
	doc, ok := u.inline[name]
	if !ok {
		return nil, iamNoSuchEntity("The user policy with name %s cannot be found.", name)
	}
	return cl.iamXML(struct {
		XMLName        xml.Name `xml:"GetUserPolicyResult"`
		UserName       string
		PolicyName     string
		PolicyDocument string
	}{UserName: u.name, PolicyName: name, PolicyDocument: iamEncodePolicy(doc)})
}

func iamGetRolePolicy(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	r, e := cl.targetRole()
	if e != nil {
		return nil, e
	}
	name := cl.form.Get("PolicyName")
	cl.param("policyName", name)
	doc, ok := r.inline[name]
	if !ok {
		return nil, iamNoSuchEntity("The role policy with name %s cannot be found.", name)
	}
	return cl.iamXML(struct {
		XMLName        xml.Name `xml:"GetRolePolicyResult"`
		RoleName       string
		PolicyName     string
		PolicyDocument string
	}{RoleName: r.name, PolicyName: name, PolicyDocument: iamEncodePolicy(doc)})
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func iamListUserPolicies(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
	return cl.iamXML(struct {
		XMLName     xml.Name `xml:"ListUserPoliciesResult"`
		PolicyNames memberList[string]
		IsTruncated bool
	}{PolicyNames: memberList[string]{sortedKeys(u.inline)}})
}

func iamListRolePolicies(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	r, e := cl.targetRole()
	if e != nil {
		return nil, e
	}
	return cl.iamXML(struct {
		XMLName     xml.Name `xml:"ListRolePoliciesResult"`
		PolicyNames memberList[string]
		IsTruncated bool
	}{PolicyNames: memberList[string]{sortedKeys(r.inline)}})
}

type iamAttached struct {
	PolicyName string
	PolicyArn  string
}

func iamListAttachedUserPolicies(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
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

func iamAttachUserPolicy(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
	arn := cl.form.Get("PolicyArn")
	cl.param("policyArn", arn)
	if _, ok := c.st.accounts[u.account].managedDocument(arn); !ok {
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

func iamGetUser(cl *call) (*response, error) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	u, e := cl.targetUser()
	if e != nil {
		return nil, e
	}
	type user struct {
		Path       string
		UserName   string
		UserId     string
		Arn        string
		CreateDate isoTime
	}
	return cl.iamXML(struct {
		XMLName xml.Name `xml:"GetUserResult"`
		User    user
	}{User: user{Path: u.path, UserName: u.name, UserId: u.id, Arn: u.arn, CreateDate: isoTime(u.created)}})
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
