package drillcloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sever-ir/sever/internal/iampolicy"
)

// Only explicit Deny statements are evaluated: the drill cloud allows
// everything that no policy denies. That is enough to model containment
// (revoke-older-sessions, quarantine, deny-all) without reimplementing IAM.

type policyDoc struct {
	statements []statement
}

// statement is a parsed statement with its conditions decoded for evaluation.
type statement struct {
	iampolicy.Statement
	conditions []condition
}

type condition struct {
	op       string // e.g. DateLessThan, lower-cased for matching
	ifExists bool
	key      string // lower-cased context key
	values   []string
}

// parsePolicy parses an IAM policy document. It rejects what IAM would call
// a MalformedPolicyDocument (bad JSON, missing Effect/Action/Resource).
func parsePolicy(doc string) (*policyDoc, error) {
	d, err := iampolicy.Parse([]byte(doc), iampolicy.Lenient)
	if err != nil {
		return nil, fmt.Errorf("policy document: %w", err)
	}
	if len(d.Statement) == 0 {
		return nil, errors.New("policy document has an empty Statement list")
	}
	p := &policyDoc{}
	for i, s := range d.Statement {
		st := statement{Statement: s}
		ops := make([]string, 0, len(s.Condition))
		for op := range s.Condition {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			for key, rv := range s.Condition[op] {
				vals, err := conditionValues(rv)
				if err != nil {
					return nil, fmt.Errorf("policy Statement[%d] Condition %s %s: %v", i, op, key, err)
				}
				lop := strings.ToLower(op)
				if q, rest, ok := strings.Cut(lop, ":"); ok && (q == "forallvalues" || q == "foranyvalue") {
					// Single-valued context keys make both qualifiers reduce to
					// the plain operator.
					lop = rest
				}
				c := condition{op: lop, key: strings.ToLower(key), values: vals}
				if trimmed, ok := strings.CutSuffix(c.op, "ifexists"); ok {
					c.op, c.ifExists = trimmed, true
				}
				st.conditions = append(st.conditions, c)
			}
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func conditionValues(raw json.RawMessage) ([]string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	one := func(x any) (string, error) {
		switch t := x.(type) {
		case string:
			return t, nil
		case bool:
			return strconv.FormatBool(t), nil
		case float64:
			return strconv.FormatFloat(t, 'f', -1, 64), nil
		}
		return "", fmt.Errorf("unsupported condition value %v", x)
	}
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, x := range list {
			s, err := one(x)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := one(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// evalRequest is what a Deny statement is matched against.
type evalRequest struct {
	action   string
	resource string
	ctx      map[string]string // lower-cased condition keys
}

// denies reports the first Deny statement that matches.
func (p *policyDoc) denies(req evalRequest) (statement, bool) {
	for _, s := range p.statements {
		if s.Effect != "Deny" {
			continue
		}
		if !s.MatchesAction(req.action) || !s.MatchesResource(req.resource) {
			continue
		}
		if s.conditionsHold(req.ctx) {
			return s, true
		}
	}
	return statement{}, false
}

// wildcardMatch implements IAM's * and ? globbing (no character classes); EC2
// filter values use the same wildcards.
func wildcardMatch(pattern, s string, fold bool) bool {
	return iampolicy.Match(pattern, s, fold)
}

func (s statement) conditionsHold(ctx map[string]string) bool {
	for _, c := range s.conditions {
		if !c.holds(ctx) {
			return false
		}
	}
	return true
}

// holds evaluates one condition. A missing context key fails the condition
// (so a revoke-older-sessions Deny never hits long-term keys, which have no
// aws:TokenIssueTime) unless the operator is …IfExists or Null.
func (c condition) holds(ctx map[string]string) bool {
	v, present := ctx[c.key]
	if c.op == "null" {
		want := len(c.values) > 0 && strings.EqualFold(c.values[0], "true")
		return want == !present
	}
	if !present {
		return c.ifExists
	}
	anyVal := func(f func(string) bool) bool {
		for _, x := range c.values {
			if f(x) {
				return true
			}
		}
		return false
	}
	switch c.op {
	case "stringequals":
		return anyVal(func(x string) bool { return x == v })
	case "stringnotequals":
		return !anyVal(func(x string) bool { return x == v })
	case "stringequalsignorecase":
		return anyVal(func(x string) bool { return strings.EqualFold(x, v) })
	case "stringnotequalsignorecase":
		return !anyVal(func(x string) bool { return strings.EqualFold(x, v) })
	case "stringlike", "arnlike", "arnequals":
		return anyVal(func(x string) bool { return wildcardMatch(x, v, false) })
	case "stringnotlike", "arnnotlike", "arnnotequals":
		return !anyVal(func(x string) bool { return wildcardMatch(x, v, false) })
	case "bool":
		return anyVal(func(x string) bool { return strings.EqualFold(x, v) })
	case "datelessthan", "datelessthanequals", "dategreaterthan", "dategreaterthanequals", "dateequals", "datenotequals":
		t, ok := parsePolicyTime(v)
		if !ok {
			return false
		}
		return anyVal(func(x string) bool {
			ref, ok := parsePolicyTime(x)
			if !ok {
				return false
			}
			switch c.op {
			case "datelessthan":
				return t.Before(ref)
			case "datelessthanequals":
				return !t.After(ref)
			case "dategreaterthan":
				return t.After(ref)
			case "dategreaterthanequals":
				return !t.Before(ref)
			case "dateequals":
				return t.Equal(ref)
			default:
				return !t.Equal(ref)
			}
		})
	case "numericequals", "numericlessthan", "numericgreaterthan", "numericlessthanequals", "numericgreaterthanequals", "numericnotequals":
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		return anyVal(func(x string) bool {
			ref, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return false
			}
			switch c.op {
			case "numericequals":
				return n == ref
			case "numericnotequals":
				return n != ref
			case "numericlessthan":
				return n < ref
			case "numericlessthanequals":
				return n <= ref
			case "numericgreaterthan":
				return n > ref
			default:
				return n >= ref
			}
		})
	}
	// Unsupported operators (IpAddress, BinaryEquals, …) never match, so an
	// unmodelled Deny is ignored rather than denying everything.
	return false
}

func parsePolicyTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(n)
		return time.Unix(sec, int64((n-float64(sec))*1e9)), true
	}
	return time.Time{}, false
}

// Quarantine policy ARNs that AWS attaches to a user whose key it finds
// exposed.
const (
	QuarantinePolicyARN   = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"
	QuarantinePolicyV2ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"
	QuarantinePolicyV3ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
	QuarantinePolicyV4ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV4"
)

// quarantineV1Actions is AWSCompromisedKeyQuarantine (v1, 2020) as
// published: escalation and compute-abuse actions only.
var quarantineV1Actions = []string{
	"iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:ChangePassword",
	"iam:CreateAccessKey", "iam:CreateInstanceProfile", "iam:CreateLoginProfile", "iam:CreateRole",
	"iam:CreateUser", "iam:DetachUserPolicy", "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy",
	"iam:UpdateAccessKey", "iam:UpdateAccountPasswordPolicy", "iam:UpdateUser",
	"ec2:RequestSpotInstances", "ec2:RunInstances", "ec2:StartInstances",
	"organizations:CreateAccount", "organizations:CreateOrganization", "organizations:InviteAccountToOrganization",
	"lambda:CreateFunction",
	"lightsail:Create*", "lightsail:Start*", "lightsail:Delete*", "lightsail:Update*",
	"lightsail:GetInstanceAccessDetails", "lightsail:DownloadDefaultKeyPair",
}

// quarantineV2Actions approximates AWSCompromisedKeyQuarantineV2/V3/V4: the
// v1 list plus evidence tampering (cloudtrail:LookupEvents for the key
// itself), more IAM persistence, Lambda backdoors, spend (reserved instances,
// ECS, SageMaker, Glue) and destructive S3 calls. Reads and data-plane use
// such as s3:ListAllMyBuckets, s3:GetObject, sts:GetCallerIdentity and
// bedrock:InvokeModel stay allowed here: the key stays active, which is the
// point drills rehearse. Newer published versions may deny more (some
// third-party analyses list s3:ListAllMyBuckets, s3:GetObject and
// bedrock:InvokeModel); override a document with SeedAccount.ManagedPolicies
// to model that.
var quarantineV2Actions = append(append([]string(nil), quarantineV1Actions...),
	"cloudtrail:LookupEvents",
	"ec2:AcceptReservedInstancesExchangeQuote", "ec2:CreateReservedInstancesListing", "ec2:PurchaseReservedInstancesOffering",
	"ecs:CreateCluster", "ecs:CreateService", "ecs:RegisterTaskDefinition",
	"glue:CreateJob", "codebuild:CreateProject", "amplify:CreateBackendEnvironment", "amplify:CreateDeployment",
	"iam:AddUserToGroup", "iam:CreatePolicyVersion", "iam:PassRole", "iam:PutGroupPolicy", "iam:PutRolePolicy",
	"iam:SetDefaultPolicyVersion", "iam:UpdateAssumeRolePolicy", "iam:UpdateLoginProfile",
	"lambda:AddLayerVersionPermission", "lambda:AddPermission", "lambda:GetPolicy", "lambda:ListTags",
	"lambda:PutProvisionedConcurrencyConfig", "lambda:TagResource", "lambda:UntagResource", "lambda:UpdateFunctionCode",
	"s3:CreateBucket", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:DeleteObject", "s3:DeleteObjectVersion",
	"s3:ObjectOwnerOverrideToBucketOwner", "s3:PutAccountPublicAccessBlock", "s3:PutBucketAcl", "s3:PutBucketCors",
	"s3:PutBucketOwnershipControls", "s3:PutBucketPolicy", "s3:PutLifecycleConfiguration",
	"sagemaker:CreateEndpointConfig", "sagemaker:CreateProcessingJob", "savingsplans:CreateSavingsPlan",
	"ses:GetSendQuota", "ses:ListIdentities", "sns:GetSMSAttributes",
)

// QuarantineDeniedActions returns the actions the drill cloud denies for a
// quarantine policy ARN, or nil if the ARN is not one.
func QuarantineDeniedActions(arn string) []string {
	switch arn {
	case QuarantinePolicyARN:
		return append([]string(nil), quarantineV1Actions...)
	case QuarantinePolicyV2ARN, QuarantinePolicyV3ARN, QuarantinePolicyV4ARN:
		return append([]string(nil), quarantineV2Actions...)
	}
	return nil
}

func denyDocument(actions []string) string {
	b, _ := json.Marshal(map[string]any{
		"Version":   "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Deny", "Action": actions, "Resource": []string{"*"}}},
	})
	return string(b)
}

// knownAWSManaged lists AWS managed policies a drill can attach. Apart from
// the quarantine policies they deny nothing (the cloud allows by default).
var knownAWSManaged = map[string]string{
	"arn:aws:iam::aws:policy/AdministratorAccess":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/ReadOnlyAccess":          `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/AWSDenyAll":              `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/IAMUserChangePassword":   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ChangePassword","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/AmazonBedrockFullAccess": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`,
	QuarantinePolicyARN:                               denyDocument(quarantineV1Actions),
	QuarantinePolicyV2ARN:                             denyDocument(quarantineV2Actions),
	QuarantinePolicyV3ARN:                             denyDocument(quarantineV2Actions),
	QuarantinePolicyV4ARN:                             denyDocument(quarantineV2Actions),
}

// managedDocument resolves a managed policy ARN within an account: seed
// overrides first, then the built-in AWS managed set.
func (a *account) managedDocument(arn string) (string, bool) {
	if d, ok := a.managed[arn]; ok {
		return d, true
	}
	d, ok := knownAWSManaged[arn]
	return d, ok
}

func policyNameFromARN(arn string) string {
	i := strings.LastIndex(arn, "/")
	return arn[i+1:]
}
