package config

import (
	"testing"
	"time"
)

func TestLedgerS3Accepts(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       LedgerS3Config
	}{
		{"defaults", "", nil, LedgerS3Config{Prefix: "sever-ledger/", Retention: 8760 * time.Hour, LockMode: "COMPLIANCE"}},
		{"file", "ledger:\n  s3:\n    bucket: acme-ledger\n    prefix: prod/sever-ledger/\n    retention: 24h\n    lock_mode: GOVERNANCE\n    region: eu-west-1\n", nil,
			LedgerS3Config{Bucket: "acme-ledger", Prefix: "prod/sever-ledger/", Retention: 24 * time.Hour, LockMode: "GOVERNANCE", Region: "eu-west-1"}},
		{"bucket root", "ledger:\n  s3:\n    bucket: acme-ledger\n    prefix: ''\n", nil,
			LedgerS3Config{Bucket: "acme-ledger", Retention: 8760 * time.Hour, LockMode: "COMPLIANCE"}},
		{"environment", "", map[string]string{"SEVER_LEDGER_S3_BUCKET": "acme-ledger", "SEVER_LEDGER_S3_RETENTION": "48h", "SEVER_LEDGER_S3_LOCK_MODE": "GOVERNANCE"},
			LedgerS3Config{Bucket: "acme-ledger", Prefix: "sever-ledger/", Retention: 48 * time.Hour, LockMode: "GOVERNANCE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Parse("sever.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if c.Ledger.S3 != tc.want {
				t.Errorf("ledger.s3 = %+v, want %+v", c.Ledger.S3, tc.want)
			}
		})
	}
}
