package awsact

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sever-ir/sever/config"
)

// Clients are the service clients for one account and region, all signed with the same
// credentials.
type Clients struct {
	Account        string // the account asked for; "" = whatever the ambient credentials belong to
	Region         string
	IAM            *iam.Client
	STS            *sts.Client
	SecretsManager *secretsmanager.Client
	CloudTrail     *cloudtrail.Client
	EC2            *ec2.Client
	S3             *s3.Client
	Bedrock        *bedrock.Client
}

// ClientSource hands out clients for an account and region. Account "" means sever's
// ambient credentials; region "" means the home region.
type ClientSource interface {
	Clients(ctx context.Context, account, region string) (*Clients, error)
}

// Endpoints overrides the endpoint of single services, over FactoryOptions.EndpointURL.
type Endpoints struct {
	IAM, STS, SecretsManager, CloudTrail, EC2, S3, Bedrock string
}

// AccountAccess is how sever gets credentials for one account.
type AccountAccess struct {
	RoleARN    string           // "" = the ambient credentials, which must belong to the account
	ExternalID config.SecretRef // sts:ExternalId; resolved when the role is first assumed
}

// FactoryOptions configure a Factory.
type FactoryOptions struct {
	Region         string // home region; "" = the SDK's chain, then us-east-1
	EndpointURL    string // base endpoint of every service (the drill cloud)
	Endpoints      Endpoints
	S3UsePathStyle bool
	Accounts       map[string]AccountAccess
	// MaxAttempts is the SDK's attempts per read call (default 3). Mutating calls are sent
	// once per activity attempt; see once below.
	MaxAttempts int
	// MaxBackoff caps the SDK's backoff between read attempts (default 2s), so its retries
	// stay well inside an activity's timeout.
	MaxBackoff time.Duration
	// MaxCachedClients bounds the clients kept per (account, region); the least
	// recently used are dropped past it. 0 means DefaultMaxCachedClients.
	MaxCachedClients int
	// Resolver resolves aws-sm: external ids; nil when none is used.
	Resolver config.SecretResolver
	// LoadBase returns the ambient configuration. Default: config.LoadDefaultConfig (env,
	// shared profiles, SSO, container and instance roles). Tests and drills pass the drill
	// cloud's configuration.
	LoadBase func(ctx context.Context) (aws.Config, error)
}

// Factory builds and caches clients from the standard credential chain plus, per
// account, an assumed role. It is safe for concurrent use.
type Factory struct {
	o FactoryOptions

	mu    sync.Mutex
	base  *aws.Config
	cache *lru[string, *Clients] // by account/region
}

var _ ClientSource = (*Factory)(nil)

// NewFactory returns a factory; nothing is loaded until the first Clients call.
func NewFactory(o FactoryOptions) *Factory {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = config.DefaultAWSMaxAttempts
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Second
	}
	if o.LoadBase == nil {
		region := o.Region
		o.LoadBase = func(ctx context.Context) (aws.Config, error) {
			var opts []func(*awsconfig.LoadOptions) error
			if region != "" {
				opts = append(opts, awsconfig.WithRegion(region))
			}
			return awsconfig.LoadDefaultConfig(ctx, opts...)
		}
	}
	if o.MaxCachedClients <= 0 {
		o.MaxCachedClients = DefaultMaxCachedClients
	}
	return &Factory{o: o, cache: newLRU[string, *Clients](o.MaxCachedClients)}
}

// FactoryFromConfig maps sever.yaml's aws section onto FactoryOptions.
func FactoryFromConfig(c config.AWSConfig, res config.SecretResolver) *Factory {
	accounts := make(map[string]AccountAccess, len(c.Accounts))
	for _, a := range c.Accounts {
		accounts[a.ID] = AccountAccess{RoleARN: a.RoleARN, ExternalID: a.ExternalID}
	}
	return NewFactory(FactoryOptions{
		Region: c.Region, EndpointURL: c.EndpointURL, S3UsePathStyle: c.S3UsePathStyle,
		Endpoints: Endpoints{IAM: c.Endpoints.IAM, STS: c.Endpoints.STS, SecretsManager: c.Endpoints.SecretsManager,
			CloudTrail: c.Endpoints.CloudTrail, EC2: c.Endpoints.EC2, S3: c.Endpoints.S3, Bedrock: c.Endpoints.Bedrock},
		Accounts: accounts, MaxAttempts: c.MaxAttempts, Resolver: res,
	})
}

