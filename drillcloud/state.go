package drillcloud

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// state is the whole simulated cloud. It is guarded by Cloud.mu.
type state struct {
	accounts map[string]*account
	order    []string // account ids in seed order; order[0] is the default
	keys     map[string]*accessKey
	sessions map[string]*session
	// keyAccount remembers every key id ever issued, even after deletion, the
	// way sts:GetAccessKeyInfo can still name the account of a deleted key.
	keyAccount map[string]string
	buckets    map[string]*bucket
	providers  *providerState
	svcCreds   map[string]*serviceCred // service-specific credentials by id (ACCA…)
}

type account struct {
	id, alias      string
	users          map[string]*principal
	roles          map[string]*principal
	managed        map[string]string // policy ARN -> document (customer policies and overrides)
	secrets        map[string]*secret
	volumes        map[string]*volume
	instances      map[string]*instance
	snapshots      map[string]*snapshot
	bedrockLogging map[string]json.RawMessage // region -> loggingConfig
}

type principal struct {
	kind     string // "user" or "role"
	name     string
	path     string
	id       string
	arn      string
	account  string
	created  time.Time
	inline   map[string]string
	attached []string
}

type accessKey struct {
	id, secret string
	status     string
	user       *principal
	account    string
	created    time.Time
	lastUsed   time.Time
	lastSvc    string
	lastRegion string
}

type session struct {
	id, secret, token string
	principal         *principal
	account           string
	name              string // role session name
	issued, expires   time.Time
	sourceKey         string
	// fromGetSessionToken marks user sessions, which AWS restricts: no IAM
	// calls without MFA and only some STS calls.
	fromGetSessionToken bool
}

type secret struct {
	name, arn, region, description string
	account                        string
	created, lastChanged           time.Time
	lastAccessed, lastRotated      time.Time
	rotationLambda                 string
	rotationDays                   int
	rotationEnabled                bool
	rotationStalls                 bool
	versions                       []*secretVersion
}

type secretVersion struct {
	id           string
	str          string
	bin          []byte
	isBinary     bool
	stages       []string
	created      time.Time
	lastAccessed time.Time
}

type tag struct{ key, value string }

type volume struct {
	id, region, az string
	account        string
	size           int
	encrypted      bool
	tags           []tag
	created        time.Time
}

// instance is an EC2 instance as DescribeInstances shows it: running, with its
// volumes attached in order (/dev/xvda, /dev/xvdb, …) and its instance profile.
type instance struct {
	id, region, account string
	volumes             []string
	profile             string // instance profile name; "" for none
	profileID           string
	launched            time.Time
}

type snapshot struct {
	id, volumeID, region, description string
	owner                             string
	size                              int
	encrypted                         bool
	tags                              []tag
	started, completeAt               time.Time
}

type bucket struct {
	name, region, account string
	created               time.Time
	versioning            bool
	lock                  *SeedObjectLock // non-nil when Object Lock is enabled
	objects               map[string][]*objectVersion
}

type objectVersion struct {
	versionID    string
	deleteMarker bool
	data         []byte
	etag         string
	contentType  string
	lastModified time.Time
	lockMode     string
	retainUntil  time.Time
	legalHold    bool
	checksumAlgo string // e.g. CRC32, SHA256
	checksum     string // base64
	metadata     map[string]string
}

