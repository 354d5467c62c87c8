package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/activities/githubact"
	"github.com/sever-ir/sever/activities/providers"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/inventory"
	"github.com/sever-ir/sever/ledger/worm"
	"github.com/sever-ir/sever/tokenstore"
)

// drillInventory is the inventory of drillcloud.DefaultSeed.
const drillInventory = `credentials:
  - provider: aws
    type: aws_access_key
    id: ` + drillcloud.DefaultCompromisedKeyID + `
    principal: arn:aws:iam::` + drillcloud.DefaultAccountID + `:user/` + drillcloud.DefaultCompromisedUser + `
    account: "` + drillcloud.DefaultAccountID + `"
    owner: platform-oncall@example.com
    team: platform
    secrets:
      - id: ` + drillcloud.DefaultSecretName + `
        region: ` + drillcloud.DefaultRegion + `
    services:
      - {name: ci-pipeline, criticality: high, notes: deploys every production service}
  - provider: anthropic
    type: anthropic_api_key
    id: ` + drillcloud.DefaultAnthropicKeyID + `
    owner: ml-platform@example.com
    team: ml
    secrets:
      # Provider keys live in AWS: name the secret's account, since the key's own
      # account (an Anthropic organization, an OpenAI project) is not an AWS account.
      - id: ` + drillcloud.DefaultAnthropicSecretName + `
        region: ` + drillcloud.DefaultRegion + `
        account: "` + drillcloud.DefaultAccountID + `"
    services:
      - {name: llm-gateway, criticality: high}
  - provider: openai
    type: openai_api_key
    id: ` + drillcloud.DefaultOpenAIKeyID + `
    account: ` + drillcloud.DefaultOpenAIProjectID + `
    owner: ml-platform@example.com
    team: ml
    secrets:
      - id: ` + drillcloud.DefaultOpenAISecretName + `
        region: ` + drillcloud.DefaultRegion + `
        account: "` + drillcloud.DefaultAccountID + `"
    services:
      - {name: llm-gateway, criticality: high}
`

// startDrillCloud runs the drill cloud on loopback and points every action family at
// it (AWS, the providers, GitHub, GCP, Azure, Vault), and the tokenstore.* actions at
// a store of the drill's own; only then are drill incidents allowed.
func (d *Dev) startDrillCloud(ctx context.Context, seedPath string, given *drillcloud.Seed) error {
	seed := drillcloud.DefaultSeed()
	if given != nil {
		seed = *given
	} else if seedPath != "" {
		var err error
		if seed, err = drillcloud.LoadSeed(seedPath); err != nil {
			return err
		}
	}
	cloud, err := drillcloud.New(seed, drillcloud.WithLogger(quiet(d.Logger)))
	if err != nil {
		return fmt.Errorf("drill cloud: %w", err)
	}
	if _, err := cloud.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("drill cloud: %w", err)
	}
	d.Cloud = cloud
	if d.Config.Inventory.Path == "" && seedPath == "" {
		// The default seed's secret holds the compromised key; say so, so the runbook
		// rotates it as it would in production.
		inv, err := inventory.Parse("drill inventory", []byte(drillInventory))
		if err != nil {
			return fmt.Errorf("drill inventory: %w", err)
		}
		d.Inventory = inv
	}
	f := awsact.NewFactory(awsact.FactoryOptions{S3UsePathStyle: true, Region: drillcloud.DefaultRegion,
		LoadBase: func(ctx context.Context) (aws.Config, error) {
			return cloud.AWSConfig(ctx, drillcloud.DefaultResponderKeyID)
		}})
	acts := awsact.New(f, d.Inventory)
	acts.EvidenceBucket = cmp.Or(d.Config.AWS.EvidenceBucket, drillcloud.DefaultEvidenceBucket)
	// Drill evidence need not outlive the drill: governance mode, one day.
	acts.EvidenceLockMode, acts.EvidenceRetention = "GOVERNANCE", 24*time.Hour
	d.AWS = acts
	clients, err := f.Clients(ctx, "", "")
	if err != nil {
		return fmt.Errorf("drill cloud clients: %w", err)
	}
	mirror, err := worm.New(clients.S3, worm.Options{Bucket: acts.EvidenceBucket, Prefix: worm.DefaultPrefix,
		LockMode: "GOVERNANCE", Retention: 24 * time.Hour})
	if err != nil {
		return fmt.Errorf("drill ledger copy: %w", err)
	}
	d.DrillMirror = mirror
	d.Providers = drillProviders(cloud, d.Config.Providers, d.Inventory)
	// sever.yaml's GitHub App revokes real tokens on real GitHub: the stack acts as
	// the twin's App instead, as it acts with the twins' keys for every other family.
	if app := d.Config.GitHub.AppID; app != "" {
		d.Logger.Info("drill cloud: github.* actions use the drill cloud's GitHub twin, not the GitHub App of sever.yaml", "app_id", app)
	}
	if d.GitHub, err = drillGitHub(cloud, d.Config.DataDir); err != nil {
		return err
	}
	// The configured token store (tokenstore.path, or PostgreSQL with database.url)
	// holds the enterprise's real tokens; tokenstore.* actions of this stack disable
	// tokens only in a store of its own (openState keeps it).
	d.Tokens = tokenstore.Open(filepath.Join(d.Config.DataDir, DrillTokenStoreFile))
	d.drillTokens = true
	if d.GCP, err = drillGCP(cloud); err != nil {
		return err
	}
	if d.Azure, err = drillAzure(cloud); err != nil {
		return err
	}
	d.Vault = drillVault(cloud, d.Config.DataDir)
	// Every action of this stack now runs against the drill cloud, so drill
	// incidents cannot reach production clients here.
	d.Drills = true
	return nil
}

