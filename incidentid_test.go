package sever

import (
	"strings"
	"testing"
)

// The credential's type is part of the incident's identity, so a weaker-typed signal
// cannot squat on the incident a stronger-typed one opens (issue 11 item 4).
func TestIncidentIDIncludesType(t *testing.T) {
	key := Credential{Provider: "aws", Type: CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"}
	generic := key
	generic.Type = CredGenericToken
	tests := []struct {
		name string
		a, b Credential
		same bool
	}{
		{"same credential", key, key, true},
		{"principal and account are not identity", key, Credential{Provider: "aws", Type: CredAWSAccessKey, ID: key.ID, Principal: "x", Account: "1"}, true},
		{"provider case does not matter", key, Credential{Provider: "AWS", Type: CredAWSAccessKey, ID: key.ID}, true},
		{"same key, another type", key, generic, false},
		{"same key, another provider", key, Credential{Provider: "gcp", Type: CredAWSAccessKey, ID: key.ID}, false},
		{"ID case matters", key, Credential{Provider: "aws", Type: CredAWSAccessKey, ID: strings.ToLower(key.ID)}, false},
	}
	for _, tt := range tests {
		a, b := IncidentID(tt.a), IncidentID(tt.b)
		if (a == b) != tt.same {
			t.Errorf("%s: %s vs %s, want same = %v", tt.name, a, b, tt.same)
		}
		if !strings.HasPrefix(a, "inc-aws-") && tt.a.Provider == "aws" {
			t.Errorf("%s: %s does not start with inc-aws-", tt.name, a)
		}
	}
}
