package drillcloud

import (
	"encoding/xml"
	"testing"
	"time"
)

// TestDynamicXMLMatchesStructs checks that the results whose element names
// depend on the operation or principal kind marshal to the bytes of the fixed
// structs they replaced, so SDK parsers see no change.
func TestDynamicXMLMatchesStructs(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	user := newPrincipal("user", "ci<&>\"bot", "/svc/", "111122223333", created, nil, nil)
	role := newPrincipal("role", "ops", "", "111122223333", created, nil, nil)
	type userXML struct {
		Path       string
		UserName   string
		UserId     string
		Arn        string
		CreateDate isoTime
	}
	type roleXML struct {
		Path                     string
		RoleName                 string
		RoleId                   string
		Arn                      string
		CreateDate               isoTime
		AssumeRolePolicyDocument string
	}
	type volumesXML struct {
		XMLName   xml.Name            `xml:"DescribeVolumesResponse"`
		Xmlns     string              `xml:"xmlns,attr"`
		RequestID string              `xml:"requestId"`
		VolumeSet itemList[ec2Volume] `xml:"volumeSet"`
		NextToken string              `xml:"nextToken,omitempty"`
	}
	vol := ec2Volume{VolumeID: "vol-1", Size: 8, Status: "available", CreateTime: msTime(created)}
	cases := []struct {
		name      string
		got, want any
	}{
		{"GetUserPolicy", xmlElem{"GetUserPolicyResult", []xmlField{{"UserName", user.name}, {"PolicyName", "p"}, {"PolicyDocument", "%7B%7D"}}},
			struct {
				XMLName        xml.Name `xml:"GetUserPolicyResult"`
				UserName       string
				PolicyName     string
				PolicyDocument string
			}{UserName: user.name, PolicyName: "p", PolicyDocument: "%7B%7D"}},
		{"empty values", xmlElem{"GetRolePolicyResult", []xmlField{{"RoleName", ""}, {"PolicyName", ""}}},
			struct {
				XMLName    xml.Name `xml:"GetRolePolicyResult"`
				RoleName   string
				PolicyName string
			}{}},
		{"GetUser", iamPrincipalXML("GetUser", user), struct {
			XMLName xml.Name `xml:"GetUserResult"`
			User    userXML
		}{User: userXML{Path: user.path, UserName: user.name, UserId: user.id, Arn: user.arn, CreateDate: isoTime(created)}}},
		{"GetRole", iamPrincipalXML("GetRole", role), struct {
			XMLName xml.Name `xml:"GetRoleResult"`
			Role    roleXML
		}{Role: roleXML{Path: role.path, RoleName: role.name, RoleId: role.id, Arn: role.arn, CreateDate: isoTime(created),
			AssumeRolePolicyDocument: "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"}}},
		{"DescribeVolumes", ec2DescribeResponse[ec2Volume]{XMLName: xml.Name{Local: "DescribeVolumesResponse"}, Xmlns: "ns", RequestID: "r",
			Set: ec2Set[ec2Volume]{"volumeSet", []ec2Volume{vol}}, NextToken: "n"},
			volumesXML{Xmlns: "ns", RequestID: "r", VolumeSet: itemList[ec2Volume]{[]ec2Volume{vol}}, NextToken: "n"}},
		{"empty set", ec2DescribeResponse[ec2Volume]{XMLName: xml.Name{Local: "DescribeVolumesResponse"}, Set: ec2Set[ec2Volume]{name: "volumeSet"}},
			volumesXML{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := xml.Marshal(tc.got)
			if err != nil {
				t.Fatalf("marshal new form: %v", err)
			}
			want, err := xml.Marshal(tc.want)
			if err != nil {
				t.Fatalf("marshal old form: %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
