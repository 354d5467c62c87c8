package drillcloud

import (
	"sort"
	"time"
)

// KeyInfo is the observable state of an access key (never its secret).
type KeyInfo struct {
	ID             string
	Account        string
	UserName       string
	Status         string // Active or Inactive
	Created        time.Time
	LastUsed       time.Time // zero if never used
	LastUsedSvc    string
	LastUsedRegion string
}

// Key returns an access key's state; ok is false for unknown or deleted keys.
func (c *Cloud) Key(id string) (KeyInfo, bool) {
	return lookupLocked(c, func() *accessKey { return c.st.keys[id] }, keyInfo)
}

func keyInfo(k *accessKey) KeyInfo {
	return KeyInfo{ID: k.id, Account: k.account, UserName: k.user.name, Status: k.status, Created: k.created,
		LastUsed: k.lastUsed, LastUsedSvc: k.lastSvc, LastUsedRegion: k.lastRegion}
}

// Keys returns a user's access keys, oldest first.
func (c *Cloud) Keys(userName string) []KeyInfo {
	out, _ := lookupLocked(c, func() *principal { return c.st.findUser(userName) }, func(u *principal) []KeyInfo {
		var out []KeyInfo
		for _, k := range c.st.userKeys(u) {
			out = append(out, keyInfo(k))
		}
		return out
	})
	return out
}

// SessionInfo is the observable state of temporary credentials.
type SessionInfo struct {
	ID        string
	Account   string
	Principal string // user or role name
	Issued    time.Time
	Expires   time.Time
	SourceKey string // long-term key that called GetSessionToken, if any
}

// Session returns temporary credentials' state by their ASIA… key id.
func (c *Cloud) Session(id string) (SessionInfo, bool) {
	return lookupLocked(c, func() *session { return c.st.sessions[id] }, func(s *session) SessionInfo {
		return SessionInfo{ID: s.id, Account: s.account, Principal: s.principal.name, Issued: s.issued, Expires: s.expires, SourceKey: s.sourceKey}
	})
}

// UserPolicy returns a user's inline policy document as stored (not
// URL-encoded).
func (c *Cloud) UserPolicy(userName, policyName string) (string, bool) {
	return c.inlinePolicy(func() *principal { return c.st.findUser(userName) }, policyName)
}

// RolePolicy returns a role's inline policy document.
func (c *Cloud) RolePolicy(roleName, policyName string) (string, bool) {
	return c.inlinePolicy(func() *principal { return c.st.findRole(roleName) }, policyName)
}

// AttachedPolicies returns the managed policy ARNs attached to a user.
func (c *Cloud) AttachedPolicies(userName string) []string {
	out, _ := lookupLocked(c, func() *principal { return c.st.findUser(userName) }, func(u *principal) []string {
		return append([]string(nil), u.attached...)
	})
	return out
}

// SecretInfo is a secret with all its versions. Values are included because
// this is a test accessor; the call log never holds them.
type SecretInfo struct {
	ARN      string
	Name     string
	Region   string
	Versions []SecretVersionInfo // creation order
	// RotationLambdaARN and LastRotated reflect RotateSecret.
	RotationLambdaARN string
	RotationEnabled   bool
	LastRotated       time.Time
}

type SecretVersionInfo struct {
	ID      string
	Stages  []string
	Value   string
	Binary  []byte
	Created time.Time
}

// Secret returns a secret by name (in any account and region, first match).
func (c *Cloud) Secret(name string) (SecretInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.st.order {
		a := c.st.accounts[id]
		keys := make([]string, 0, len(a.secrets))
		for k := range a.secrets {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := a.secrets[k]
			if s.name != name {
				continue
			}
			info := SecretInfo{ARN: s.arn, Name: s.name, Region: s.region, RotationLambdaARN: s.rotationLambda,
				RotationEnabled: s.rotationEnabled, LastRotated: s.lastRotated}
			for _, v := range s.versions {
				info.Versions = append(info.Versions, SecretVersionInfo{ID: v.id, Stages: append([]string(nil), v.stages...),
					Value: v.str, Binary: append([]byte(nil), v.bin...), Created: v.created})
			}
			return info, true
		}
	}
	return SecretInfo{}, false
}

// SnapshotInfo is an EBS snapshot.
type SnapshotInfo struct {
	ID          string
	VolumeID    string
	Region      string
	Account     string
	Description string
	Tags        map[string]string
	Started     time.Time
	State       string
}

// Snapshots returns every snapshot, oldest first.
func (c *Cloud) Snapshots() []SnapshotInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	var out []SnapshotInfo
	for _, id := range c.st.order {
		for _, s := range c.st.accounts[id].snapshots {
			out = append(out, snapshotInfo(s, now))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func snapshotInfo(s *snapshot, now time.Time) SnapshotInfo {
	tags := map[string]string{}
	for _, t := range s.tags {
		tags[t.key] = t.value
	}
	return SnapshotInfo{ID: s.id, VolumeID: s.volumeID, Region: s.region, Account: s.owner, Description: s.description,
		Tags: tags, Started: s.started, State: s.state(now)}
}

// ObjectInfo is one S3 object version.
type ObjectInfo struct {
	Bucket       string
	Key          string
	VersionID    string
	DeleteMarker bool
	Data         []byte
	ETag         string
	LockMode     string
	RetainUntil  time.Time
	LegalHold    bool
	ChecksumAlgo string
	Checksum     string
	LastModified time.Time
}

// ObjectVersions returns every version of an object, oldest first.
func (c *Cloud) ObjectVersions(bucketName, key string) []ObjectInfo {
	out, _ := lookupLocked(c, func() *bucket { return c.st.buckets[bucketName] }, func(b *bucket) []ObjectInfo {
		var out []ObjectInfo
		for _, v := range b.objects[key] {
			out = append(out, ObjectInfo{Bucket: bucketName, Key: key, VersionID: v.versionID, DeleteMarker: v.deleteMarker,
				Data: append([]byte(nil), v.data...), ETag: v.etag, LockMode: v.lockMode, RetainUntil: v.retainUntil,
				LegalHold: v.legalHold, ChecksumAlgo: v.checksumAlgo, Checksum: v.checksum, LastModified: v.lastModified})
		}
		return out
	})
	return out
}

// Object returns the latest version of an object unless it is a delete
// marker.
func (c *Cloud) Object(bucketName, key string) (ObjectInfo, bool) {
	vs := c.ObjectVersions(bucketName, key)
	if len(vs) == 0 || vs[len(vs)-1].DeleteMarker {
		return ObjectInfo{}, false
	}
	return vs[len(vs)-1], true
}

// BedrockLogging returns the model invocation logging configuration JSON of
// the default account in a region; ok is false when logging is off.
func (c *Cloud) BedrockLogging(region string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, ok := c.st.accounts[c.st.order[0]].bedrockLogging[region]
	return string(raw), ok
}

// Invocation is one Bedrock InvokeModel call that succeeded.
type Invocation struct {
	Time         time.Time
	KeyID        string
	Account      string
	Region       string
	ModelID      string
	InputTokens  int
	OutputTokens int
	// Logged says whether model invocation logging was on, i.e. whether the
	// enterprise would have a record of this prompt.
	Logged bool
}

// Invocations returns every successful InvokeModel call.
func (c *Cloud) Invocations() []Invocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Invocation(nil), c.invocations...)
}
