package iampolicy

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold       bool
		want       bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"iam:*", "iam:UpdateAccessKey", false, true},
		{"iam:*", "sts:AssumeRole", false, false},
		{"iam:Get*Policy", "iam:GetUserPolicy", false, true},
		{"iam:Get*Policy", "iam:GetUser", false, false},
		{"s3:?etObject", "s3:GetObject", false, true},
		{"arn:aws:s3:::b/sever/*", "arn:aws:s3:::b/sever/evidence/x", false, true},
		{"arn:aws:s3:::b/sever/*", "arn:aws:s3:::b2/sever/x", false, false},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"", "", false, true},
		{"", "x", false, false},
		{"*", "*0", false, true}, // a '*' in the string is a character, not a wildcard
		{"a*", "a*b", false, true},
		{"*a", "*ba", false, true}, // the drill cloud's former matcher took the '*' as a literal and failed
		{"IAM:getuser", "iam:GetUser", true, true},
		{"IAM:getuser", "iam:GetUser", false, false},
		{"arn:aws:iam::1:user/*", "arn:aws:iam::1:user/a/b", false, true}, // '/' is no separator
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s, tt.fold); got != tt.want {
			t.Errorf("Match(%q, %q, fold %v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		mode    Mode
		doc     string
		want    int    // statements, when no error
		wantErr string // substring of the error
	}{
		{"one statement as an object", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}`, 1, ""},
		{"a list", Identity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser"],"Resource":["*"]}]}`, 1, ""},
		{"an empty list", Lenient, `{"Statement":[]}`, 0, ""},
		{"NotAction and NotResource", Lenient, `{"Statement":[{"Effect":"Deny","NotAction":"s3:*","NotResource":"arn:aws:s3:::b/*"}]}`, 1, ""},
		{"conditions", Lenient, `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]}`, 1, ""},
		{"a principal, leniently", Lenient, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`, 1, ""},
		{"an unknown key, leniently", Lenient, `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Extra":1}]}`, 1, ""},
		{"not JSON", Lenient, `{`, 0, "not a policy document"},
		{"no statement", Identity, `{"Version":"2012-10-17"}`, 0, "no Statement"},
		{"a null statement", Lenient, `{"Statement":null}`, 0, "no Statement"},
		{"a statement of the wrong type", Lenient, `{"Statement":3}`, 0, "Statement:"},
		{"a bad effect", Identity, `{"Statement":[{"Sid":"S1","Effect":"allow","Action":"iam:GetUser","Resource":"*"}]}`, 0, `Statement[0] (S1): Effect "allow"`},
		{"an unknown key", Identity, `{"Version":"2012-10-17","Statment":[]}`, 0, "unknown field"},
		{"an unknown statement key", Identity, `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Extra":1}]}`, 0, "unknown field"},
		{"a principal in an identity policy", Identity, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`, 0, "Principal"},
		{"an action of the wrong type", Identity, `{"Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}`, 0, "string or a list"},
		{"no action", Lenient, `{"Statement":[{"Effect":"Deny","Resource":"*"}]}`, 0, "one of Action and NotAction"},
		{"both Action and NotAction", Lenient, `{"Statement":[{"Effect":"Deny","Action":"*","NotAction":"s3:*","Resource":"*"}]}`, 0, "one of Action and NotAction"},
		{"no resource", Identity, `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`, 0, "one of Resource and NotResource"},
		{"a condition of the wrong shape", Lenient, `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":true}}]}`, 0, "Statement[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.doc), tt.mode)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse: err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(doc.Statement) != tt.want {
				t.Fatalf("Parse: %d statements, want %d", len(doc.Statement), tt.want)
			}
		})
	}
}

func TestStatementMatches(t *testing.T) {
	doc, err := Parse([]byte(`{"Statement":[
		{"Effect":"Allow","Action":"iam:Get*","Resource":"arn:aws:iam::1:user/*"},
		{"Effect":"Deny","NotAction":"s3:*","NotResource":"arn:aws:s3:::keep/*"}]}`), Lenient)
	if err != nil {
		t.Fatal(err)
	}
	allow, deny := doc.Statement[0], doc.Statement[1]
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"action by wildcard, any case", allow.MatchesAction("IAM:GetUser"), true},
		{"another service", allow.MatchesAction("sts:GetCallerIdentity"), false},
		{"resource by wildcard", allow.MatchesResource("arn:aws:iam::1:user/alice"), true},
		{"resource case matters", allow.MatchesResource("ARN:aws:iam::1:user/alice"), false},
		{"NotAction excludes", deny.MatchesAction("s3:GetObject"), false},
		{"NotAction includes the rest", deny.MatchesAction("iam:GetUser"), true},
		{"NotResource excludes", deny.MatchesResource("arn:aws:s3:::keep/x"), false},
		{"NotResource includes the rest", deny.MatchesResource("arn:aws:s3:::other/x"), true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}`), true)
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","NotAction":["s3:*"],"Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"false"}}}]}`), false)
	f.Fuzz(func(t *testing.T, data []byte, identity bool) {
		mode := Lenient
		if identity {
			mode = Identity
		}
		doc, err := Parse(data, mode)
		if err != nil {
			return
		}
		for i, s := range doc.Statement {
			if s.Effect != "Allow" && s.Effect != "Deny" {
				t.Fatalf("Statement[%d] parsed with Effect %q", i, s.Effect)
			}
			if (len(s.Action) == 0) == (len(s.NotAction) == 0) || (len(s.Resource) == 0) == (len(s.NotResource) == 0) {
				t.Fatalf("Statement[%d] parsed without exactly one of each Action and Resource form", i)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("iam:*", "iam:GetUser")
	f.Add("a*b?c*", "aXbYcZ")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !Match("*", s, false) {
			t.Fatalf("* does not match %q", s)
		}
		if !strings.ContainsAny(s, "*?") && !Match(s, s, false) {
			t.Fatalf("%q does not match itself", s)
		}
		if !strings.ContainsAny(pattern, "*?") && Match(pattern, s, false) != (pattern == s) {
			t.Fatalf("Match(%q, %q) without wildcards must be equality", pattern, s)
		}
	})
}
