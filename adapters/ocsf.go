package adapters

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// OCSFDetectionFinding is the OCSF class_uid of a Detection Finding.
const OCSFDetectionFinding = 2004

// ocsfFinding is the part of an OCSF Detection Finding sever reads. OCSF numbers are
// kept as text and parsed by hand, so a fractional or out-of-range value is an
// error naming the field, not a silent truncation.
type ocsfFinding struct {
	ClassUID   number `json:"class_uid"`
	ActivityID number `json:"activity_id"`
	SeverityID number `json:"severity_id"`
	StatusID   number `json:"status_id"`
	StatusCode string `json:"status_code"`
	Time       number `json:"time"`
	TimeDT     string `json:"time_dt"`
	Metadata   struct {
		Product struct {
			Name       string `json:"name"`
			VendorName string `json:"vendor_name"`
		} `json:"product"`
	} `json:"metadata"`
	FindingInfo *struct {
		UID    string   `json:"uid"`
		Title  string   `json:"title"`
		Types  []string `json:"types"`
		SrcURL string   `json:"src_url"`
	} `json:"finding_info"`
	Resources []ocsfResource `json:"resources"`
	// Evidences (OCSF 1.1 and later) carry the cloud resources responsible for
	// the activity, where a detection names the credential that acted.
	Evidences []struct {
		Resources []ocsfResource `json:"resources"`
	} `json:"evidences"`
	Cloud *struct {
		Provider string `json:"provider"`
		Account  *struct {
			UID string `json:"uid"`
		} `json:"account"`
	} `json:"cloud"`
	Actor *struct {
		User *struct {
			Name          string `json:"name"`
			CredentialUID string `json:"credential_uid"`
		} `json:"user"`
	} `json:"actor"`
	Unmapped json.RawMessage `json:"unmapped"`
}

type ocsfResource struct {
	UID   string `json:"uid"`
	Type  string `json:"type"`
	Owner *struct {
		Name string `json:"name"`
	} `json:"owner"`
	// Data is the producer's own detail. Security Hub puts the ASFF resource
	// details there, as a JSON string: {"AwsIamAccessKey": {"PrincipalName": …}}.
	Data json.RawMessage `json:"data"`
}

// isAWSVendor recognises the names AWS's products go by in
// metadata.product.vendor_name: Security Hub writes "Amazon".
func isAWSVendor(v string) bool {
	v = strings.TrimSpace(v)
	return strings.EqualFold(v, "AWS") || strings.EqualFold(v, "Amazon") || strings.EqualFold(v, "Amazon Web Services")
}

// asffPrincipal reads the principal's name from the ASFF details Security Hub keeps
// in an access-key resource's data (a JSON string or an object); "" when absent.
func asffPrincipal(data json.RawMessage) string {
	var d struct {
		AwsIamAccessKey struct {
			PrincipalName string `json:"PrincipalName"`
			UserName      string `json:"UserName"`
		} `json:"AwsIamAccessKey"`
	}
	if !ocsfData(data, &d) {
		return ""
	}
	name := strings.TrimSpace(or(d.AwsIamAccessKey.PrincipalName, d.AwsIamAccessKey.UserName))
	if len(name) > 128 {
		return ""
	}
	return name
}

// ocsfData decodes a resource's data into v: an object, or a JSON string holding
// one, as Security Hub writes it. It reports false when data is absent or neither.
func ocsfData(data json.RawMessage, v any) bool {
	if len(data) == 0 {
		return false
	}
	if data[0] == '"' {
		var s string
		if json.Unmarshal(data, &s) != nil {
			return false
		}
		data = []byte(s)
	}
	return json.Unmarshal(data, v) == nil
}

// ocsfSever is the object a producer may put at unmapped.sever to say exactly
// which credential a finding is about and what it means (see README.md).
type ocsfSever struct {
	Credential *struct {
		Provider  string               `json:"provider"`
		Type      sever.CredentialType `json:"type"`
		ID        string               `json:"id"`
		Principal string               `json:"principal"`
		Account   string               `json:"account"`
	} `json:"credential"`
	Kind   sever.SignalKind `json:"kind"`
	Origin sever.Origin     `json:"origin"`
}

// OCSF resource types that name an AWS access key: Security Hub's resource type and
// the CloudFormation-style name.
var ocsfAccessKeyTypes = []string{"AwsIamAccessKey", "AWS::IAM::AccessKey"}

