package azureact

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// ErrNotApplied is a read-back that does not yet show ARM's change: an account
// update may still be provisioning. Temporal retries it.
const ErrNotApplied = "AzureChangeNotApplied"

// accountIDRE is an Azure OpenAI (Cognitive Services) account's ARM resource id.
// Segment names are matched case-insensitively, as ARM does.
var accountIDRE = regexp.MustCompile(`(?i)^/subscriptions/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/resourceGroups/([-\w._()]{1,90})/providers/Microsoft\.CognitiveServices/accounts/([A-Za-z0-9][A-Za-z0-9_.-]{1,63})$`)

// Account is an Azure OpenAI account named by its ARM resource id.
type Account struct{ Subscription, ResourceGroup, Name string }

// ID is the account's canonical ARM resource id.
func (ac Account) ID() string {
	return "/subscriptions/" + ac.Subscription + "/resourceGroups/" + ac.ResourceGroup +
		"/providers/Microsoft.CognitiveServices/accounts/" + ac.Name
}

// ParseAccountID reads an azure_openai_key incident's credential id:
// "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.CognitiveServices/accounts/<name>".
func ParseAccountID(id string) (Account, error) {
	m := accountIDRE.FindStringSubmatch(id)
	if m == nil || strings.HasSuffix(m[2], ".") {
		return Account{}, fmt.Errorf("credential id %q is not the ARM resource id of a Microsoft.CognitiveServices account", id)
	}
	return Account{Subscription: strings.ToLower(m[1]), ResourceGroup: m[2], Name: m[3]}, nil
}

// account is the part of a Cognitive Services account the actions read.
type account struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Properties struct {
		DisableLocalAuth  bool   `json:"disableLocalAuth"`
		ProvisioningState string `json:"provisioningState"`
		Endpoint          string `json:"endpoint"`
	} `json:"properties"`
}

func (ac *account) facts() sever.Values {
	return sever.Values{"account": ac.ID, "kind": ac.Kind, "disable_local_auth": ac.Properties.DisableLocalAuth,
		"provisioning_state": ac.Properties.ProvisioningState}
}

func (s *session) accountURL(ac Account, suffix string) string {
	p := "/subscriptions/" + url.PathEscape(ac.Subscription) + "/resourceGroups/" + url.PathEscape(ac.ResourceGroup) +
		"/providers/Microsoft.CognitiveServices/accounts/" + url.PathEscape(ac.Name) + suffix
	return s.a.armURL() + p + "?api-version=" + CognitiveServicesAPIVersion
}

func (s *session) getAccount(ctx context.Context, ac Account) (*account, error) {
	return getJSON(ctx, s, "get account "+ac.ID(), s.accountURL(ac, ""), ARMScope,
		"an account", func(out *account) bool { return out.ID != "" })
}

