// Package azureact holds the Azure actions: removing a Microsoft Entra
// application's client secret (Graph), turning off key authentication of an
// Azure OpenAI account or regenerating its keys (Azure Resource Manager), reading
// each back, and reading the read-only audit trails (Entra sign-in logs, the
// Azure activity log) as evidence.
//
// sever authenticates as its own Entra application through the standard
// credential chain (azidentity.DefaultAzureCredential: AZURE_TENANT_ID,
// AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or a certificate, workload identity or a
// managed identity), never with anything a signal carries. Graph and ARM are
// spoken over their REST APIs with net/http: the ARM SDK module for Cognitive
// Services is not needed for four calls, and REST keeps the dependency set to
// azidentity.
//
// No action ever holds a leaked secret. An Entra secret is named by its key id;
// an Azure OpenAI key by its account. The keys listKeys and regenerateKey return
// stay in the memory of the one call that compares them and are never returned,
// logged, put in an error or in evidence.
package azureact

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/activities/internal/restcall"
)

// Default endpoints and the token scopes of each (Azure public cloud).
const (
	DefaultGraphURL = "https://graph.microsoft.com"
	DefaultARMURL   = "https://management.azure.com"
	GraphScope      = "https://graph.microsoft.com/.default"
	ARMScope        = "https://management.azure.com/.default"
	// CognitiveServicesAPIVersion is the ARM API version of the
	// Microsoft.CognitiveServices/accounts calls.
	CognitiveServicesAPIVersion = "2024-10-01"
	// ActivityLogAPIVersion is the API version of the activity log
	// (Microsoft.Insights/eventtypes/management/values).
	ActivityLogAPIVersion = "2015-04-01"
)

// Error types of failures Temporal retries.
const (
	ErrThrottled   = "AzureThrottled"
	ErrUnavailable = "AzureUnavailable"
	// ErrToken is a failure to get a token from Entra that may pass (the token
	// endpoint or the network); a refused credential is AccessDenied instead.
	ErrToken = "AzureTokenUnavailable"
)

// maxBody bounds what is read of any Azure response.
const maxBody = 4 << 20

// Activities holds how sever reaches Azure. The zero value is production: the
// standard credential chain, the public cloud's Graph and ARM endpoints.
type Activities struct {
	// Credential gets sever's tokens; nil = azidentity.NewDefaultAzureCredential,
	// built on first use so a worker without Azure settings still starts.
	Credential azcore.TokenCredential
	// GraphURL and ARMURL are the API roots; "" = the public cloud's.
	GraphURL, ARMURL string
	// HTTP is the client of every Graph and ARM call; nil = one with a 30 s timeout.
	HTTP *http.Client
	// Now is the clock of evidence windows; nil = time.Now.
	Now func() time.Time

	once    sync.Once
	cred    azcore.TokenCredential
	credErr error
}

// Register registers the Azure actions under their catalog names.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionAzureEntraSignIns, a.SignInLogs)
	activities.Register(r, sever.ActionAzureEntraRemovePassword, a.RemovePassword)
	activities.Register(r, sever.ActionAzureEntraPasswordStatus, a.PasswordStatus)
	activities.Register(r, sever.ActionAzureActivityLog, a.ActivityLog)
	activities.Register(r, sever.ActionAzureOpenAIDisableLocalAuth, a.DisableLocalAuth)
	activities.Register(r, sever.ActionAzureOpenAIEnableLocalAuth, a.EnableLocalAuth)
	activities.Register(r, sever.ActionAzureOpenAIRegenerateKey, a.RegenerateKey)
	activities.Register(r, sever.ActionAzureOpenAILocalAuthStatus, a.LocalAuthStatus)
}