// ParseOCSF reads one OCSF Detection Finding (class_uid 2004) from a SIEM or
// Security Hub. It yields one signal when it can name the credential, by the first
// of these that is present (README.md has the full convention):
//
//  1. unmapped.sever.credential: {provider, type, id, principal, account}, the
//     explicit form a SIEM rule can emit for any credential type;
//  2. a resources[] entry of type AwsIamAccessKey or AWS::IAM::AccessKey, whose uid
//     (optionally prefixed "AWS::IAM::AccessKey:") is the access key ID;
//  3. a resources[] entry, then an evidences[].resources[] entry, that names a
//     credential of another family sever contains (ocsfFamilyOf): a GCP
//     service-account key, a Google API key, an Entra application secret, an Azure
//     OpenAI (Cognitive Services) account or a Vault token accessor; a resource
//     of such a family whose uid does not name the credential in the form the
//     runbooks act on is refused (422) naming the field, never dropped;
//  4. actor.user.credential_uid, when it is an AWS access key ID.
//
// The kind is unmapped.sever.kind, or anomalous_usage. The origin is
// unmapped.sever.origin, or vendor when metadata.product.vendor_name is AWS,
// Amazon or Amazon Web Services (a Security Hub finding from an AWS detector) or
// the credential's own vendor (Google for gcp, Microsoft for azure, HashiCorp
// for vault), or enterprise (the SIEM's own rule). A finding that names no credential is ignored
// before its time and severity are read.
// Other classes, closed findings (activity_id 3) and suppressed, resolved, archived
// or deleted ones (status_id 3–6), and findings that name no credential are
// ignored. The source event ID is finding_info.uid at the finding's time, with a
// digest of the body (see sourceEventID).
func ParseOCSF(body []byte) (Result, error) {
	var f ocsfFinding
	if err := decodeJSON(body, &f); err != nil {
		return Result{}, err
	}
	class, err := ocsfInt("class_uid", f.ClassUID, true)
	if err != nil {
		return Result{}, err
	}
	if class != OCSFDetectionFinding {
		return ignored(fmt.Sprintf("class_uid %d", class),
			"OCSF class_uid %d is not a Detection Finding (%d); no incident", class, OCSFDetectionFinding), nil
	}
	if f.FindingInfo == nil {
		return Result{}, invalid("finding_info", "finding_info is required")
	}
	fi := f.FindingInfo
	if err := checkID("finding_info.uid", fi.UID); err != nil {
		return Result{}, err
	}
	event := "detection_finding"
	activity, err := ocsfInt("activity_id", f.ActivityID, false)
	if err != nil {
		return Result{}, err
	}
	status, err := ocsfInt("status_id", f.StatusID, false)
	if err != nil {
		return Result{}, err
	}
	switch {
	case activity == 3:
		return ignored(event, "OCSF finding %s is closed (activity_id 3); no incident", clip(fi.UID, 64)), nil
	case status >= 3 && status <= 6:
		return ignored(event, "OCSF finding %s has status_id %d (suppressed, resolved, archived or deleted); no incident",
			clip(fi.UID, 64), status), nil
	}
	// Whether the finding names a credential comes first: most findings a SIEM
	// forwards (Okta sign-ins, Prowler checks) name none, and are ignored whatever
	// their other fields hold.
	var sv ocsfSever
	if err := ocsfUnmapped(f.Unmapped, &sv); err != nil {
		return Result{}, err
	}
	cred, from, err := ocsfCredential(f, sv)
	if err != nil {
		return Result{}, err
	}
	if from == "" {
		return ignored(event, "OCSF finding %s names no credential sever knows (unmapped.sever.credential; a resource that is an AWS access key, "+
			"a GCP service-account key, a Google API key, an Entra application secret, an Azure OpenAI account or a Vault token; "+
			"or actor.user.credential_uid); no incident", clip(fi.UID, 64)), nil
	}
	if ocsfPostureCheck(f.StatusCode) && from != "unmapped.sever.credential" && !isAWSKeyType(cred.Type) {
		// A posture scanner (Prowler writes its check results as Detection
		// Findings, status_code PASS or FAIL) says how a credential is configured,
		// not that anyone else holds it: containing the key would stop its owner
		// for a hygiene finding.
		return ignored(event, "OCSF finding %s is a posture check result (status_code %s) about %s %s, not a detection of its exposure or use; no incident",
			clip(fi.UID, 64), clip(f.StatusCode, 16), cred.Type, clip(cred.ID, 200)), nil
	}
	observed, err := ocsfTime(f)
	if err != nil {
		return Result{}, err
	}
	severity, err := ocsfSeverity(f.SeverityID)
	if err != nil {
		return Result{}, err
	}

	kind := sever.KindAnomalousUsage
	if sv.Kind != "" {
		if !slices.Contains(sever.SignalKinds, sv.Kind) {
			return Result{}, invalid("unmapped.sever.kind", "unknown unmapped.sever.kind %q", clip(string(sv.Kind), 64))
		}
		kind = sv.Kind
	}
	origin := sever.OriginEnterprise
	switch vendor := f.Metadata.Product.VendorName; {
	case sv.Origin != "":
		if !slices.Contains(sever.Origins, sv.Origin) {
			return Result{}, invalid("unmapped.sever.origin", "unknown unmapped.sever.origin %q (enterprise or vendor)", clip(string(sv.Origin), 64))
		}
		origin = sv.Origin
	case isAWSVendor(vendor), isCredentialVendor(vendor, cred.Provider):
		origin = sever.OriginVendor
	}
	product := strings.TrimSpace(strings.Join([]string{f.Metadata.Product.VendorName, f.Metadata.Product.Name}, " "))
	res := Result{Event: event, Signals: []sever.Signal{{
		Source: SourceOCSF, SourceEventID: fi.UID, Origin: origin, Kind: kind,
		ObservedAt: observed, Severity: severity, Credential: cred,
		Summary: fmt.Sprintf("OCSF detection finding from %s: %s (credential from %s)",
			or(clip(product, 128), "an unnamed product"), or(fi.Title, "no title"), from),
		Labels: labels(fi.Types...),
		Extra:  meta(fi.SrcURL),
	}}}
	return finish(res, body, eventKey{version: observed})
}

