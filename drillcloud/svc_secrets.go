package drillcloud

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

var secretsOps = map[string]*opDef{
	"DescribeSecret":           {readOnly: true, resource: secretResource, handle: smDescribeSecret},
	"GetSecretValue":           {readOnly: true, resource: secretResource, handle: smGetSecretValue},
	"PutSecretValue":           {resource: secretResource, handle: smPutSecretValue},
	"UpdateSecretVersionStage": {resource: secretResource, handle: smUpdateSecretVersionStage},
	"ListSecretVersionIds":     {readOnly: true, resource: secretResource, handle: smListSecretVersionIds},
	"RotateSecret":             {resource: secretResource, handle: smRotateSecret},
}

const smJSON = "application/x-amz-json-1.1"

// decodeJSON reads an awsJson request body; an empty body is an empty input.
func (cl *call) decodeJSON(v any) *apiError {
	if len(bytes.TrimSpace(cl.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(cl.body, v); err != nil {
		return errf(400, "SerializationException", "%s: cannot parse request body: %v", cl.op, err)
	}
	return nil
}

// secretResource is the secret's ARN for policy evaluation; it peeks at the
// SecretId without consuming the body.
func secretResource(cl *call) string {
	var in struct{ SecretId string }
	_ = json.Unmarshal(cl.body, &in)
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if a := cl.c.st.accounts[cl.id.account]; a != nil {
		if s := a.findSecret(cl.region, in.SecretId); s != nil {
			return s.arn
		}
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s", cl.region, cl.id.account, in.SecretId)
}

func smBadToken() *apiError {
	return errf(400, "InvalidNextTokenException", "The NextToken value is invalid.")
}

func smNotFound() *apiError {
	return errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

// lookupSecret resolves SecretId in the caller's account and region. Callers
// hold c.mu.
func (cl *call) lookupSecret(id string) (*secret, *apiError) {
	if id == "" {
		return nil, errf(400, "ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	cl.param("secretId", id)
	s := cl.c.st.accounts[cl.id.account].findSecret(cl.region, id)
	if s == nil {
		return nil, smNotFound()
	}
	cl.resource("AWS::SecretsManager::Secret", s.arn)
	return s, nil
}

// onSecret runs h under c.mu on the secret id names, the lookup every
// Secrets Manager operation starts with.
func (cl *call) onSecret(id string, h func(s *secret) (*response, error)) (*response, error) {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	s, e := cl.lookupSecret(id)
	if e != nil {
		return nil, e
	}
	return h(s)
}

func (cl *call) smJSON(v any) (*response, error) {
	return jsonResponse(smJSON, cl.reqID, v)
}

func smDescribeSecret(cl *call) (*response, error) {
	var in struct{ SecretId string }
	if e := cl.decodeJSON(&in); e != nil {
		return nil, e
	}
	return cl.onSecret(in.SecretId, func(s *secret) (*response, error) {
		stages := map[string][]string{}
		for _, v := range s.versions {
			if len(v.stages) > 0 {
				stages[v.id] = append([]string(nil), v.stages...)
			}
		}
		type rules struct {
			AutomaticallyAfterDays int `json:",omitempty"`
		}
		out := struct {
			ARN                string
			Name               string
			Description        string              `json:",omitempty"`
			RotationEnabled    bool                `json:",omitempty"`
			RotationLambdaARN  string              `json:",omitempty"`
			RotationRules      *rules              `json:",omitempty"`
			LastRotatedDate    *epochTime          `json:",omitempty"`
			LastChangedDate    *epochTime          `json:",omitempty"`
			LastAccessedDate   *epochTime          `json:",omitempty"`
			NextRotationDate   *epochTime          `json:",omitempty"`
			CreatedDate        *epochTime          `json:",omitempty"`
			VersionIdsToStages map[string][]string `json:",omitempty"`
		}{
			ARN: s.arn, Name: s.name, Description: s.description,
			RotationEnabled: s.rotationEnabled, RotationLambdaARN: s.rotationLambda,
			LastRotatedDate: epochPtr(s.lastRotated), LastChangedDate: epochPtr(s.lastChanged),
			LastAccessedDate: epochPtr(s.lastAccessed), CreatedDate: epochPtr(s.created),
			VersionIdsToStages: stages,
		}
		if s.rotationDays > 0 {
			out.RotationRules = &rules{AutomaticallyAfterDays: s.rotationDays}
			if s.rotationEnabled {
				base := s.lastRotated
				if base.IsZero() {
					base = s.created
				}
				out.NextRotationDate = epochPtr(base.AddDate(0, 0, s.rotationDays))
			}
		}
		return cl.smJSON(out)
	})
}

func smGetSecretValue(cl *call) (*response, error) {
	var in struct{ SecretId, VersionId, VersionStage string }
	if e := cl.decodeJSON(&in); e != nil {
		return nil, e
	}
	return cl.onSecret(in.SecretId, func(s *secret) (*response, error) {
		cl.param("versionId", in.VersionId)
		cl.param("versionStage", in.VersionStage)
		var v *secretVersion
		switch {
		case in.VersionId != "":
			v = s.version(in.VersionId)
			if v == nil {
				return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionId)
			}
			if in.VersionStage != "" && !containsString(v.stages, in.VersionStage) {
				return nil, errf(400, "InvalidRequestException", "You provided a VersionStage that is not associated to the provided VersionId.")
			}
		default:
			stage := in.VersionStage
			if stage == "" {
				stage = "AWSCURRENT"
			}
			v = s.stageOwner(stage)
			if v == nil {
				return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
			}
		}
		// Secrets Manager tracks access to the day.
		day := cl.now.Truncate(24 * time.Hour)
		s.lastAccessed, v.lastAccessed = day, day
		out := struct {
			ARN           string
			Name          string
			VersionId     string
			SecretString  *string `json:",omitempty"`
			SecretBinary  []byte  `json:",omitempty"`
			VersionStages []string
			CreatedDate   *epochTime
		}{ARN: s.arn, Name: s.name, VersionId: v.id, VersionStages: append([]string{}, v.stages...), CreatedDate: epochPtr(v.created)}
		if v.isBinary {
			out.SecretBinary = v.bin
		} else {
			str := v.str
			out.SecretString = &str
		}
		return cl.smJSON(out)
	})
}

// smPutSecretValue is idempotent on ClientRequestToken as in AWS: the same
// token with the same value is a no-op success; with another value it is
// ResourceExistsException.
func smPutSecretValue(cl *call) (*response, error) {
	var in struct {
		SecretId           string
		ClientRequestToken string
		SecretString       *string
		SecretBinary       []byte
		VersionStages      []string
	}
	if e := cl.decodeJSON(&in); e != nil {
		return nil, e
	}
	if (in.SecretString == nil) == (in.SecretBinary == nil) {
		return nil, errf(400, "InvalidParameterException", "You must provide either SecretString or SecretBinary, but not both.")
	}
	if in.ClientRequestToken == "" {
		in.ClientRequestToken = newUUID()
	}
	if n := len(in.ClientRequestToken); n < 32 || n > 64 {
		return nil, errf(400, "ValidationException", "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{"AWSCURRENT"}
	}
	for _, st := range stages {
		if st == "" || len(st) > 256 {
			return nil, errf(400, "ValidationException", "invalid staging label %q", truncate(st, 40))
		}
	}
	return cl.onSecret(in.SecretId, func(s *secret) (*response, error) {
		cl.param("clientRequestToken", in.ClientRequestToken)
		cl.param("versionStages", fmt.Sprint(in.VersionStages))
		out := func(v *secretVersion) (*response, error) {
			return cl.smJSON(struct {
				ARN           string
				Name          string
				VersionId     string
				VersionStages []string
			}{s.arn, s.name, v.id, append([]string{}, v.stages...)})
		}
		if v := s.version(in.ClientRequestToken); v != nil {
			same := in.SecretString != nil && !v.isBinary && v.str == *in.SecretString ||
				in.SecretBinary != nil && v.isBinary && bytes.Equal(v.bin, in.SecretBinary)
			if !same {
				return nil, errf(400, "ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
			}
			return out(v)
		}
		v := &secretVersion{id: in.ClientRequestToken, created: cl.now}
		if in.SecretString != nil {
			v.str = *in.SecretString
		} else {
			v.bin, v.isBinary = in.SecretBinary, true
		}
		s.versions = append(s.versions, v)
		for _, st := range stages {
			s.moveStage(st, v)
		}
		s.lastChanged = cl.now
		cl.applied = true
		return out(v)
	})
}

func smUpdateSecretVersionStage(cl *call) (*response, error) {
	var in struct{ SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId string }
	if e := cl.decodeJSON(&in); e != nil {
		return nil, e
	}
	if in.VersionStage == "" {
		return nil, errf(400, "ValidationException", "1 validation error detected: Value null at 'versionStage' failed to satisfy constraint: Member must not be null")
	}
	return cl.onSecret(in.SecretId, func(s *secret) (*response, error) {
		cl.param("versionStage", in.VersionStage)
		cl.param("moveToVersionId", in.MoveToVersionId)
		cl.param("removeFromVersionId", in.RemoveFromVersionId)
		owner := s.stageOwner(in.VersionStage)
		if in.MoveToVersionId != "" && owner != nil && owner.id == in.MoveToVersionId {
			// Already moved: a retry after a lost response must not fail, even
			// though its RemoveFromVersionId no longer holds the label.
			return cl.smJSON(struct{ ARN, Name string }{s.arn, s.name})
		}
		if in.RemoveFromVersionId != "" && (owner == nil || owner.id != in.RemoveFromVersionId) {
			return nil, errf(400, "InvalidParameterException", "The staging label %s is not attached to version %s.", in.VersionStage, in.RemoveFromVersionId)
		}
		switch {
		case in.MoveToVersionId != "":
			target := s.version(in.MoveToVersionId)
			if target == nil {
				return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", in.MoveToVersionId)
			}
			if owner != nil && in.RemoveFromVersionId == "" {
				return nil, errf(400, "InvalidParameterException", "The staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", in.VersionStage, owner.id)
			}
			s.moveStage(in.VersionStage, target)
			s.lastChanged = cl.now
			cl.applied = true
		case in.RemoveFromVersionId != "":
			if in.VersionStage == "AWSCURRENT" {
				return nil, errf(400, "InvalidParameterException", "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.")
			}
			owner.removeStage(in.VersionStage)
			s.lastChanged = cl.now
			cl.applied = true
		default:
			return nil, errf(400, "InvalidParameterException", "You must specify MoveToVersionId or RemoveFromVersionId.")
		}
		return cl.smJSON(struct{ ARN, Name string }{s.arn, s.name})
	})
}

func smListSecretVersionIds(cl *call) (*response, error) {
	var in struct {
		SecretId          string
		IncludeDeprecated bool
		jsonPage
	}
	if e := cl.decodeJSON(&in); e != nil {
		return nil, e
	}
	max, e := maxResults(in.MaxResults, 100, func(n int) *apiError {
		return errf(400, "ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100", n)
	})
	if e != nil {
		return nil, e
	}
	start := 0
	if in.NextToken != "" {
		n, ok := decodeOffset(base64.StdEncoding, in.NextToken)
		if !ok {
			return nil, smBadToken()
		}
		start = n
	}
	return cl.onSecret(in.SecretId, func(s *secret) (*response, error) {
		type ver struct {
			VersionId        string
			VersionStages    []string
			CreatedDate      *epochTime
			LastAccessedDate *epochTime `json:",omitempty"`
		}
		var all []ver
		for i := len(s.versions) - 1; i >= 0; i-- { // newest first
			v := s.versions[i]
			if len(v.stages) == 0 && !in.IncludeDeprecated {
				continue
			}
			all = append(all, ver{v.id, append([]string{}, v.stages...), epochPtr(v.created), epochPtr(v.lastAccessed)})
		}
		if start > len(all) {
			return nil, smBadToken()
		}
		page, next := pageAt(base64.StdEncoding, all, start, max)
		return cl.smJSON(struct {
			ARN       string
			Name      string
			Versions  []ver
			NextToken string `json:",omitempty"`
		}{s.arn, s.name, page, next})
	})
}

// smRotateSecret simulates the rotation Lambda: it creates an AWSPENDING
// copy of AWSCURRENT and, unless the seed says the rotation stalls, promotes
// it at once. A rotation already in flight is refused as in AWS.
func smRotateSecret(cl *call) (*response, error) {
	var in struct {
		SecretId           string
		ClientRequestToken string
		RotationLambdaARN  string
		RotationRules      *struct{ AutomaticallyAfterDays int }
		RotateImmediately  *bool
	}
	if e := cl.decodeJSON(&in); e != nil {
		return nil, e
	}
	if in.ClientRequestToken == "" {
		in.ClientRequestToken = newUUID()
	}
	return cl.onSecret(in.SecretId, func(s *secret) (*response, error) {
		cl.param("clientRequestToken", in.ClientRequestToken)
		lambda := in.RotationLambdaARN
		if lambda == "" {
			lambda = s.rotationLambda
		}
		if lambda == "" {
			return nil, errf(400, "InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
		}
		cl.param("rotationLambdaARN", lambda)
		out := func(versionID string) (*response, error) {
			return cl.smJSON(struct {
				ARN       string
				Name      string
				VersionId string `json:",omitempty"`
			}{s.arn, s.name, versionID})
		}
		if v := s.version(in.ClientRequestToken); v != nil {
			return out(v.id) // same request token: this rotation already ran
		}
		if p := s.stageOwner("AWSPENDING"); p != nil && !containsString(p.stages, "AWSCURRENT") {
			return nil, errf(400, "InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted.")
		}
		changed := s.rotationLambda != lambda || !s.rotationEnabled
		s.rotationLambda, s.rotationEnabled = lambda, true
		if in.RotationRules != nil && in.RotationRules.AutomaticallyAfterDays > 0 {
			changed = changed || s.rotationDays != in.RotationRules.AutomaticallyAfterDays
			s.rotationDays = in.RotationRules.AutomaticallyAfterDays
		}
		if in.RotateImmediately != nil && !*in.RotateImmediately {
			cl.applied = changed
			return out("")
		}
		cur := s.stageOwner("AWSCURRENT")
		v := &secretVersion{id: in.ClientRequestToken, created: cl.now}
		if cur != nil {
			v.str, v.bin, v.isBinary = cur.str, append([]byte(nil), cur.bin...), cur.isBinary
		}
		s.versions = append(s.versions, v)
		s.moveStage("AWSPENDING", v)
		if !s.rotationStalls {
			s.moveStage("AWSCURRENT", v)
			v.removeStage("AWSPENDING")
			s.lastRotated = cl.now
		}
		s.lastChanged = cl.now
		cl.applied = true
		return out(v.id)
	})
}