// Args are the arguments of the Azure actions.
type Args struct {
	Reason string `json:"reason"`
	// Expect is what a status action verifies: absent or present
	// (azure.entra.password_status), disabled or enabled
	// (azure.cognitiveservices.local_auth_status).
	Expect string `json:"expect"`
	// Key is what azure.cognitiveservices.regenerate_key regenerates: key1, key2 or
	// both (default).
	Key string `json:"key"`
	// Lookback is the evidence window ("24h", default 7 days); MaxEvents bounds it
	// (default 1000).
	Lookback  string `json:"lookback"`
	MaxEvents int    `json:"max_events"`
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) credential() (azcore.TokenCredential, error) {
	if a.Credential != nil {
		return a.Credential, nil
	}
	a.once.Do(func() { a.cred, a.credErr = azidentity.NewDefaultAzureCredential(nil) })
	return a.cred, a.credErr
}

func (a *Activities) httpClient() *http.Client {
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := *hc
	// Never follow a redirect: every call carries a bearer token, and no endpoint
	// used here redirects.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// session is one action call's view of Azure.
type session struct {
	a      *Activities
	action string
	cred   azcore.TokenCredential
	hc     *http.Client
	tokens map[string]string // scope → bearer token, for this call only
}

func (a *Activities) begin(ctx context.Context, in sever.ActionInput, want sever.CredentialType, args *Args) (*session, error) {
	if err := activities.DecodeArgs(in.Action, in.Args, args); err != nil {
		return nil, err
	}
	if in.Credential.Type != want {
		return nil, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf("%s: credential type %s is not %s",
			in.Action, in.Credential.Type, want), nil)
	}
	cred, err := a.credential()
	if err != nil {
		return nil, activities.Permanent(activities.ErrAccessDenied,
			in.Action+": sever has no Azure credential (set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or run with a workload or managed identity)", err)
	}
	return &session{a: a, action: in.Action, cred: cred, hc: a.httpClient(), tokens: map[string]string{}}, nil
}

// token gets a bearer token for scope from the credential chain.
func (s *session) token(ctx context.Context, scope string) (string, error) {
	if t, ok := s.tokens[scope]; ok {
		return t, nil
	}
	tk, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		op := s.action + ": get a token for " + scope
		var authErr *azidentity.AuthenticationFailedError
		if errors.As(err, &authErr) && authErr.RawResponse != nil {
			st := authErr.RawResponse.StatusCode
			if st == http.StatusTooManyRequests || st >= 500 {
				return "", retryable(ErrToken, fmt.Sprintf("%s: Entra answered %d", op, st))
			}
			// Entra's answer names the AADSTS error, never the secret.
			return "", activities.Permanent(activities.ErrAccessDenied, op, err)
		}
		// azidentity marks what retrying cannot fix (no source of the chain is
		// configured, authentication required) with NonRetriable.
		var final interface{ NonRetriable() }
		if errors.As(err, &final) {
			return "", activities.Permanent(activities.ErrAccessDenied, op, err)
		}
		return "", retryable(ErrToken, op+": "+err.Error())
	}
	s.tokens[scope] = tk.Token
	return tk.Token, nil
}

// do sends one authenticated request. Transport failures are retryable errors;
// statuses are the caller's to judge. Bodies are never put in an error.
func (s *session) do(ctx context.Context, op, method, url, scope string, body any) (int, []byte, error) {
	tok, err := s.token(ctx, scope)
	if err != nil {
		return 0, nil, err
	}
	return restcall.Do(ctx, s.hc, restcall.Request{Action: s.action, Op: op, Method: method, URL: url, Body: body, MaxBody: maxBody,
		Header: http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}})
}

// classify turns an unexpected status into an error: 429 and 5xx are retried, the
// rest are permanent. Only the error code and message of Azure's error envelope
// are quoted, bounded; callers pass a nil body for responses that could carry a key.
func (s *session) classify(op string, status int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	text := fmt.Sprintf("%s: %s: Azure answered %d %s %q", s.action, op, status, e.Error.Code, restcall.Bound(e.Error.Message))
	return restcall.Status(status, restcall.Retryable{Throttled: ErrThrottled, Unavailable: ErrUnavailable}, text)
}

