package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

const good = `# the drill account's inventory
credentials:
  - provider: aws
    type: aws_access_key
    id: AKIADRILLEXPOSED0001
    principal: arn:aws:iam::111122223333:user/ci-deployer
    account: "111122223333"
    owner: alice@example.com
    team: platform
    secrets:
      - id: prod/ci-deployer/aws
        region: us-east-1
        account: "111122223333"
      - id: arn:aws:secretsmanager:eu-west-1:111122223333:secret:ci/backup-AbCdEf
        rotation: env:NEW_BACKUP_KEY
    services:
      - {name: ci-pipeline, criticality: high, notes: deploys production}
      - name: nightly-backup
  - provider: aws
    principal: arn:aws:iam::111122223333:user/batch
    owner: bob@example.com
    secrets: []
  - provider: anthropic
    id: key-123
    owner: ml-team@example.com
`

func TestParseAndLookup(t *testing.T) {
	inv, err := Parse("inv.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Entries) != 3 {
		t.Fatalf("entries = %d, want 3", len(inv.Entries))
	}
	tests := []struct {
		name  string
		cred  sever.Credential
		owner string
		ok    bool
	}{
		{"ByID", sever.Credential{Provider: "aws", ID: "AKIADRILLEXPOSED0001"}, "alice@example.com", true},
		{"ProviderCaseInsensitive", sever.Credential{Provider: "AWS", ID: "AKIADRILLEXPOSED0001"}, "alice@example.com", true},
		{"ByPrincipalARN", sever.Credential{Provider: "aws", ID: "AKIAOTHER", Principal: "arn:aws:iam::111122223333:user/batch"}, "bob@example.com", true},
		{"ByPrincipalName", sever.Credential{Provider: "aws", ID: "AKIAOTHER", Principal: "batch"}, "bob@example.com", true},
		{"PrincipalOtherAccount", sever.Credential{Provider: "aws", ID: "AKIAOTHER", Principal: "batch", Account: "999999999999"}, "bob@example.com", true},
		{"OtherProvider", sever.Credential{Provider: "openai", ID: "AKIADRILLEXPOSED0001"}, "", false},
		{"Unknown", sever.Credential{Provider: "aws", ID: "AKIAUNKNOWN"}, "", false},
		{"Anthropic", sever.Credential{Provider: "anthropic", ID: "key-123"}, "ml-team@example.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := inv.Lookup(tt.cred)
			if ok != tt.ok || e.Owner != tt.owner {
				t.Fatalf("Lookup = %+v, %v; want owner %q, %v", e, ok, tt.owner, tt.ok)
			}
		})
	}
	e, _ := inv.Lookup(sever.Credential{Provider: "aws", ID: "AKIADRILLEXPOSED0001"})
	if len(e.Secrets) != 2 || e.Secrets[1].Rotation != "env:NEW_BACKUP_KEY" || !e.SecretsListed || e.Line != 3 {
		t.Errorf("entry = %+v", e)
	}
	if r, a := SecretARNParts(e.Secrets[1].ID); r != "eu-west-1" || a != "111122223333" {
		t.Errorf("SecretARNParts = %q %q", r, a)
	}
	var nilInv *Inventory
	if _, ok := nilInv.Lookup(sever.Credential{Provider: "aws", ID: "x"}); ok {
		t.Error("nil inventory found an entry")
	}
}