// Clients returns the cached clients for (account, region), building them on first use.
// At most FactoryOptions.MaxCachedClients are kept: an account or region can come from
// a signal or a runbook, and a worker must not grow with every one it is shown.
func (f *Factory) Clients(ctx context.Context, account, region string) (*Clients, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	base, err := f.loadBase(ctx)
	if err != nil {
		return nil, err
	}
	if region == "" {
		region = base.Region
	}
	key := account + "/" + region
	if c, ok := f.cache.get(key); ok {
		return c, nil
	}
	cfg := base.Copy()
	cfg.Region = region
	if acct, ok := f.o.Accounts[account]; ok && acct.RoleARN != "" {
		var ext string
		if !acct.ExternalID.IsZero() {
			if ext, err = acct.ExternalID.Resolve(ctx, f.o.Resolver); err != nil {
				return nil, fmt.Errorf("aws: account %s: external id: %w", account, err)
			}
		}
		roleARN := acct.RoleARN
		stsClient := sts.NewFromConfig(base, func(o *sts.Options) { o.BaseEndpoint = f.endpoint(f.o.Endpoints.STS, o.BaseEndpoint) })
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, roleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "sever"
			if ext != "" {
				o.ExternalID = aws.String(ext)
			}
		}))
	}
	c := &Clients{
		Account: account, Region: region,
		IAM: iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = f.endpoint(f.o.Endpoints.IAM, o.BaseEndpoint) }),
		STS: sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = f.endpoint(f.o.Endpoints.STS, o.BaseEndpoint) }),
		SecretsManager: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			o.BaseEndpoint = f.endpoint(f.o.Endpoints.SecretsManager, o.BaseEndpoint)
		}),
		CloudTrail: cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) {
			o.BaseEndpoint = f.endpoint(f.o.Endpoints.CloudTrail, o.BaseEndpoint)
		}),
		EC2: ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = f.endpoint(f.o.Endpoints.EC2, o.BaseEndpoint) }),
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = f.endpoint(f.o.Endpoints.S3, o.BaseEndpoint)
			o.UsePathStyle = o.UsePathStyle || f.o.S3UsePathStyle
		}),
		Bedrock: bedrock.NewFromConfig(cfg, func(o *bedrock.Options) {
			o.BaseEndpoint = f.endpoint(f.o.Endpoints.Bedrock, o.BaseEndpoint)
		}),
	}
	f.cache.put(key, c)
	return c, nil
}

// loadBase loads the ambient configuration once; a failure is not cached, so a worker
// started before its credentials were in place recovers on the next activity.
func (f *Factory) loadBase(ctx context.Context) (aws.Config, error) {
	if f.base != nil {
		return *f.base, nil
	}
	cfg, err := f.o.LoadBase(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws: load credentials and region: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = f.o.Region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if f.o.EndpointURL != "" {
		cfg.BaseEndpoint = aws.String(f.o.EndpointURL)
	}
	maxAttempts, maxBackoff := f.o.MaxAttempts, f.o.MaxBackoff
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = maxBackoff
			// The client-side retry quota would turn a burst of throttling into
			// "retry quota exceeded" errors; Temporal's backoff already bounds the load.
			o.RateLimiter = ratelimit.None
		})
	}
	cfg.RetryMaxAttempts = 0
	f.base = &cfg
	return cfg, nil
}

func (f *Factory) endpoint(service string, current *string) *string {
	if service != "" {
		return aws.String(service)
	}
	return current
}