func (a *Activities) beginAccount(ctx context.Context, in sever.ActionInput, args *Args) (*session, Account, error) {
	s, err := a.begin(ctx, in, sever.CredAzureOpenAIKey, args)
	if err != nil {
		return nil, Account{}, err
	}
	ac, err := ParseAccountID(in.Credential.ID)
	if err != nil {
		return nil, Account{}, activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	return s, ac, nil
}

// setLocalAuth reads the account and, unless disableLocalAuth already is disable,
// patches it, then reads it back.
func (a *Activities) setLocalAuth(ctx context.Context, in sever.ActionInput, disable bool) (sever.ActionResult, error) {
	var args Args
	s, ac, err := a.beginAccount(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	cur, err := s.getAccount(ctx, ac)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res := sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Actor: actor()}
	if cur.Properties.DisableLocalAuth != disable {
		op := fmt.Sprintf("set disableLocalAuth=%t on account %s", disable, ac.ID())
		st, body, err := s.do(ctx, op, http.MethodPatch, s.accountURL(ac, ""), ARMScope,
			map[string]any{"properties": map[string]any{"disableLocalAuth": disable}})
		if err != nil {
			return sever.ActionResult{}, err
		}
		if st != http.StatusOK && st != http.StatusAccepted {
			return sever.ActionResult{}, s.classify(op, st, body)
		}
		res.Changed = true
		activities.RecordHeartbeat(ctx, op)
	}
	back, err := s.getAccount(ctx, ac)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if back.Properties.DisableLocalAuth != disable {
		// ARM accepted the update but the account does not show it yet.
		return sever.ActionResult{}, retryable(ErrNotApplied, fmt.Sprintf("%s: account %s reads back disableLocalAuth=%t (provisioning %s)",
			in.Action, ac.ID(), back.Properties.DisableLocalAuth, back.Properties.ProvisioningState))
	}
	res.Output = back.facts()
	res.Verified = true
	word := "disabled"
	if !disable {
		word = "enabled"
	}
	res.Summary = fmt.Sprintf("key authentication of account %s %s; ARM reads back disableLocalAuth=%t", ac.Name, word, disable)
	if !res.Changed {
		res.Summary = fmt.Sprintf("key authentication of account %s already %s; not changed", ac.Name, word)
	}
	return res, nil
}

// DisableLocalAuth is azure.cognitiveservices.disable_local_auth: it sets
// disableLocalAuth=true on the account, so the service refuses every API key of
// it (Entra tokens still work), and reads it back. Reversible with
// EnableLocalAuth; the keys themselves are unchanged.
func (a *Activities) DisableLocalAuth(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.setLocalAuth(ctx, in, true)
}

// EnableLocalAuth is azure.cognitiveservices.enable_local_auth, the compensation
// of DisableLocalAuth.
func (a *Activities) EnableLocalAuth(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.setLocalAuth(ctx, in, false)
}

// LocalAuthStatus is azure.cognitiveservices.local_auth_status: verified when the
// account's disableLocalAuth matches expect (disabled, the default, or enabled).
func (a *Activities) LocalAuthStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, ac, err := a.beginAccount(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	expect, err := activities.Expect(in.Action, args.Expect, "disabled", "enabled")
	if err != nil {
		return sever.ActionResult{}, err
	}
	cur, err := s.getAccount(ctx, ac)
	if err != nil {
		return sever.ActionResult{}, err
	}
	state := "enabled"
	if cur.Properties.DisableLocalAuth {
		state = "disabled"
	}
	return sever.ActionResult{Verified: state == expect, Actor: actor(), Output: cur.facts(),
		Summary: fmt.Sprintf("key authentication of account %s is %s", ac.Name, state)}, nil
}

// keys is listKeys' and regenerateKey's answer. Both values are secrets: they
// stay in the call that compares them.
type keys struct {
	Key1 string `json:"key1"`
	Key2 string `json:"key2"`
}

func (k *keys) get(name string) string {
	if name == "Key1" {
		return k.Key1
	}
	return k.Key2
}

func (k *keys) clear() { k.Key1, k.Key2 = "", "" }

// keysCall posts to listKeys or regenerateKey. An error status is classified
// without its body, which never carries a key but need not be read.
func (s *session) keysCall(ctx context.Context, op, u string, body any) (keys, error) {
	st, b, err := s.do(ctx, op, http.MethodPost, u, ARMScope, body)
	if err != nil {
		return keys{}, err
	}
	if st != http.StatusOK {
		return keys{}, s.classify(op, st, nil)
	}
	var k keys
	if err := json.Unmarshal(b, &k); err != nil || k.Key1 == "" || k.Key2 == "" {
		// The decoder's error could quote a key: never wrap it.
		return keys{}, fmt.Errorf("%s: %s: response is not a pair of keys", s.action, op)
	}
	clear(b)
	return k, nil
}

// RegenerateKey is azure.cognitiveservices.regenerate_key: it lists the keys,
// regenerates Key1, Key2 or both (args.key; default both, since a leak rarely says
// which), lists them again and is verified when every regenerated key differs from
// before. The old key stops working at once; whatever used it needs the new one.
// It cannot be undone. A retry regenerates again, which is harmless: only the
// comparison within one call is trusted, and no key is ever recorded.
func (a *Activities) RegenerateKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, ac, err := a.beginAccount(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	var names []string
	switch strings.ToLower(args.Key) {
	case "", "both":
		names = []string{"Key1", "Key2"}
	case "key1":
		names = []string{"Key1"}
	case "key2":
		names = []string{"Key2"}
	default:
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: key %q is not key1, key2 or both", in.Action, args.Key), nil)
	}
	before, err := s.keysCall(ctx, "list keys of account "+ac.ID(), s.accountURL(ac, "/listKeys"), nil)
	if err != nil {
		return sever.ActionResult{}, err
	}
	defer before.clear()
	for _, n := range names {
		op := fmt.Sprintf("regenerate %s of account %s", n, ac.ID())
		k, err := s.keysCall(ctx, op, s.accountURL(ac, "/regenerateKey"), map[string]string{"keyName": n})
		k.clear()
		if err != nil {
			return sever.ActionResult{}, err
		}
		activities.RecordHeartbeat(ctx, "regenerated "+n)
	}
	after, err := s.keysCall(ctx, "list keys of account "+ac.ID(), s.accountURL(ac, "/listKeys"), nil)
	if err != nil {
		return sever.ActionResult{}, err
	}
	defer after.clear()
	changed := map[string]bool{}
	verified := true
	for _, n := range names {
		changed[n] = subtle.ConstantTimeCompare([]byte(before.get(n)), []byte(after.get(n))) == 0
		verified = verified && changed[n]
	}
	out := sever.Values{"account": ac.ID(), "regenerated": names}
	for _, n := range names {
		out[strings.ToLower(n)+"_changed"] = changed[n]
	}
	summary := fmt.Sprintf("%s of account %s regenerated; listKeys shows them changed", strings.Join(names, " and "), ac.Name)
	if !verified {
		summary = fmt.Sprintf("%s of account %s regenerated, but listKeys does not show every one changed", strings.Join(names, " and "), ac.Name)
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Actor: actor(), Changed: true, Verified: verified,
		Output: out, Summary: summary}, nil
}

// activityEvent is the part of an activity log event kept as evidence.
type activityEvent struct {
	EventDataID    string `json:"eventDataId"`
	EventTimestamp string `json:"eventTimestamp"`
	Caller         string `json:"caller"`
	OperationName  struct {
		Value string `json:"value"`
	} `json:"operationName"`
	Status struct {
		Value string `json:"value"`
	} `json:"status"`
	HTTPRequest struct {
		ClientIPAddress string `json:"clientIpAddress"`
	} `json:"httpRequest"`
	ResourceID string `json:"resourceId"`
}

// ActivityLog is azure.monitor.activity_log: it reads the account's activity
// log over the lookback (management-plane events: key listings and
// regenerations, account updates, deployments; read-only, Reader) and records
// their SHA-256 as evidence, with the count and the operations seen.
func (a *Activities) ActivityLog(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, ac, err := a.beginAccount(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	since, max, err := a.window(in.Action, args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	filter := fmt.Sprintf("eventTimestamp ge '%s' and resourceUri eq '%s'", since, ac.ID())
	next := s.a.armURL() + "/subscriptions/" + url.PathEscape(ac.Subscription) +
		"/providers/Microsoft.Insights/eventtypes/management/values?api-version=" + ActivityLogAPIVersion + "&$filter=" + url.QueryEscape(filter)
	events, truncated, err := readPages[activityEvent](ctx, s, "read the activity log of account "+ac.ID(), next, s.a.armURL(), ARMScope, "events", max)
	if err != nil {
		return sever.ActionResult{}, err
	}
	slices.SortFunc(events, func(x, y activityEvent) int {
		return strings.Compare(x.EventTimestamp+x.EventDataID, y.EventTimestamp+y.EventDataID)
	})
	var ops []string
	for _, e := range events {
		if v := e.OperationName.Value; v != "" && !slices.Contains(ops, v) {
			ops = append(ops, v)
		}
	}
	doc, err := json.Marshal(map[string]any{"account": ac.ID(), "since": since, "events": events})
	if err != nil {
		return sever.ActionResult{}, fmt.Errorf("%s: encode evidence: %w", in.Action, err)
	}
	summary := fmt.Sprintf("%d activity log events of account %s since %s", len(events), ac.Name, since)
	if truncated {
		summary += fmt.Sprintf(" (stopped at max_events %d)", max)
	}
	return sever.ActionResult{Verified: true, Actor: actor(), Summary: summary,
		Output:   sever.Values{"events": len(events), "operations": ops, "since": since},
		Evidence: []sever.Artifact{{Name: "azure-activity-log-" + ac.Name + ".json", SHA256: sever.SHA256Hex(doc), Size: int64(len(doc))}}}, nil
}
