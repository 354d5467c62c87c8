package gcpact

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.temporal.io/sdk/temporal"
	apikeys "google.golang.org/api/apikeys/v2"
	"google.golang.org/api/googleapi"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// apiKeyNameRE is an API key's resource name; Google's API keys live in the
// "global" location.
var apiKeyNameRE = regexp.MustCompile(`^projects/([a-z][a-z0-9.:-]{3,61}[a-z0-9]|[0-9]{1,20})/locations/global/keys/([A-Za-z0-9-]{1,64})$`)

var errNotAPIKeyName = errors.New("the id is not an API key name (projects/<project>/locations/global/keys/<key id>)")

// ParseAPIKeyName checks a Google API key's resource name,
// "projects/<project>/locations/global/keys/<key id>". Its errors never quote s.
func ParseAPIKeyName(s string) (string, error) {
	s = strings.TrimPrefix(s, "//apikeys.googleapis.com/")
	if apiKeyNameRE.MatchString(s) {
		return s, nil
	}
	// The id is not quoted: a key string put where its name belongs is a secret.
	if strings.HasPrefix(s, "AIza") {
		return "", errors.New("the id looks like an API key string, which sever never takes as an id; give the key's name (projects/<project>/locations/global/keys/<key id>)")
	}
	return "", errNotAPIKeyName
}

func (a *Activities) apiKeysService(ctx context.Context, action string) (*apikeys.Service, error) {
	return client(ctx, a, &a.apikeys, apikeys.NewService, action, "build the API Keys client (Application Default Credentials)")
}