// getJSON reads one resource: a status other than 200 is classified, and a body
// that does not decode or fails ok is an error that says it is not what (the
// decoder's error is not wrapped: it could quote the body).
func getJSON[T any](ctx context.Context, s *session, op, url, scope, what string, ok func(*T) bool) (*T, error) {
	st, body, err := s.do(ctx, op, http.MethodGet, url, scope, nil)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, s.classify(op, st, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil || !ok(&v) {
		return nil, fmt.Errorf("%s: %s: response is not %s", s.action, op, what)
	}
	return &v, nil
}

// retryable is an error of a stable type that Temporal retries.
func retryable(errType, msg string) error { return temporal.NewApplicationError(msg, errType) }

func (a *Activities) graphURL() string {
	if a.GraphURL != "" {
		return strings.TrimRight(a.GraphURL, "/")
	}
	return DefaultGraphURL
}

func (a *Activities) armURL() string {
	if a.ARMURL != "" {
		return strings.TrimRight(a.ARMURL, "/")
	}
	return DefaultARMURL
}

// window reads the evidence window and bound: since is the window's start, as
// the audit APIs' filters take it (RFC 3339, UTC).
func (a *Activities) window(action string, args Args) (since string, max int, err error) {
	lookback := 7 * 24 * time.Hour
	if args.Lookback != "" {
		d, err := time.ParseDuration(args.Lookback)
		if err != nil || d <= 0 || d > 90*24*time.Hour {
			return "", 0, activities.Permanent(activities.ErrInvalidArgument,
				fmt.Sprintf("%s: lookback %q is not a duration between 0 and 2160h", action, args.Lookback), nil)
		}
		lookback = d
	}
	max = args.MaxEvents
	if max == 0 {
		max = 1000
	}
	if max < 0 || max > 100000 {
		return "", 0, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: max_events %d is not between 1 and 100000", action, max), nil)
	}
	return a.now().Add(-lookback).UTC().Format(time.RFC3339), max, nil
}

// SecretCredential is azidentity's client-secret credential, what
// DefaultAzureCredential's environment source builds from AZURE_TENANT_ID,
// AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, sending its requests through hc (nil =
// the default client). Instance discovery is off: the authority is trusted as
// given, as for a private or sovereign cloud (and the drill cloud's twin).
func SecretCredential(tenant, clientID, secret string, hc *http.Client) (azcore.TokenCredential, error) {
	o := &azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true}
	if hc != nil {
		o.ClientOptions.Transport = hc
	}
	c, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, o)
	if err != nil {
		return nil, fmt.Errorf("azure client secret credential for application %s in tenant %s: %w", clientID, tenant, err)
	}
	return c, nil
}

// readPages follows a Graph or ARM collection from first, page by page, until it
// ends or holds max items (truncated then says so). Every next link must stay under
// base: a next link elsewhere would carry sever's bearer token off the API. Graph
// names the link "@odata.nextLink", ARM "nextLink"; both are read.
func readPages[T any](ctx context.Context, s *session, op, first, base, scope, what string, max int) (items []T, truncated bool, err error) {
	for next := first; next != ""; {
		if !strings.HasPrefix(next, base+"/") {
			return nil, false, activities.Permanent(activities.ErrInvalidArgument, s.action+": "+op+": next link leaves "+base, nil)
		}
		st, body, err := s.do(ctx, op, http.MethodGet, next, scope, nil)
		if err != nil {
			return nil, false, err
		}
		if st != http.StatusOK {
			return nil, false, s.classify(op, st, body)
		}
		var page struct {
			Value     []T    `json:"value"`
			ODataNext string `json:"@odata.nextLink"`
			ARMNext   string `json:"nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, false, fmt.Errorf("%s: %s: response is not a page of %s", s.action, op, what)
		}
		items = append(items, page.Value...)
		next = cmp.Or(page.ODataNext, page.ARMNext)
		if len(items) >= max {
			return items[:max], true, nil
		}
	}
	return items, false, nil
}
