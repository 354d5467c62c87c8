// Package tokens holds the actions on the enterprise token store (generic_token):
// disable with read-back, re-enable as compensation, status read, and observation of
// what the issuing vendor did on its own.
package tokens

import (
	"context"
	"errors"
	"fmt"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/tokenstore"
)

// Store is the part of the token store the actions use.
type Store interface {
	Get(id string) (tokenstore.Token, error)
	SetStatus(id, status, key, by, reason string) (tokenstore.Token, bool, error)
}

// Activities holds the token store. Stores maps a named store (the `store` argument)
// to its client; "" is the default store.
type Activities struct {
	Stores map[string]Store
}

// Register registers the token actions under their catalog names.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionTokenDisable, a.Disable)
	activities.Register(r, sever.ActionTokenEnable, a.Enable)
	activities.Register(r, sever.ActionTokenStatus, a.Status)
	activities.Register(r, sever.ActionTokenVendorSeen, a.ObserveVendor)
}

// ChangeArgs are the arguments of disable_token and enable_token.
type ChangeArgs struct {
	Store  string `json:"store"`
	Reason string `json:"reason"`
}

// StatusArgs are the arguments of token_status.
type StatusArgs struct {
	Store  string `json:"store"`
	Expect string `json:"expect"`
}

// ObserveArgs are the arguments of observe_vendor_state.
type ObserveArgs struct {
	Store string `json:"store"`
}

func (a *Activities) store(action, name string) (Store, error) {
	s, ok := a.Stores[name]
	if !ok {
		return nil, activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf("%s: no token store named %q is configured", action, name), nil)
	}
	return s, nil
}

// prepare decodes an action's arguments into args, checks that the credential lives
// in a token store, and finds the store that storeName (a field of args) names.
func (a *Activities) prepare(in sever.ActionInput, args any, storeName *string) (Store, error) {
	if err := activities.DecodeArgs(in.Action, in.Args, args); err != nil {
		return nil, err
	}
	if err := checkType(in); err != nil {
		return nil, err
	}
	return a.store(in.Action, *storeName)
}

func checkType(in sever.ActionInput) error {
	if in.Credential.Type != sever.CredGenericToken {
		return activities.Permanent(activities.ErrUnsupported,
			fmt.Sprintf("%s: credential type %s is not held in the token store (want %s)", in.Action, in.Credential.Type, sever.CredGenericToken), nil)
	}
	return nil
}

func mapErr(action, id string, err error) error {
	if errors.Is(err, tokenstore.ErrNotFound) {
		return activities.Permanent(activities.ErrNotFound, fmt.Sprintf("%s: token %s", action, id), err)
	}
	return fmt.Errorf("%s: token %s: %w", action, id, err)
}

// Disable sets the token inactive with the enterprise's authority, then reads the
// store back: the step is verified only when the read-back shows it inactive.
func (a *Activities) Disable(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.set(in, tokenstore.Inactive)
}

// Enable re-activates a token; it is the compensation of Disable for false positives.
func (a *Activities) Enable(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.set(in, tokenstore.Active)
}

func (a *Activities) set(in sever.ActionInput, status string) (sever.ActionResult, error) {
	var args ChangeArgs
	s, err := a.prepare(in, &args, &args.Store)
	if err != nil {
		return sever.ActionResult{}, err
	}
	reason := args.Reason
	if reason == "" {
		reason = "incident " + in.IncidentID
	}
	_, changed, err := s.SetStatus(in.Credential.ID, status, in.IdempotencyKey, "sever", reason)
	if err != nil {
		return sever.ActionResult{}, mapErr(in.Action, in.Credential.ID, err)
	}
	back, err := s.Get(in.Credential.ID)
	if err != nil {
		return sever.ActionResult{}, mapErr(in.Action+" read-back", in.Credential.ID, err)
	}
	summary := fmt.Sprintf("token %s set %s", in.Credential.ID, status)
	if !changed {
		summary = fmt.Sprintf("token %s was already %s", in.Credential.ID, status)
	}
	return sever.ActionResult{
		Enforcement: sever.EnterpriseEnforced, Verified: back.Status == status, Actor: "sever",
		Summary: summary, Changed: changed,
		Output: sever.Values{"status": back.Status, "updated_by": back.UpdatedBy},
	}, nil
}

// Status reads the token's state; verified when it equals Expect (default inactive).
func (a *Activities) Status(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args StatusArgs
	s, err := a.prepare(in, &args, &args.Store)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if args.Expect == "" {
		args.Expect = tokenstore.Inactive
	}
	if args.Expect != tokenstore.Active && args.Expect != tokenstore.Inactive {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: expect %q: want active or inactive", in.Action, args.Expect), nil)
	}
	tok, err := s.Get(in.Credential.ID)
	if err != nil {
		return sever.ActionResult{}, mapErr(in.Action, in.Credential.ID, err)
	}
	return sever.ActionResult{
		Verified: tok.Status == args.Expect, Actor: "sever",
		Summary: fmt.Sprintf("token %s is %s (expected %s)", tok.ID, tok.Status, args.Expect),
		Output:  sever.Values{"status": tok.Status},
	}, nil
}

// ObserveVendor records vendor_enforced only when the vendor's own state shows it
// disabled the token; a vendor that did nothing leaves the enforcement empty.
func (a *Activities) ObserveVendor(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args ObserveArgs
	s, err := a.prepare(in, &args, &args.Store)
	if err != nil {
		return sever.ActionResult{}, err
	}
	tok, err := s.Get(in.Credential.ID)
	if err != nil {
		return sever.ActionResult{}, mapErr(in.Action, in.Credential.ID, err)
	}
	res := sever.ActionResult{Actor: "sever", Output: sever.Values{"vendor_status": tok.VendorStatus},
		Summary: "vendor has not acted on token " + tok.ID}
	if tok.VendorStatus == tokenstore.Inactive {
		// The vendor is the actor of record for what it did; sever only observed it.
		res.Enforcement, res.Verified, res.Actor = sever.VendorEnforced, true, "vendor:"+in.Credential.Provider
		res.Summary = "vendor disabled token " + tok.ID + " on its own"
	}
	return res, nil
}
