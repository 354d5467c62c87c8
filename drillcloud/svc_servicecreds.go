package drillcloud

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// BedrockServiceName is the IAM service name of long-term Amazon Bedrock API keys,
// which IAM keeps as service-specific credentials of a user.
const BedrockServiceName = "bedrock.amazonaws.com"

// bearerAction is the IAM action AWS authorises every bearer-token call with, on
// top of the operation's own: denying it disables every Bedrock API key of the
// principal, long- or short-term.
const bearerAction = "bedrock:CallWithBearerToken"

// serviceCred is an IAM service-specific credential. For Bedrock, secret is the
// whole API key the client sends as "Authorization: Bearer <secret>".
type serviceCred struct {
	id, alias, secret string
	service           string
	status            string
	user              *principal
	created           time.Time
}

func init() {
	iamOps["CreateServiceSpecificCredential"] = &opDef{resource: iamUserResource, handle: onUser(iamCreateServiceCred)}
	iamOps["ListServiceSpecificCredentials"] = &opDef{readOnly: true, resource: iamUserResource, handle: withLock(iamListServiceCreds)}
	iamOps["UpdateServiceSpecificCredential"] = &opDef{resource: iamUserResource, handle: iamUpdateStatus(serviceCredOf)}
	iamOps["DeleteServiceSpecificCredential"] = &opDef{resource: iamUserResource, handle: iamDeleteCred(serviceCredOf)}
	// GetRole confirms the role that minted short-term Bedrock API keys exists.
	iamOps["GetRole"] = &opDef{readOnly: true, resource: iamRoleResource, handle: onRole(iamGetPrincipal)}
}

// newBedrockKey makes an API key shaped like AWS's: "ABSK" and the base64 of
// "<alias>:<random>", so the key names its user the way real ones do.
func newBedrockKey(alias string) string {
	return "ABSK" + base64.StdEncoding.EncodeToString([]byte(alias+":"+randAlnum(40)))
}

// addServiceCred creates a credential for u; c.mu must be held.
func (c *Cloud) addServiceCred(u *principal, service string, now time.Time) *serviceCred {
	if c.st.svcCreds == nil {
		c.st.svcCreds = map[string]*serviceCred{}
	}
	sc := &serviceCred{id: newKeyID("ACCA", u.account), service: service, status: "Active", user: u, created: now}
	sc.alias = fmt.Sprintf("%s-at-%s", u.name, u.account)
	if service == BedrockServiceName {
		sc.secret = newBedrockKey(sc.alias)
	} else {
		sc.secret = newSecretKey()
	}
	c.st.svcCreds[sc.id] = sc
	return sc
}

type iamServiceCredMeta struct {
	UserName                    string
	Status                      string
	ServiceCredentialAlias      string `xml:",omitempty"`
	CreateDate                  isoTime
	ServiceSpecificCredentialId string
	ServiceName                 string
}

func (sc *serviceCred) meta() iamServiceCredMeta {
	return iamServiceCredMeta{UserName: sc.user.name, Status: sc.status, ServiceCredentialAlias: sc.alias,
		CreateDate: isoTime(sc.created), ServiceSpecificCredentialId: sc.id, ServiceName: sc.service}
}

func iamCreateServiceCred(cl *call, u *principal) (*response, error) {
	c := cl.c
	svc := cl.form.Get("ServiceName")
	if svc == "" {
		return nil, iamValidation("1 validation error detected: Value null at 'serviceName' failed to satisfy constraint: Member must not be null")
	}
	cl.param("serviceName", svc)
	sc := c.addServiceCred(u, svc, cl.now)
	cl.applied = true
	cl.resource("AWS::IAM::ServiceSpecificCredential", sc.id)
	type created struct {
		iamServiceCredMeta
		ServiceCredentialSecret string
	}
	return cl.iamXML(struct {
		XMLName                   xml.Name `xml:"CreateServiceSpecificCredentialResult"`
		ServiceSpecificCredential created
	}{ServiceSpecificCredential: created{sc.meta(), sc.secret}})
}

// iamListServiceCreds lists the target user's credentials, or with AllUsers=true
// every user's in the account, optionally of one service.
func iamListServiceCreds(cl *call) (*response, error) {
	c := cl.c
	all := strings.EqualFold(cl.form.Get("AllUsers"), "true")
	var u *principal
	if !all {
		var e *apiError
		if u, e = cl.targetUser(); e != nil {
			return nil, e
		}
	}
	svc := cl.form.Get("ServiceName")
	cl.param("serviceName", svc)
	var metas []iamServiceCredMeta
	for _, sc := range c.st.svcCreds {
		if sc.user.account != cl.id.account || (u != nil && sc.user != u) || (svc != "" && sc.service != svc) {
			continue
		}
		metas = append(metas, sc.meta())
	}
	sort.Slice(metas, func(i, j int) bool {
		return metas[i].ServiceSpecificCredentialId < metas[j].ServiceSpecificCredentialId
	})
	return cl.iamXML(struct {
		XMLName                    xml.Name `xml:"ListServiceSpecificCredentialsResult"`
		ServiceSpecificCredentials memberList[iamServiceCredMeta]
		IsTruncated                bool
	}{ServiceSpecificCredentials: memberList[iamServiceCredMeta]{metas}})
}