func newState(seed Seed, now time.Time) (*state, error) {
	st := &state{
		accounts:   map[string]*account{},
		keys:       map[string]*accessKey{},
		sessions:   map[string]*session{},
		keyAccount: map[string]string{},
		buckets:    map[string]*bucket{},
		providers:  newProviderState(seed.Providers, now),
	}
	for _, sa := range seed.Accounts {
		a := &account{
			id: sa.ID, alias: sa.Alias,
			users: map[string]*principal{}, roles: map[string]*principal{},
			managed: map[string]string{}, secrets: map[string]*secret{},
			volumes: map[string]*volume{}, instances: map[string]*instance{}, snapshots: map[string]*snapshot{},
			bedrockLogging: map[string]json.RawMessage{},
		}
		st.accounts[a.id] = a
		st.order = append(st.order, a.id)
		for _, mp := range sa.ManagedPolicies {
			a.managed[mp.ARN] = mp.Document
		}
		for _, su := range sa.Users {
			p := newPrincipal("user", su.Name, su.Path, a.id, orNow(su.Created, now), su.InlinePolicies, su.AttachedPolicies)
			a.users[p.name] = p
			for _, sk := range su.Keys {
				sec := sk.Secret
				if sec == "" {
					sec = newSecretKey()
				}
				k := &accessKey{id: sk.ID, secret: sec, status: sk.Status, user: p, account: a.id, created: orNow(sk.Created, now)}
				if sk.Status == "" {
					k.status = "Active"
				}
				if lu := sk.LastUsed; lu != nil {
					k.lastUsed, k.lastSvc, k.lastRegion = lu.Time, lu.Service, lu.Region
				}
				st.keys[k.id] = k
				st.keyAccount[k.id] = a.id
			}
			for _, ss := range su.Sessions {
				st.addSeedSession(ss, p, true)
			}
		}
		for _, sr := range sa.Roles {
			p := newPrincipal("role", sr.Name, sr.Path, a.id, orNow(sr.Created, now), sr.InlinePolicies, sr.AttachedPolicies)
			a.roles[p.name] = p
			for _, ss := range sr.Sessions {
				st.addSeedSession(ss, p, false)
			}
		}
		for _, ss := range sa.Secrets {
			s := &secret{
				name: ss.Name, region: ss.Region, description: ss.Description, account: a.id,
				arn:     fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", ss.Region, a.id, ss.Name, randAlnum(6)),
				created: now, lastChanged: now,
				rotationLambda: ss.RotationLambdaARN, rotationDays: ss.RotationDays,
				rotationEnabled: ss.RotationLambdaARN != "" && ss.RotationDays > 0,
				rotationStalls:  ss.RotationStalls,
			}
			if len(ss.Versions) == 0 {
				s.versions = []*secretVersion{{id: newUUID(), str: ss.Value, stages: []string{"AWSCURRENT"}, created: now}}
			}
			for _, sv := range ss.Versions {
				id := sv.ID
				if id == "" {
					id = newUUID()
				}
				s.versions = append(s.versions, &secretVersion{id: id, str: sv.Value, stages: append([]string(nil), sv.Stages...), created: orNow(sv.Created, now)})
			}
			a.secrets[secretKey(s.region, s.name)] = s
		}
		for _, sv := range sa.Volumes {
			v := &volume{id: sv.ID, region: sv.Region, az: sv.AvailabilityZone, account: a.id, size: sv.SizeGiB, encrypted: sv.Encrypted, created: now}
			keys := make([]string, 0, len(sv.Tags))
			for k := range sv.Tags {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v.tags = append(v.tags, tag{k, sv.Tags[k]})
			}
			a.volumes[v.id] = v
		}
		for _, si := range sa.Instances {
			a.instances[si.ID] = &instance{id: si.ID, region: si.Region, account: a.id, volumes: append([]string(nil), si.Volumes...),
				profile: si.InstanceProfile, profileID: "AIPA" + strings.ToUpper(randAlnum(17)), launched: now}
		}
		for _, sb := range sa.Buckets {
			b := &bucket{name: sb.Name, region: sb.Region, account: a.id, created: now, versioning: sb.Versioning || sb.ObjectLock != nil, objects: map[string][]*objectVersion{}}
			if sb.ObjectLock != nil {
				l := *sb.ObjectLock
				b.lock = &l
			}
			st.buckets[b.name] = b
		}
		for _, bl := range sa.BedrockLogging {
			raw, err := json.Marshal(bl.Config)
			if err != nil {
				return nil, fmt.Errorf("seed account %s bedrock logging %s: %w", a.id, bl.Region, err)
			}
			a.bedrockLogging[bl.Region] = raw
		}
	}
	return st, nil
}

func (st *state) addSeedSession(ss SeedSession, p *principal, user bool) {
	s := &session{
		id: ss.ID, secret: ss.Secret, token: ss.Token, principal: p, account: p.account,
		name: ss.Name, issued: ss.Issued, expires: ss.Expires, fromGetSessionToken: user,
	}
	if s.secret == "" {
		s.secret = newSecretKey()
	}
	if s.token == "" {
		s.token = newSessionToken()
	}
	if s.expires.IsZero() {
		s.expires = s.issued.Add(12 * time.Hour)
	}
	if s.name == "" && !user {
		s.name = "drill-session"
	}
	st.sessions[s.id] = s
	st.keyAccount[s.id] = p.account
}

func newPrincipal(kind, name, path, acct string, created time.Time, inline map[string]string, attached []string) *principal {
	if path == "" {
		path = "/"
	}
	prefix := "AIDA"
	if kind == "role" {
		prefix = "AROA"
	}
	p := &principal{
		kind: kind, name: name, path: path, account: acct, created: created,
		id:       newKeyID(prefix, acct),
		arn:      fmt.Sprintf("arn:aws:iam::%s:%s%s%s", acct, kind, path, name),
		inline:   map[string]string{},
		attached: append([]string(nil), attached...),
	}
	for k, v := range inline {
		p.inline[k] = v
	}
	return p
}