// ocsfCredential applies the convention in ParseOCSF's comment. from names the
// field the credential came from, or is "" when the finding names none.
func ocsfCredential(f ocsfFinding, sv ocsfSever) (c sever.Credential, from string, err error) {
	if f.Cloud != nil && f.Cloud.Account != nil {
		c.Account = f.Cloud.Account.UID
	}
	if f.Actor != nil && f.Actor.User != nil {
		c.Principal = f.Actor.User.Name
	}
	if sc := sv.Credential; sc != nil {
		const p = "unmapped.sever.credential"
		switch {
		case strings.TrimSpace(sc.Provider) == "":
			return c, "", invalid(p+".provider", "%s.provider is required", p)
		case !sc.Type.Valid():
			return c, "", invalid(p+".type", "%s.type must be one of the credential types (%s), not %q", p, typeNames(), clip(string(sc.Type), 64))
		}
		if err := checkID(p+".id", sc.ID); err != nil {
			return c, "", err
		}
		if isAWSKeyType(sc.Type) {
			if err := checkAccessKeyID(p+".id", sc.ID); err != nil {
				return c, "", err
			}
		}
		c.Provider, c.Type, c.ID = sc.Provider, sc.Type, sc.ID
		c.Principal, c.Account = or(sc.Principal, c.Principal), or(sc.Account, c.Account)
		return c, p, nil
	}
	// The finding's own resources first, then the resources its evidence names
	// as responsible for the activity.
	type located struct {
		path string
		r    ocsfResource
	}
	var rs []located
	for i, r := range f.Resources {
		rs = append(rs, located{fmt.Sprintf("resources[%d]", i), r})
	}
	for i, e := range f.Evidences {
		for j, r := range e.Resources {
			rs = append(rs, located{fmt.Sprintf("evidences[%d].resources[%d]", i, j), r})
		}
	}
	provider := ""
	if f.Cloud != nil {
		provider = f.Cloud.Provider
	}
	for _, l := range rs {
		r, field := l.r, l.path+".uid"
		if slices.Contains(ocsfAccessKeyTypes, r.Type) {
			id := strings.TrimPrefix(r.UID, "AWS::IAM::AccessKey:")
			if err := checkAccessKeyID(field, id); err != nil {
				return c, "", err
			}
			c.Provider, c.Type, c.ID = "aws", awsKeyType(id), id
			if r.Owner != nil && r.Owner.Name != "" {
				c.Principal = r.Owner.Name
			} else if p := asffPrincipal(r.Data); p != "" {
				c.Principal = p
			}
			return c, field, nil
		}
		t := ocsfFamilyOf(r, provider, f.Metadata.Product.VendorName)
		if t == "" {
			continue
		}
		fc, err := ocsfFamilyCredential(t, r, l.path)
		if err != nil {
			return c, "", err
		}
		c.Provider, c.Type, c.ID = fc.Provider, fc.Type, fc.ID
		c.Principal, c.Account = or(fc.Principal, c.Principal), or(fc.Account, c.Account)
		return c, field, nil
	}
	if f.Actor != nil && f.Actor.User != nil && accessKeyID.MatchString(f.Actor.User.CredentialUID) {
		c.Provider, c.Type, c.ID = "aws", awsKeyType(f.Actor.User.CredentialUID), f.Actor.User.CredentialUID
		return c, "actor.user.credential_uid", nil
	}
	return c, "", nil
}