func TestBlastRadius(t *testing.T) {
	inv, err := Parse("inv.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cred sever.Credential
		want string
	}{
		{"Full", sever.Credential{Provider: "aws", ID: "AKIADRILLEXPOSED0001"},
			"aws credential AKIADRILLEXPOSED0001 (arn:aws:iam::111122223333:user/ci-deployer in account 111122223333) is owned by alice@example.com (team platform). " +
				"Held in 2 secrets: prod/ci-deployer/aws (us-east-1, 111122223333), arn:aws:secretsmanager:eu-west-1:111122223333:secret:ci/backup-AbCdEf. " +
				"2 services depend on it: ci-pipeline (high), nightly-backup."},
		{"NoSecrets", sever.Credential{Provider: "aws", ID: "AKIAX", Principal: "batch"},
			"aws credential every key of arn:aws:iam::111122223333:user/batch is owned by bob@example.com. It is held in no secret. No dependent services are listed."},
		{"SecretsNotListed", sever.Credential{Provider: "anthropic", ID: "key-123"},
			"anthropic credential key-123 is owned by ml-team@example.com. The secrets that hold it are not listed. No dependent services are listed."},
		{"Unknown", sever.Credential{Provider: "aws", ID: "AKIAUNKNOWN"},
			"aws credential AKIAUNKNOWN is not in the inventory: owner, dependent secrets and services are unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inv.BlastRadius(tt.cred); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each must appear in the error text
	}{
		{"UnknownField", "credentials:\n  - provider: aws\n    id: AKIA1\n    owner: a\n    ownr: b\n",
			[]string{`x.yaml:5: credentials[0].ownr: unknown field (did you mean "owner"?)`}},
		{"MissingOwnerAndID", "credentials:\n  - provider: aws\n",
			[]string{"x.yaml:2: credentials[0].id: an id or a principal is required", "x.yaml:2: credentials[0].owner: required field is missing"}},
		{"UnquotedAccount", "credentials:\n  - {provider: aws, id: A, owner: o, account: 111122223333}\n",
			[]string{"x.yaml:2: credentials[0].account: must be a string"}},
		{"BadAccount", "credentials:\n  - {provider: aws, id: A, owner: o, account: \"12\"}\n",
			[]string{"credentials[0].account: must be a 12-digit AWS account id"}},
		{"BadType", "credentials:\n  - {provider: aws, id: A, owner: o, type: ssh_key}\n",
			[]string{"credentials[0].type: unknown credential type"}},
		{"InlineSecretValue", "credentials:\n  - provider: aws\n    id: A\n    owner: o\n    secrets:\n      - {id: s, rotation: wJalrXUtnFEMI/K7MDENG}\n",
			[]string{"x.yaml:6: credentials[0].secrets[0].rotation: must be generate, env:NAME or file:/path (never a secret value)"}},
		{"RelativeFile", "credentials:\n  - provider: aws\n    id: A\n    owner: o\n    secrets: [{id: s, rotation: \"file:key\"}]\n",
			[]string{"rotation: file: needs an absolute path"}},
		{"RegionMismatchARN", "credentials:\n  - provider: aws\n    id: A\n    owner: o\n    secrets:\n      - {id: \"arn:aws:secretsmanager:us-east-1:111122223333:secret:x\", region: eu-west-1}\n",
			[]string{"secrets[0].region: differs from the region in the secret's ARN"}},
		{"Duplicate", "credentials:\n  - {provider: aws, id: A, owner: o}\n  - {provider: aws, id: A, owner: p}\n",
			[]string{"x.yaml:3: credentials: the same credential is already listed at line 2"}},
		{"DuplicateKey", "credentials:\n  - provider: aws\n    provider: aws\n    id: A\n    owner: o\n",
			[]string{"x.yaml:3: credentials[0].provider: duplicate field (first at line 2)"}},
		{"Alias", "credentials:\n  - &e {provider: aws, id: A, owner: o}\n  - *e\n",
			[]string{"anchors and aliases are not supported"}},
		{"BadCriticality", "credentials:\n  - provider: aws\n    id: A\n    owner: o\n    services: [{name: ci, criticality: extreme}]\n",
			[]string{"services[0].criticality: must be one of low, medium, high, critical"}},
		{"TwoDocuments", "credentials: []\n---\ncredentials: []\n", []string{"x.yaml:3: only one YAML document is allowed"}},
		{"NotAMapping", "- a\n", []string{"x.yaml:1: top level must be a mapping"}},
		{"Syntax", "credentials: [\n", []string{"x.yaml:", "invalid YAML"}},
		{"EmptyOwner", "credentials:\n  - {provider: aws, id: A, owner: \"\"}\n", []string{"credentials[0].owner: must not be empty"}},
		{"EmptyItem", "credentials:\n  -\n", []string{"x.yaml:2: credentials[0]: empty list item"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse("x.yaml", []byte(tt.src))
			var errs Errors
			if inv != nil || !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, %v; want Errors", inv, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "wJalrXUtnFEMI") {
				t.Errorf("error repeats a value: %v", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	inv, err := Load("")
	if err != nil || len(inv.Entries) != 0 {
		t.Fatalf("Load(\"\") = %+v, %v", inv, err)
	}
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err = Load(path)
	if err != nil || len(inv.Entries) != 3 || inv.File != path {
		t.Fatalf("Load = %+v, %v", inv, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	empty, err := Parse("e.yaml", []byte("# nothing yet\n"))
	if err != nil || len(empty.Entries) != 0 {
		t.Errorf("comment-only file = %+v, %v", empty, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	for _, s := range []string{
		"credentials:\n  - &e {provider: aws, id: A, owner: o}\n  - *e\n",
		"credentials: {a: b}\n", "---\n---\n", "credentials:\n  - {? [a]: b}\n", "<<: {credentials: []}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		inv, err := Parse("fuzz.yaml", src)
		if (inv == nil) == (err == nil) {
			t.Fatalf("result and error disagree: %v, %v", inv, err)
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Message == "" {
					t.Fatalf("problem without file or message: %#v", e)
				}
			}
			return
		}
		for _, e := range inv.Entries {
			if e.Provider == "" || e.Owner == "" || e.ID == "" && e.Principal == "" {
				t.Fatalf("accepted an incomplete entry: %+v", e)
			}
			_ = e.BlastRadius()
			if got, ok := inv.Lookup(sever.Credential{Provider: e.Provider, ID: e.ID, Principal: e.Principal, Account: e.Account}); !ok || got.Provider == "" {
				t.Fatalf("entry %+v not found by its own fields", e)
			}
		}
	})
}

func TestExampleParses(t *testing.T) {
	inv, err := Load("../examples/inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Entries) != 3 {
		t.Fatalf("entries = %d", len(inv.Entries))
	}
	e, ok := inv.Lookup(sever.Credential{Provider: "aws", ID: "AKIANEWBATCHKEY00001", Principal: "batch-jobs", Account: "111122223333"})
	if !ok || e.Owner != "data-eng@example.com" || e.Secrets[0].Rotation != "file:/etc/sever/rotation/batch-aws.json" {
		t.Errorf("batch entry = %+v, %v", e, ok)
	}
}
