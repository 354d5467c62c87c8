package drillcloud

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

var ec2Ops = map[string]*opDef{
	"CreateSnapshot": {resource: func(cl *call) string {
		return fmt.Sprintf("arn:aws:ec2:%s:%s:volume/%s", cl.region, cl.id.account, cl.form.Get("VolumeId"))
	}, handle: ec2CreateSnapshot},
	"DescribeSnapshots": {readOnly: true, handle: ec2DescribeSnapshots},
	"DescribeVolumes":   {readOnly: true, handle: ec2DescribeVolumes},
	"DescribeInstances": {readOnly: true, handle: ec2DescribeInstances},
}

// ec2List returns Prefix.1, Prefix.2, … until the first gap, the way
// ec2Query flattens lists.
func ec2List(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + "." + strconv.Itoa(i)
		if _, ok := form[k]; !ok {
			return out
		}
		out = append(out, form.Get(k))
	}
}

type ec2Filter struct {
	name   string
	values []string
}

func ec2Filters(form url.Values) []ec2Filter {
	var out []ec2Filter
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name := form.Get(p + ".Name")
		if name == "" {
			return out
		}
		out = append(out, ec2Filter{name: name, values: ec2List(form, p+".Value")})
	}
}

// matches applies one filter to a resource's attributes; EC2 filter values
// accept * and ? wildcards, and any value may match.
func (f ec2Filter) matches(attrs map[string]string, tags []tag) bool {
	anyMatch := func(s string) bool {
		for _, v := range f.values {
			if wildcardMatch(v, s, false) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(f.name, "tag:"):
		key := strings.TrimPrefix(f.name, "tag:")
		for _, t := range tags {
			if t.key == key && anyMatch(t.value) {
				return true
			}
		}
		return false
	case f.name == "tag-key":
		for _, t := range tags {
			if anyMatch(t.key) {
				return true
			}
		}
		return false
	case f.name == "tag-value":
		for _, t := range tags {
			if anyMatch(t.value) {
				return true
			}
		}
		return false
	}
	v, ok := attrs[f.name]
	return ok && anyMatch(v)
}

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func ec2Tags(tags []tag) *itemList[ec2Tag] {
	if len(tags) == 0 {
		return nil
	}
	l := &itemList[ec2Tag]{}
	for _, t := range tags {
		l.Items = append(l.Items, ec2Tag{t.key, t.value})
	}
	return l
}

type ec2Snapshot struct {
	SnapshotID  string            `xml:"snapshotId"`
	VolumeID    string            `xml:"volumeId"`
	Status      string            `xml:"status"`
	StartTime   msTime            `xml:"startTime"`
	Progress    string            `xml:"progress"`
	OwnerID     string            `xml:"ownerId"`
	VolumeSize  int               `xml:"volumeSize"`
	Description string            `xml:"description"`
	Encrypted   bool              `xml:"encrypted"`
	StorageTier string            `xml:"storageTier"`
	TagSet      *itemList[ec2Tag] `xml:"tagSet,omitempty"`
}

func (s *snapshot) state(now time.Time) string {
	if now.Before(s.completeAt) {
		return "pending"
	}
	return "completed"
}

func (s *snapshot) xml(now time.Time) ec2Snapshot {
	st := s.state(now)
	progress := "100%"
	if st == "pending" {
		progress = "0%"
	}
	return ec2Snapshot{SnapshotID: s.id, VolumeID: s.volumeID, Status: st, StartTime: msTime(s.started), Progress: progress,
		OwnerID: s.owner, VolumeSize: s.size, Description: s.description, Encrypted: s.encrypted, StorageTier: "standard", TagSet: ec2Tags(s.tags)}
}

func (cl *call) ec2XML(v any) (*response, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal %s response: %w", cl.op, err)
	}
	return newResponse(200, "text/xml;charset=UTF-8", append([]byte(xml.Header), b...)), nil
}