func typeNames() string {
	s := make([]string, len(sever.CredentialTypes))
	for i, t := range sever.CredentialTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// ocsfUnmapped reads unmapped.sever, if there is one. Producers put anything in
// unmapped, so only the sever key is read, and only when unmapped is an object.
func ocsfUnmapped(raw json.RawMessage, sv *ocsfSever) error {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var u struct {
		Sever json.RawMessage `json:"sever"`
	}
	if err := unmarshal(raw, "unmapped", &u); err != nil {
		return err
	}
	if len(u.Sever) == 0 || string(u.Sever) == "null" {
		return nil
	}
	if u.Sever[0] != '{' {
		return invalid("unmapped.sever", "unmapped.sever: want an object")
	}
	return unmarshal(u.Sever, "unmapped.sever", sv)
}

// ocsfInt reads an OCSF integer enum or id.
func ocsfInt(field string, n number, req bool) (int, error) {
	if n == "" {
		if req {
			return 0, invalid(field, "%s is required", field)
		}
		return 0, nil
	}
	v, err := strconv.Atoi(string(n))
	if err != nil || v < 0 {
		return 0, invalid(field, "%s must be a non-negative whole number", field)
	}
	return v, nil
}

// ocsfTime reads the finding's time. time_dt (the date/time profile, RFC 3339)
// is preferred when present and carries a zone: it says what it is. Otherwise
// time, OCSF's timestamp_t, which is milliseconds since the epoch but which
// producers such as Okta and Prowler fill with seconds: the magnitude tells them
// apart (seconds are below 1e11, i.e. before the year 5138; milliseconds from
// 1e12, i.e. after September 2001). A time_dt without a zone (Prowler writes
// "2024-10-04T09:49:02.698985") is read as UTC only when there is no time.
func ocsfTime(f ocsfFinding) (time.Time, error) {
	if f.TimeDT != "" {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(f.TimeDT)); err == nil {
			return t.UTC(), nil
		}
	}
	if f.Time != "" {
		n, err := strconv.ParseInt(string(f.Time), 10, 64)
		// Bounds keep the value a sensible date: after 2001 and before 2100.
		switch {
		case err != nil:
		case n >= 1e9 && n <= 4102444800:
			return time.Unix(n, 0).UTC(), nil
		case n >= 1e12 && n <= 4102444800000:
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Time{}, invalid("time", "time must be milliseconds (OCSF timestamp_t) or seconds since the Unix epoch, between 2001 and 2100")
	}
	if f.TimeDT != "" {
		if t, err := time.Parse("2006-01-02T15:04:05.999999999", strings.TrimSpace(f.TimeDT)); err == nil {
			return t.UTC(), nil
		}
		return time.Time{}, invalid("time_dt", "time_dt: want an RFC 3339 time such as 2025-06-01T12:00:00Z")
	}
	return time.Time{}, invalid("time", "time is required (milliseconds since the Unix epoch) or time_dt (RFC 3339)")
}

// ocsfSeverity maps severity_id: 1 Informational, 2 Low, 3 Medium, 4 High,
// 5 Critical, 6 Fatal; 0 Unknown and 99 Other say nothing.
func ocsfSeverity(n number) (string, error) {
	v, err := ocsfInt("severity_id", n, false)
	if err != nil {
		return "", err
	}
	switch v {
	case 0, 99:
		return "", nil
	case 1:
		return "info", nil
	case 2:
		return "low", nil
	case 3:
		return "medium", nil
	case 4:
		return "high", nil
	case 5, 6:
		return "critical", nil
	}
	return "", invalid("severity_id", "severity_id must be 0–6 or 99, not %d", v)
}