func secretKey(region, name string) string { return region + "/" + name }

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// newKeyID makes an access key id that, like real ones since 2019, encodes
// the account: 4-char prefix + base32 of 10 bytes whose first 48 bits hold
// account<<7.
func newKeyID(prefix, acct string) string {
	n, _ := strconv.ParseUint(acct, 10, 64)
	var b [10]byte
	_, _ = rand.Read(b[:])
	z := n<<7 | uint64(b[5]&0x7f)
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], z)
	copy(b[0:6], be[2:8])
	return prefix + base32.StdEncoding.EncodeToString(b[:])
}

// accountFromKeyID decodes the account a key id was issued for, if it is in
// the modern encoded form.
func accountFromKeyID(id string) (string, bool) {
	if len(id) != 20 {
		return "", false
	}
	b, err := base32.StdEncoding.DecodeString(id[4:])
	if err != nil || len(b) != 10 {
		return "", false
	}
	var be [8]byte
	copy(be[2:8], b[0:6])
	z := binary.BigEndian.Uint64(be[:])
	return fmt.Sprintf("%012d", (z&0x7fffffffff80)>>7), true
}

func newSecretKey() string {
	var b [30]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func newSessionToken() string {
	var b [120]byte
	_, _ = rand.Read(b[:])
	return "IQoJb3JpZ2luX2VjE" + base64.StdEncoding.EncodeToString(b[:])
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func randAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// findUser looks a user up by name across accounts in seed order.
func (st *state) findUser(name string) *principal {
	for _, id := range st.order {
		if u := st.accounts[id].users[name]; u != nil {
			return u
		}
	}
	return nil
}

func (st *state) findRole(name string) *principal {
	for _, id := range st.order {
		if r := st.accounts[id].roles[name]; r != nil {
			return r
		}
	}
	return nil
}

func (st *state) userKeys(u *principal) []*accessKey {
	var ks []*accessKey
	for _, k := range st.keys {
		if k.user == u {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		if !ks[i].created.Equal(ks[j].created) {
			return ks[i].created.Before(ks[j].created)
		}
		return ks[i].id < ks[j].id
	})
	return ks
}

// findSecret resolves a SecretId (name, full ARN or partial ARN without the
// random suffix) within an account and region.
func (a *account) findSecret(region, id string) *secret {
	if s := a.secrets[secretKey(region, id)]; s != nil {
		return s
	}
	if strings.HasPrefix(id, "arn:") {
		for _, s := range a.secrets {
			if s.region == region && (s.arn == id || strings.HasPrefix(s.arn, id+"-") && len(s.arn) == len(id)+7) {
				return s
			}
		}
	}
	return nil
}

// firstOf returns the first element of xs that ok accepts, or nil.
func firstOf[T any](xs []*T, ok func(*T) bool) *T {
	if i := slices.IndexFunc(xs, ok); i >= 0 {
		return xs[i]
	}
	return nil
}

func (s *secret) version(id string) *secretVersion {
	return firstOf(s.versions, func(v *secretVersion) bool { return v.id == id })
}

func (s *secret) stageOwner(stage string) *secretVersion {
	return firstOf(s.versions, func(v *secretVersion) bool { return containsString(v.stages, stage) })
}

func (v *secretVersion) removeStage(stage string) {
	out := v.stages[:0]
	for _, s := range v.stages {
		if s != stage {
			out = append(out, s)
		}
	}
	v.stages = out
}

// moveStage attaches stage to v, detaching it from whichever version had it.
// Moving AWSCURRENT demotes the old current version to AWSPREVIOUS, as
// Secrets Manager does.
func (s *secret) moveStage(stage string, v *secretVersion) {
	old := s.stageOwner(stage)
	if old == v {
		return
	}
	if old != nil {
		old.removeStage(stage)
	}
	v.stages = append(v.stages, stage)
	if stage == "AWSCURRENT" && old != nil {
		if prev := s.stageOwner("AWSPREVIOUS"); prev != nil {
			prev.removeStage("AWSPREVIOUS")
		}
		if !containsString(old.stages, "AWSPREVIOUS") {
			old.stages = append(old.stages, "AWSPREVIOUS")
		}
		v.removeStage("AWSPREVIOUS")
	}
}

func (b *bucket) latest(key string) *objectVersion {
	vs := b.objects[key]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

func (b *bucket) findVersion(key, versionID string) (*objectVersion, int) {
	for i, v := range b.objects[key] {
		if v.versionID == versionID {
			return v, i
		}
	}
	return nil, -1
}

// locked reports whether Object Lock forbids deleting or overwriting this
// version right now. Governance mode yields to an explicit bypass.
func (v *objectVersion) locked(now time.Time, bypassGovernance bool) bool {
	if v.legalHold {
		return true
	}
	if v.retainUntil.IsZero() || !v.retainUntil.After(now) {
		return false
	}
	return v.lockMode == "COMPLIANCE" || !bypassGovernance
}