func ec2DryRun(cl *call) *apiError {
	if strings.EqualFold(cl.form.Get("DryRun"), "true") {
		return errf(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

func ec2CreateSnapshot(cl *call) (*response, error) {
	volID := cl.form.Get("VolumeId")
	if volID == "" {
		return nil, errf(400, "MissingParameter", "The request must contain the parameter VolumeId")
	}
	cl.param("volumeId", volID)
	desc := cl.form.Get("Description")
	if len(desc) > 255 {
		return nil, errf(400, "InvalidParameterValue", "Value for parameter Description is too long (max 255)")
	}
	cl.param("description", desc)
	var tags []tag
	for i := 1; ; i++ {
		p := "TagSpecification." + strconv.Itoa(i)
		rt, ok := cl.form[p+".ResourceType"]
		if !ok {
			break
		}
		if rt[0] != "snapshot" {
			return nil, errf(400, "InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt[0])
		}
		for j := 1; ; j++ {
			tp := p + ".Tag." + strconv.Itoa(j)
			k, ok := cl.form[tp+".Key"]
			if !ok {
				break
			}
			if k[0] == "" || strings.HasPrefix(strings.ToLower(k[0]), "aws:") || len(k[0]) > 128 {
				return nil, errf(400, "InvalidParameterValue", "Tag key %q is not allowed", truncate(k[0], 130))
			}
			tags = append(tags, tag{k[0], cl.form.Get(tp + ".Value")})
		}
	}
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.st.accounts[cl.id.account]
	v := a.volumes[volID]
	if v == nil || v.region != cl.region {
		return nil, errf(400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", volID)
	}
	if e := ec2DryRun(cl); e != nil {
		return nil, e
	}
	s := &snapshot{id: "snap-" + randHex(17), volumeID: v.id, region: v.region, description: desc, owner: a.id,
		size: v.size, encrypted: v.encrypted, tags: tags, started: cl.now, completeAt: cl.now.Add(c.opts.snapshotDelay)}
	a.snapshots[s.id] = s
	cl.applied = true
	cl.resource("AWS::EC2::Snapshot", s.id)
	cl.resource("AWS::EC2::Volume", v.id)
	body := s.xml(cl.now)
	body.Status, body.Progress = "pending", ""
	return cl.ec2XML(struct {
		XMLName   xml.Name `xml:"CreateSnapshotResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		RequestID string   `xml:"requestId"`
		ec2Snapshot
	}{Xmlns: cl.svc.xmlns, RequestID: cl.reqID, ec2Snapshot: body})
}

// ec2Page slices a sorted result by the opaque offset token.
func ec2Page[T any](cl *call, all []T) ([]T, string, *apiError) {
	start := 0
	if tok := cl.form.Get("NextToken"); tok != "" {
		n, ok := decodeOffset(base64.RawURLEncoding, tok)
		if !ok || n > len(all) {
			return nil, "", errf(400, "InvalidParameterValue", "The token '%s' is invalid.", truncate(tok, 40))
		}
		start = n
	}
	max := len(all)
	if m := cl.form.Get("MaxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 5 || n > 1000 {
			return nil, "", errf(400, "InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", m)
		}
		max = n
	}
	page, next := pageAt(base64.RawURLEncoding, all, start, max)
	return page, next, nil
}

// ec2Describe is what the Describe* operations share: collect runs under c.mu
// on the caller's account and returns the selected items in order; they are
// then paged and answered as <OpResponse> with the items in <setName>.
func ec2Describe[T any](cl *call, setName string, collect func(a *account, sel ec2Selection) ([]T, *apiError)) (*response, error) {
	sel := ec2Selection{ids: ec2List(cl.form, ec2IDList[cl.op]), filters: ec2Filters(cl.form)}
	items, e := func() ([]T, *apiError) {
		cl.c.mu.Lock()
		defer cl.c.mu.Unlock()
		return collect(cl.c.st.accounts[cl.id.account], sel)
	}()
	if e != nil {
		return nil, e
	}
	page, next, e := ec2Page(cl, items)
	if e != nil {
		return nil, e
	}
	return cl.ec2XML(ec2DescribeResponse[T]{XMLName: xml.Name{Local: cl.op + "Response"}, Xmlns: cl.svc.xmlns, RequestID: cl.reqID,
		Set: ec2Set[T]{setName, page}, NextToken: next})
}

type ec2DescribeResponse[T any] struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
	Set       ec2Set[T]
	NextToken string `xml:"nextToken,omitempty"`
}

// ec2Set marshals as <name><item>…</item></name>; the name depends on the
// operation (snapshotSet, volumeSet, reservationSet).
type ec2Set[T any] struct {
	name  string
	items []T
}

func (s ec2Set[T]) MarshalXML(enc *xml.Encoder, _ xml.StartElement) error {
	return enc.EncodeElement(itemList[T]{s.items}, xml.StartElement{Name: xml.Name{Local: s.name}})
}

// ec2Check refuses, in the order EC2 checks them: the first requested id that
// names nothing in the caller's region, then what more checks, then a DryRun.
// A non-empty param records each id as it is checked.
func ec2Check(cl *call, param string, ids []string, exists func(id string) bool, notFound func(id string) *apiError, more ...func() *apiError) *apiError {
	for _, id := range ids {
		if param != "" {
			cl.param(param, id)
		}
		if !exists(id) {
			return notFound(id)
		}
	}
	for _, check := range more {
		if e := check(); e != nil {
			return e
		}
	}
	return ec2DryRun(cl)
}

// ec2IDList names the id list parameter of each Describe* operation.
var ec2IDList = map[string]string{"DescribeSnapshots": "SnapshotId", "DescribeVolumes": "VolumeId", "DescribeInstances": "InstanceId"}

// ec2Selection is what a Describe* request asks for: resources with these ids
// (any when empty) that pass every filter.
type ec2Selection struct {
	ids     []string
	filters []ec2Filter
}

// has reports whether a resource of region with this id and these attributes
// and tags is selected; only the caller's region is.
func (sel ec2Selection) has(cl *call, region, id string, attrs map[string]string, tags []tag) bool {
	if region != cl.region || (len(sel.ids) > 0 && !containsString(sel.ids, id)) {
		return false
	}
	for _, f := range sel.filters {
		if !f.matches(attrs, tags) {
			return false
		}
	}
	return true
}

func ec2DescribeSnapshots(cl *call) (*response, error) {
	owners := ec2List(cl.form, "Owner")
	return ec2Describe(cl, "snapshotSet", func(a *account, sel ec2Selection) ([]ec2Snapshot, *apiError) {
		for _, id := range sel.ids {
			cl.param("snapshotId", id)
		}
		e := ec2Check(cl, "", sel.ids, func(id string) bool { s := a.snapshots[id]; return s != nil && s.region == cl.region },
			func(id string) *apiError {
				return errf(400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
			},
			func() *apiError {
				for _, o := range owners {
					if o != "self" && o != a.id && o != "amazon" {
						return errf(400, "InvalidUserID.Malformed", "Invalid id: \"%s\"", o)
					}
				}
				return nil
			})
		if e != nil {
			return nil, e
		}
		var all []*snapshot
		for _, s := range a.snapshots {
			if len(owners) > 0 && !containsString(owners, "self") && !containsString(owners, a.id) {
				continue
			}
			attrs := map[string]string{"snapshot-id": s.id, "volume-id": s.volumeID, "status": s.state(cl.now), "owner-id": s.owner,
				"description": s.description, "volume-size": strconv.Itoa(s.size), "encrypted": strconv.FormatBool(s.encrypted)}
			if sel.has(cl, s.region, s.id, attrs, s.tags) {
				all = append(all, s)
			}
		}
		sort.Slice(all, func(i, j int) bool {
			if !all[i].started.Equal(all[j].started) {
				return all[i].started.Before(all[j].started)
			}
			return all[i].id < all[j].id
		})
		items := make([]ec2Snapshot, 0, len(all))
		for _, s := range all {
			items = append(items, s.xml(cl.now))
		}
		return items, nil
	})
}

type ec2Volume struct {
	VolumeID           string             `xml:"volumeId"`
	Size               int                `xml:"size"`
	SnapshotID         string             `xml:"snapshotId"`
	AvailabilityZone   string             `xml:"availabilityZone"`
	Status             string             `xml:"status"`
	CreateTime         msTime             `xml:"createTime"`
	AttachmentSet      itemList[struct{}] `xml:"attachmentSet"`
	VolumeType         string             `xml:"volumeType"`
	Iops               int                `xml:"iops"`
	Throughput         int                `xml:"throughput"`
	Encrypted          bool               `xml:"encrypted"`
	MultiAttachEnabled bool               `xml:"multiAttachEnabled"`
	TagSet             *itemList[ec2Tag]  `xml:"tagSet,omitempty"`
}

func ec2DescribeVolumes(cl *call) (*response, error) {
	return ec2Describe(cl, "volumeSet", func(a *account, sel ec2Selection) ([]ec2Volume, *apiError) {
		e := ec2Check(cl, "volumeId", sel.ids, func(id string) bool { v := a.volumes[id]; return v != nil && v.region == cl.region },
			func(id string) *apiError {
				return errf(400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
			})
		if e != nil {
			return nil, e
		}
		var items []ec2Volume
		for _, v := range a.volumes {
			attrs := map[string]string{"volume-id": v.id, "status": "available", "availability-zone": v.az, "size": strconv.Itoa(v.size),
				"volume-type": "gp3", "encrypted": strconv.FormatBool(v.encrypted)}
			if sel.has(cl, v.region, v.id, attrs, v.tags) {
				items = append(items, ec2Volume{VolumeID: v.id, Size: v.size, AvailabilityZone: v.az, Status: "available",
					CreateTime: msTime(v.created), VolumeType: "gp3", Iops: 3000, Throughput: 125, Encrypted: v.encrypted, TagSet: ec2Tags(v.tags)})
			}
		}
		sort.Slice(items, func(i, j int) bool { return items[i].VolumeID < items[j].VolumeID })
		return items, nil
	})
}

type ec2EBS struct {
	VolumeID            string `xml:"volumeId"`
	Status              string `xml:"status"`
	AttachTime          msTime `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type ec2BlockDevice struct {
	DeviceName string `xml:"deviceName"`
	EBS        ec2EBS `xml:"ebs"`
}

type ec2InstanceProfile struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type ec2Instance struct {
	InstanceID    string `xml:"instanceId"`
	InstanceType  string `xml:"instanceType"`
	LaunchTime    msTime `xml:"launchTime"`
	InstanceState struct {
		Code int    `xml:"code"`
		Name string `xml:"name"`
	} `xml:"instanceState"`
	Placement struct {
		AvailabilityZone string `xml:"availabilityZone"`
	} `xml:"placement"`
	RootDeviceName     string                   `xml:"rootDeviceName,omitempty"`
	BlockDeviceMapping itemList[ec2BlockDevice] `xml:"blockDeviceMapping"`
	IamInstanceProfile *ec2InstanceProfile      `xml:"iamInstanceProfile,omitempty"`
}

type ec2Reservation struct {
	ReservationID string                `xml:"reservationId"`
	OwnerID       string                `xml:"ownerId"`
	InstancesSet  itemList[ec2Instance] `xml:"instancesSet"`
}

// ec2DeviceName names the n-th attached volume the way Amazon Linux AMIs do.
func ec2DeviceName(n int) string {
	return "/dev/xvd" + string(rune('a'+n%26))
}

// ec2DescribeInstances lists instances, one reservation each, with their block device
// mappings and instance profile: what forensics needs to find the volumes to snapshot.
func ec2DescribeInstances(cl *call) (*response, error) {
	return ec2Describe(cl, "reservationSet", func(a *account, sel ec2Selection) ([]ec2Reservation, *apiError) {
		e := ec2Check(cl, "instanceId", sel.ids, func(id string) bool { in := a.instances[id]; return in != nil && in.region == cl.region },
			func(id string) *apiError {
				return errf(400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", truncate(id, 40))
			})
		if e != nil {
			return nil, e
		}
		var items []ec2Reservation
		for _, in := range a.instances {
			az := in.region + "a"
			if len(in.volumes) > 0 {
				if v := a.volumes[in.volumes[0]]; v != nil {
					az = v.az
				}
			}
			attrs := map[string]string{"instance-id": in.id, "instance-state-name": "running", "availability-zone": az}
			if in.profile != "" {
				attrs["iam-instance-profile.arn"] = "arn:aws:iam::" + a.id + ":instance-profile/" + in.profile
			}
			if !sel.has(cl, in.region, in.id, attrs, nil) {
				continue
			}
			items = append(items, in.reservation(a.id, az, attrs["iam-instance-profile.arn"]))
		}
		sort.Slice(items, func(i, j int) bool {
			return items[i].InstancesSet.Items[0].InstanceID < items[j].InstancesSet.Items[0].InstanceID
		})
		return items, nil
	})
}

// reservation is the instance as DescribeInstances lists it: alone in its
// reservation, with its block device mappings and instance profile.
func (in *instance) reservation(owner, az, profileARN string) ec2Reservation {
	x := ec2Instance{InstanceID: in.id, InstanceType: "t3.medium", LaunchTime: msTime(in.launched)}
	x.InstanceState.Code, x.InstanceState.Name = 16, "running"
	x.Placement.AvailabilityZone = az
	for n, vid := range in.volumes {
		x.BlockDeviceMapping.Items = append(x.BlockDeviceMapping.Items, ec2BlockDevice{DeviceName: ec2DeviceName(n),
			EBS: ec2EBS{VolumeID: vid, Status: "attached", AttachTime: msTime(in.launched), DeleteOnTermination: n == 0}})
	}
	if len(in.volumes) > 0 {
		x.RootDeviceName = ec2DeviceName(0)
	}
	if in.profile != "" {
		x.IamInstanceProfile = &ec2InstanceProfile{Arn: profileARN, ID: in.profileID}
	}
	return ec2Reservation{ReservationID: "r-" + strings.TrimPrefix(in.id, "i-"), OwnerID: owner,
		InstancesSet: itemList[ec2Instance]{[]ec2Instance{x}}}
}