// DrillTokenStoreFile is the token store of a stack on the drill cloud, in the data
// dir: the tokenstore.* actions there never reach the configured store.
const DrillTokenStoreFile = "drill-tokens.json"

// refuseDrills turns drill incidents off in a stack whose actions can reach a
// production client, and says which one at start, so a refused drill is explained
// before anyone tries one.
func (p *Parts) refuseDrills(client string) {
	p.Drills = false
	p.Logger.Warn("drill incidents refused: this stack's actions can reach a production client", "client", client)
}

// DevGitHubAppKeyFile holds sever dev's GitHub App private key (PKCS #1 PEM, 0600)
// in the data dir, for the drill cloud's GitHub twin.
const DevGitHubAppKeyFile = "github-app-key.pem"

// drillGitHub serves a GitHub twin on the drill cloud and points the github.*
// actions at it, whatever GitHub App sever.yaml names: the App's key pair is read
// from, or created in, the data dir like the other dev secrets, and its public
// half registered with the twin, as an App's key is registered with GitHub.
func drillGitHub(cloud *drillcloud.Cloud, dataDir string) (*githubact.Activities, error) {
	path := filepath.Join(dataDir, DevGitHubAppKeyFile)
	pemKey, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, gerr := rsa.GenerateKey(rand.Reader, 2048)
		if gerr != nil {
			return nil, fmt.Errorf("drill github app: generate key: %w", gerr)
		}
		pemKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err = os.MkdirAll(dataDir, 0o700); err == nil {
			err = os.WriteFile(path, pemKey, 0o600)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("drill github app key %s: %w", path, err)
	}
	key, err := githubact.ParsePrivateKey(pemKey)
	if err != nil {
		return nil, fmt.Errorf("drill github app key %s: %w", path, err)
	}
	twin := drillcloud.NewGitHubTwinForKey(&key.PublicKey)
	cloud.ServeGitHub(twin)
	return &githubact.Activities{BaseURL: cloud.URL(), AppID: twin.AppID, InstallationID: twin.InstallationID,
		PrivateKey: githubact.StaticKey(string(pemKey))}, nil
}

// drillProviders points the provider actions at the drill cloud with the admin key of
// each provider's first organization in the seed; a seed without one leaves that
// provider unconfigured, as an empty admin_key would.
func drillProviders(cloud *drillcloud.Cloud, c config.ProvidersConfig, inv *inventory.Inventory) *providers.Activities {
	p := &providers.Activities{Inventory: inv}
	if key, err := cloud.ProviderAdminKey(drillcloud.ProviderAnthropic, ""); err == nil {
		p.Anthropic = &providers.Anthropic{BaseURL: cloud.URL(), AdminKey: providers.StaticKey(key)}
	}
	if key, err := cloud.ProviderAdminKey(drillcloud.ProviderOpenAI, ""); err == nil {
		project := c.OpenAI.Project
		if orgs := cloud.ProviderOrgs(drillcloud.ProviderOpenAI); project == "" && len(orgs[0].Projects) > 0 {
			project = orgs[0].Projects[0]
		}
		p.OpenAI = &providers.OpenAI{BaseURL: cloud.URL(), AdminKey: providers.StaticKey(key), Project: project}
	}
	return p
}