// beginAPIKey decodes the arguments and names the incident's API key.
func (a *Activities) beginAPIKey(ctx context.Context, in sever.ActionInput, args any) (*apikeys.Service, string, error) {
	if err := activities.DecodeArgs(in.Action, in.Args, args); err != nil {
		return nil, "", err
	}
	if in.Credential.Type != sever.CredGoogleAPIKey {
		return nil, "", activities.Permanent(activities.ErrUnsupported, fmt.Sprintf("%s: credential type %s is not a Google API key (want %s)",
			in.Action, in.Credential.Type, sever.CredGoogleAPIKey), nil)
	}
	name, err := ParseAPIKeyName(in.Credential.ID)
	if err != nil {
		return nil, "", activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	s, err := a.apiKeysService(ctx, in.Action)
	return s, name, err
}

// apiKeyFacts is what the actions report about an API key: never its key string.
func apiKeyFacts(name string, k *apikeys.V2Key) sever.Values {
	v := sever.Values{"key": name, "state": "absent"}
	if k == nil {
		return v
	}
	v["state"] = "active"
	if k.DeleteTime != "" {
		v["state"] = "deleted"
		v["delete_time"] = k.DeleteTime
	}
	v["display_name"] = k.DisplayName
	v["uid"] = k.Uid
	return v
}

func (a *Activities) getAPIKey(ctx context.Context, s *apikeys.Service, name string) (*apikeys.V2Key, error) {
	k, err := s.Projects.Locations.Keys.Get(name).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	k.KeyString = ""
	return k, nil
}

// DeleteAPIKey is gcp.apikeys.delete_key: it reads the key first and deletes it
// only when it is active, then reads it back and is verified when Google reports
// it deleted. Google keeps a deleted key for 30 days (UndeleteAPIKey).
func (a *Activities) DeleteAPIKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args ReasonArgs
	s, name, err := a.beginAPIKey(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res, err := a.changeAPIKey(ctx, in.Action, s, name, true, func() (*apikeys.Operation, error) {
		return s.Projects.Locations.Keys.Delete(name).Context(ctx).Do()
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	res.Summary = fmt.Sprintf("API key %s deleted; Google reports it %s (restorable for 30 days)", name, res.Output["state"])
	if !res.Changed {
		res.Summary = fmt.Sprintf("API key %s already deleted; not deleted again", name)
	}
	return res, nil
}

// UndeleteAPIKey is gcp.apikeys.undelete_key, the compensation of a false
// positive: it restores a deleted key and reads it back.
func (a *Activities) UndeleteAPIKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args ReasonArgs
	s, name, err := a.beginAPIKey(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res, err := a.changeAPIKey(ctx, in.Action, s, name, false, func() (*apikeys.Operation, error) {
		return s.Projects.Locations.Keys.Undelete(name, &apikeys.V2UndeleteKeyRequest{}).Context(ctx).Do()
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	res.Summary = fmt.Sprintf("API key %s restored", name)
	if !res.Changed {
		res.Summary = fmt.Sprintf("API key %s is not deleted; nothing to restore", name)
	}
	return res, nil
}

// APIKeyStatus is gcp.apikeys.key_status: verified when the key's state matches
// expect (deleted, the default, or active).
func (a *Activities) APIKeyStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args StatusArgs
	s, name, err := a.beginAPIKey(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	expect, err := activities.Expect(in.Action, args.Expect, "deleted", "active")
	if err != nil {
		return sever.ActionResult{}, err
	}
	k, err := a.getAPIKey(ctx, s, name)
	if err != nil && !isNotFound(err) {
		return sever.ActionResult{}, classify(in.Action, "get API key "+name, err)
	}
	out := apiKeyFacts(name, k)
	return sever.ActionResult{Verified: out["state"] == expect, Actor: a.actor(), Output: out,
		Summary: fmt.Sprintf("API key %s is %s (expected %s)", name, out["state"], expect)}, nil
}

// changeAPIKey reads API key name, deletes (deleted) or restores it with call
// unless it is so already, waits for Google's operation, then reads the
// key back. Only deleting records a heartbeat marker ("deleted <name>");
// restoring never recorded one, and sharing this code does not add it.
func (a *Activities) changeAPIKey(ctx context.Context, action string, s *apikeys.Service, name string,
	deleted bool, call func() (*apikeys.Operation, error)) (sever.ActionResult, error) {
	k, err := a.getAPIKey(ctx, s, name)
	if err != nil {
		return sever.ActionResult{}, classify(action, "get API key "+name, err)
	}
	verb, marker := "undelete", ""
	if deleted {
		verb, marker = "delete", "deleted "+name
	}
	res, back, err := change[*apikeys.V2Key]{action: action, what: "API key " + name, marker: marker,
		inPlace: func(k *apikeys.V2Key) bool { return (k.DeleteTime != "") == deleted },
		apply: func() error {
			op, err := call()
			if err != nil {
				return classify(action, verb+" API key "+name, err)
			}
			return a.waitOperation(ctx, s, action, verb+" API key "+name, op)
		},
		read: func() (*apikeys.V2Key, error) { return a.getAPIKey(ctx, s, name) },
	}.run(ctx, a.actor(), k)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res.Output = apiKeyFacts(name, back)
	return res, nil
}

// waitOperation waits for a long-running API Keys operation; an operation that is
// not done yet is a retryable error, and the retry's read-before-write finds
// whatever it did.
func (a *Activities) waitOperation(ctx context.Context, s *apikeys.Service, action, op string, o *apikeys.Operation) error {
	for range 5 {
		if o.Done {
			if o.Error != nil {
				return activities.Permanent(activities.ErrInvalidArgument,
					fmt.Sprintf("%s: %s: operation failed with code %d %q", action, op, o.Error.Code, o.Error.Message), nil)
			}
			return nil
		}
		var err error
		if o, err = s.Operations.Get(o.Name).Context(ctx).Do(); err != nil {
			return classify(action, op+": poll operation", err)
		}
	}
	return retryableErr(ErrUnavailable, fmt.Sprintf("%s: %s: operation %s not done yet", action, op, o.Name))
}

// ErrAPIKeyUnknown is the error type of LookupAPIKeyName when Google knows no key
// by the string that sever's credentials can see (deleted, never existed, or in
// another project): permanent.
const ErrAPIKeyUnknown = "GCPAPIKeyUnknown"

// IsAPIKeyUnknown reports whether err is LookupAPIKeyName's ErrAPIKeyUnknown.
func IsAPIKeyUnknown(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == ErrAPIKeyUnknown
}

// LookupAPIKeyName maps a Google API key's key string to the key's resource name
// (API Keys keys.lookupKey), for the intake that received the string: the string
// stays in this call, travels only in the request to Google, and is never
// returned, logged or put in an error (lookupKey takes it in the query string, so
// transport errors, which quote the URL, are replaced).
func (a *Activities) LookupAPIKeyName(ctx context.Context, keyString string) (string, error) {
	const action = "gcp.apikeys.lookup_key"
	if keyString == "" {
		return "", activities.Permanent(activities.ErrInvalidArgument, action+": no key string", nil)
	}
	s, err := a.apiKeysService(ctx, action)
	if err != nil {
		return "", err
	}
	resp, err := s.Keys.LookupKey().KeyString(keyString).Context(ctx).Do()
	keyString = ""
	if err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) {
			// Google does not know the key, or it is in a project sever's credentials
			// cannot see: a permanent answer about this key, not a failure of sever.
			if ge.Code == 404 || ge.Code == 403 {
				return "", activities.Permanent(ErrAPIKeyUnknown, fmt.Sprintf(
					"%s: look up an API key: Google answered %d: no key sever's credentials can see has this key string", action, ge.Code), nil)
			}
			// Google's message is about the key, never echoes it; withheld anyway.
			return "", classify(action, "look up an API key", &googleapi.Error{Code: ge.Code, Message: "(message withheld)"})
		}
		return "", retryableErr(ErrUnavailable, action+": look up an API key: the request to Google failed")
	}
	name, err := ParseAPIKeyName(resp.Name)
	if err != nil {
		return "", activities.Permanent(activities.ErrInvalidArgument, action+": Google's answer", err)
	}
	return name, nil
}
