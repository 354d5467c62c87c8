package app

import (
	"path/filepath"

	"github.com/sever-ir/sever/activities/vaultact"
	"github.com/sever-ir/sever/drillcloud"
)

// DevVaultAuditFile is the drill Vault's file audit device log, in the data dir.
const DevVaultAuditFile = "vault-audit.log"

// drillVault serves a Vault twin on the drill cloud, with a compromised token
// (accessor drillcloud.DefaultVaultAccessor) for drills, and points the vault.*
// actions at it with the twin's responder token, as VAULT_ADDR and VAULT_TOKEN
// would in production. Its audit device writes to the data dir, where the
// audit action reads it.
func drillVault(cloud *drillcloud.Cloud, dataDir string) *vaultact.Activities {
	twin, responder := drillcloud.NewVaultTwin(filepath.Join(dataDir, DevVaultAuditFile))
	twin.AddToken(drillcloud.TokenSpec{Accessor: drillcloud.DefaultVaultAccessor, DisplayName: "ci-deployer",
		Policies: []string{"deploy"}})
	cloud.ServeVault(twin)
	return &vaultact.Activities{Address: cloud.URL(), Token: vaultact.StaticToken(responder)}
}