// serviceCredOf finds a credential of the target user; IAM reports one of
// another user as not found.
func serviceCredOf(cl *call) (iamCred, *apiError) {
	u, id, e := cl.userCredID(serviceCredRef)
	if e != nil {
		return iamCred{}, e
	}
	sc := cl.c.st.svcCreds[id]
	if sc == nil || sc.user != u {
		return iamCred{}, iamNoSuchEntity(serviceCredRef.notFound, id)
	}
	return iamCred{&sc.status, func() { delete(cl.c.st.svcCreds, sc.id) }}, nil
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
func bearerToken(h string) (string, bool) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	return tok, ok && tok != ""
}

// bearerScope is the credential scope of a bearer call: Bedrock in the region its
// host names (bedrock-runtime.<region>.amazonaws.com), else the default region.
// KeyID stays empty until the token is matched, so no record ever holds the token.
func bearerScope(r *http.Request) authHeader {
	region := DefaultRegion
	host := r.Host
	if rest, ok := strings.CutPrefix(host, "bedrock-runtime."); ok {
		if reg, _, ok := strings.Cut(rest, "."); ok && reg != "" {
			region = reg
		}
	}
	return authHeader{Region: region, Service: "bedrock"}
}

// authenticateBearer finds the Bedrock API key a bearer call carries. Only the
// Bedrock runtime accepts bearer tokens; an unknown or inactive key is refused as
// AWS refuses an invalid key, and the credential's id (never the token) becomes
// the call's key id in the call log. A Deny of bedrock:CallWithBearerToken on the
// key's user refuses the call too.
func (c *Cloud) authenticateBearer(cl *call, tok string) *apiError {
	if cl.op != "InvokeModel" && cl.op != "InvokeModelWithResponseStream" && cl.op != "Converse" {
		return protocolError(cl.svc, ekAccessDenied, "Bearer token authentication is not supported for this operation")
	}
	if strings.HasPrefix(tok, ShortTermBedrockKeyPrefix) {
		return c.authenticateShortTermBearer(cl, tok)
	}
	c.mu.Lock()
	var found *serviceCred
	for _, sc := range c.st.svcCreds {
		if sc.service == BedrockServiceName && subtle.ConstantTimeCompare([]byte(sc.secret), []byte(tok)) == 1 {
			found = sc
		}
	}
	var status string
	if found != nil {
		status = found.status
		cl.auth.KeyID = found.id
	}
	c.mu.Unlock()
	if found == nil || status != "Active" {
		return protocolError(cl.svc, ekInvalidKey, "")
	}
	cl.id = &identity{keyID: found.id, account: found.user.account, p: found.user}
	return c.checkPolicyFor(cl, bearerAction, "*")
}

// ServiceCredentialInfo is a service-specific credential as a test sees it. The
// secret is not in it: Credentials-style access goes through BedrockAPIKeyValue.
type ServiceCredentialInfo struct {
	ID, UserName, Service, Status, Alias string
	Created                              time.Time
}

// CreateBedrockAPIKey gives user (created, with no policies, if missing, as the
// console's "BedrockAPIKey-…" users are) a long-term Bedrock API key and returns
// its credential id.
func (c *Cloud) CreateBedrockAPIKey(userName string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.st.order) == 0 {
		return "", fmt.Errorf("create bedrock api key for %s: the drill cloud has no account", userName)
	}
	a := c.st.accounts[c.st.order[0]]
	u := a.users[userName]
	if u == nil {
		u = newPrincipal("user", userName, "/", a.id, time.Now().UTC(), nil, nil)
		a.users[userName] = u
	}
	return c.addServiceCred(u, BedrockServiceName, time.Now().UTC()).id, nil
}

// ServiceCredential returns a service-specific credential by id.
func (c *Cloud) ServiceCredential(id string) (ServiceCredentialInfo, bool) {
	return lookupLocked(c, func() *serviceCred { return c.st.svcCreds[id] }, func(sc *serviceCred) ServiceCredentialInfo {
		return ServiceCredentialInfo{ID: sc.id, UserName: sc.user.name, Service: sc.service, Status: sc.status,
			Alias: sc.alias, Created: sc.created}
	})
}

// BedrockAPIKeyValue returns the secret API key of a Bedrock credential, as an
// attacker who found it holds it.
// For a short-term id ("short-term:" + the minting identity's ARN) it mints a
// fresh short-term key with that identity's credentials.
func (c *Cloud) BedrockAPIKeyValue(id string) (string, error) {
	if strings.HasPrefix(id, ShortTermBedrockKeyIDPrefix) {
		return c.shortTermKeyFor(id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := c.st.svcCreds[id]
	if sc == nil || sc.service != BedrockServiceName {
		return "", fmt.Errorf("bedrock api key %s: no such service-specific credential for %s", id, BedrockServiceName)
	}
	return sc.secret, nil
}
