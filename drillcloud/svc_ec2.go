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
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(all) {
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
	page := all[start:]
	next := ""
	if len(page) > max {
		page = page[:max]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(start + max)))
	}
	return page, next, nil
}

func ec2DescribeSnapshots(cl *call) (*response, error) {
	ids := ec2List(cl.form, "SnapshotId")
	owners := ec2List(cl.form, "Owner")
	filters := ec2Filters(cl.form)
	for _, id := range ids {
		cl.param("snapshotId", id)
	}
	c := cl.c
	c.mu.Lock()
	a := c.st.accounts[cl.id.account]
	for _, id := range ids {
		if s := a.snapshots[id]; s == nil || s.region != cl.region {
			c.mu.Unlock()
			return nil, errf(400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
		}
	}
	for _, o := range owners {
		if o != "self" && o != a.id && o != "amazon" {
			c.mu.Unlock()
			return nil, errf(400, "InvalidUserID.Malformed", "Invalid id: \"%s\"", o)
		}
	}
	if e := ec2DryRun(cl); e != nil {
		c.mu.Unlock()
		return nil, e
	}
	var all []*snapshot
	for _, s := range a.snapshots {
		if s.region != cl.region || (len(ids) > 0 && !containsString(ids, s.id)) {
			continue
		}
		if len(owners) > 0 && !containsString(owners, "self") && !containsString(owners, a.id) {
			continue
		}
		attrs := map[string]string{"snapshot-id": s.id, "volume-id": s.volumeID, "status": s.state(cl.now), "owner-id": s.owner,
			"description": s.description, "volume-size": strconv.Itoa(s.size), "encrypted": strconv.FormatBool(s.encrypted)}
		ok := true
		for _, f := range filters {
			if !f.matches(attrs, s.tags) {
				ok = false
				break
			}
		}
		if ok {
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
	c.mu.Unlock()
	page, next, e := ec2Page(cl, items)
	if e != nil {
		return nil, e
	}
	return cl.ec2XML(struct {
		XMLName     xml.Name              `xml:"DescribeSnapshotsResponse"`
		Xmlns       string                `xml:"xmlns,attr"`
		RequestID   string                `xml:"requestId"`
		SnapshotSet itemList[ec2Snapshot] `xml:"snapshotSet"`
		NextToken   string                `xml:"nextToken,omitempty"`
	}{Xmlns: cl.svc.xmlns, RequestID: cl.reqID, SnapshotSet: itemList[ec2Snapshot]{page}, NextToken: next})
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
	ids := ec2List(cl.form, "VolumeId")
	filters := ec2Filters(cl.form)
	c := cl.c
	c.mu.Lock()
	a := c.st.accounts[cl.id.account]
	for _, id := range ids {
		cl.param("volumeId", id)
		if v := a.volumes[id]; v == nil || v.region != cl.region {
			c.mu.Unlock()
			return nil, errf(400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
		}
	}
	if e := ec2DryRun(cl); e != nil {
		c.mu.Unlock()
		return nil, e
	}
	var items []ec2Volume
	for _, v := range a.volumes {
		if v.region != cl.region || (len(ids) > 0 && !containsString(ids, v.id)) {
			continue
		}
		attrs := map[string]string{"volume-id": v.id, "status": "available", "availability-zone": v.az, "size": strconv.Itoa(v.size),
			"volume-type": "gp3", "encrypted": strconv.FormatBool(v.encrypted)}
		ok := true
		for _, f := range filters {
			if !f.matches(attrs, v.tags) {
				ok = false
				break
			}
		}
		if ok {
			items = append(items, ec2Volume{VolumeID: v.id, Size: v.size, AvailabilityZone: v.az, Status: "available",
				CreateTime: msTime(v.created), VolumeType: "gp3", Iops: 3000, Throughput: 125, Encrypted: v.encrypted, TagSet: ec2Tags(v.tags)})
		}
	}
	c.mu.Unlock()
	sort.Slice(items, func(i, j int) bool { return items[i].VolumeID < items[j].VolumeID })
	page, next, e := ec2Page(cl, items)
	if e != nil {
		return nil, e
	}
	return cl.ec2XML(struct {
		XMLName   xml.Name            `xml:"DescribeVolumesResponse"`
		Xmlns     string              `xml:"xmlns,attr"`
		RequestID string              `xml:"requestId"`
		VolumeSet itemList[ec2Volume] `xml:"volumeSet"`
		NextToken string              `xml:"nextToken,omitempty"`
	}{Xmlns: cl.svc.xmlns, RequestID: cl.reqID, VolumeSet: itemList[ec2Volume]{page}, NextToken: next})
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
	ids := ec2List(cl.form, "InstanceId")
	filters := ec2Filters(cl.form)
	c := cl.c
	c.mu.Lock()
	a := c.st.accounts[cl.id.account]
	for _, id := range ids {
		cl.param("instanceId", id)
		if in := a.instances[id]; in == nil || in.region != cl.region {
			c.mu.Unlock()
			return nil, errf(400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", truncate(id, 40))
		}
	}
	if e := ec2DryRun(cl); e != nil {
		c.mu.Unlock()
		return nil, e
	}
	var items []ec2Reservation
	for _, in := range a.instances {
		if in.region != cl.region || (len(ids) > 0 && !containsString(ids, in.id)) {
			continue
		}
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
		ok := true
		for _, f := range filters {
			if !f.matches(attrs, nil) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
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
			x.IamInstanceProfile = &ec2InstanceProfile{Arn: attrs["iam-instance-profile.arn"], ID: in.profileID}
		}
		items = append(items, ec2Reservation{ReservationID: "r-" + strings.TrimPrefix(in.id, "i-"), OwnerID: a.id,
			InstancesSet: itemList[ec2Instance]{[]ec2Instance{x}}})
	}
	c.mu.Unlock()
	sort.Slice(items, func(i, j int) bool {
		return items[i].InstancesSet.Items[0].InstanceID < items[j].InstancesSet.Items[0].InstanceID
	})
	page, next, e := ec2Page(cl, items)
	if e != nil {
		return nil, e
	}
	return cl.ec2XML(struct {
		XMLName        xml.Name                 `xml:"DescribeInstancesResponse"`
		Xmlns          string                   `xml:"xmlns,attr"`
		RequestID      string                   `xml:"requestId"`
		ReservationSet itemList[ec2Reservation] `xml:"reservationSet"`
		NextToken      string                   `xml:"nextToken,omitempty"`
	}{Xmlns: cl.svc.xmlns, RequestID: cl.reqID, ReservationSet: itemList[ec2Reservation]{page}, NextToken: next})
}
