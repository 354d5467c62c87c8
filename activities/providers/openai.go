package providers

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// OpenAI key states as sever reports them: OpenAI has no disabled state, a key is
// there or it has been deleted.
const (
	statusPresent = "present"
	statusAbsent  = "absent"
)

const openAIKeyForm = "key_…"

// OpenAIObserveArgs are the arguments of openai.observe_key_status.
type OpenAIObserveArgs struct {
	Project  string `json:"project"`
	Wait     string `json:"wait"`
	Interval string `json:"interval"`
}

// RevokeArgs are the arguments of openai.revoke_api_key.
type RevokeArgs struct {
	Project string `json:"project"`
	Reason  string `json:"reason"`
}

// OpenAIKeyStatusArgs are the arguments of openai.key_status: expect is absent
// (default) or present.
type OpenAIKeyStatusArgs struct {
	Project string `json:"project"`
	Expect  string `json:"expect"`
}

// openAIKey is the part of a project API key object sever reads; redacted_value is
// OpenAI's own redacted form of the key.
type openAIKey struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	RedactedValue string `json:"redacted_value"`
	CreatedAt     int64  `json:"created_at"`
	LastUsedAt    *int64 `json:"last_used_at"`
	Owner         struct {
		Type string `json:"type"`
	} `json:"owner"`
}

// openAITarget is a key id in its project, with where the project came from.
type openAITarget struct {
	x       *api
	project string
	source  string
	id      string
	// other is a project another source names for the key (the signal's, when the
	// inventory puts the key elsewhere). OpenAI answers 404 alike for a deleted key and
	// a key of another project, so the key is absent only when neither has it.
	other       string
	otherSource string
}

func (t openAITarget) String() string {
	return fmt.Sprintf("OpenAI key %s in project %s", t.id, t.project)
}

func (t openAITarget) path() string {
	return "/v1/organization/projects/" + url.PathEscape(t.project) + "/api_keys/" + url.PathEscape(t.id)
}

// swapped is the target in the other project, the primary one becoming the other.
func (t openAITarget) swapped() openAITarget {
	t.project, t.other = t.other, t.project
	t.source, t.otherSource = t.otherSource, t.source
	return t
}

// disagreement tells the reader, when the inventory and the signal name different
// projects, that both were asked; the target's own name says which one has the key.
func (t openAITarget) disagreement() string {
	if t.other == "" {
		return ""
	}
	return fmt.Sprintf("; %s names project %s and %s names project %s: sever asked both",
		t.source, t.project, t.otherSource, t.other)
}

func (t openAITarget) output(k *openAIKey, status string) sever.Values {
	out := sever.Values{"key_id": t.id, "project": t.project, "project_source": t.source, "status": status}
	if t.other != "" {
		out["other_project"], out["other_project_source"] = t.other, t.otherSource
	}
	if k != nil {
		out["name"], out["key_hint"], out["owner_type"] = k.Name, k.RedactedValue, k.Owner.Type
		if k.LastUsedAt != nil {
			out["last_used_at"] = time.Unix(*k.LastUsedAt, 0).UTC().Format(time.RFC3339)
		}
	}
	return out
}

// Where an OpenAI project came from, as targets report it.
const (
	fromStep      = "the step's project"
	fromSignal    = "credential.account"
	fromInventory = "the inventory's account"
	fromConfig    = "providers.openai.project"
)

// project finds the key's project: the step's argument, the credential's account,
// the inventory entry's account, then providers.openai.project. A credential account
// that is not a project id (an organization id, say) is passed over, and named if
// nothing else gives a project.
//
// When the inventory and the credential name different projects, the inventory's
// comes first and the signal's is returned as other: a signal (anyone holding an
// intake token) must not be able to point the revoke at another project, whose 404
// the inventory would then seem to vouch for, while the key stays active where the
// inventory puts it; asking the signal's project as well covers a stale inventory.
func (a *Activities) project(in sever.ActionInput, explicit string) (project, source, other string, err error) {
	if explicit != "" {
		if !openAIProjectRE.MatchString(explicit) {
			return "", "", "", activities.Permanent(activities.ErrInvalidArgument,
				fmt.Sprintf("%s: project %q is not an OpenAI project id (proj_…)", in.Action, truncate(explicit, 64)), nil)
		}
		return explicit, fromStep, "", nil
	}
	var entryAccount string
	if e, ok := a.Inventory.Lookup(in.Credential); ok {
		entryAccount = e.Account
	}
	if sig := in.Credential.Account; openAIProjectRE.MatchString(entryAccount) && openAIProjectRE.MatchString(sig) && sig != entryAccount {
		return entryAccount, fromInventory, sig, nil
	}
	var passed []string
	for _, c := range []struct{ v, from string }{
		{in.Credential.Account, fromSignal},
		{entryAccount, fromInventory},
		{a.defaultProject(), fromConfig},
	} {
		switch {
		case c.v == "":
		case openAIProjectRE.MatchString(c.v):
			return c.v, c.from, "", nil
		default:
			passed = append(passed, fmt.Sprintf("%s %q is not a project id", c.from, truncate(c.v, 64)))
		}
	}
	msg := fmt.Sprintf("%s: no OpenAI project for key %s: give it as credential.account (proj_…), the step's project, the inventory entry's account or providers.openai.project",
		in.Action, in.Credential.ID)
	if len(passed) > 0 {
		msg += " (" + strings.Join(passed, "; ") + ")"
	}
	return "", "", "", activities.Permanent(activities.ErrInvalidArgument, msg, nil)
}

func (a *Activities) defaultProject() string {
	if a.OpenAI == nil {
		return ""
	}
	return a.OpenAI.Project
}

func (a *Activities) openAITarget(ctx context.Context, in sever.ActionInput, explicit string) (openAITarget, error) {
	if err := checkCredential(in, sever.CredOpenAIAPIKey, openAIKeyIDRE, openAIKeyForm); err != nil {
		return openAITarget{}, err
	}
	project, source, other, err := a.project(in, explicit)
	if err != nil {
		return openAITarget{}, err
	}
	t := openAITarget{project: project, source: source, id: in.Credential.ID, other: other}
	if other != "" {
		t.otherSource = fromSignal
	}
	x, err := a.openAIAPI(ctx, in.Action)
	if err != nil {
		return t, err
	}
	t.x = x
	return t, nil
}

// get reads the key; found is false when OpenAI answers 404, which it does alike
// for a deleted key, a key of another project and one that never existed.
func (t openAITarget) get(ctx context.Context) (k openAIKey, found bool, err error) {
	r, err := t.x.call(ctx, "get project API key", t.String(), "GET", t.path(), nil)
	if err != nil {
		return k, false, err
	}
	switch r.status {
	case 200:
		return k, true, t.x.decode(r, "get project API key", t.String(), &k)
	case 404:
		return k, false, nil
	}
	return k, false, t.x.classify(r, "get project API key", t.String())
}

// locate reads the key in the target's project and, when it is not there, in the
// other project; the target returned is the one that has the key, else t.
func (t openAITarget) locate(ctx context.Context) (openAITarget, openAIKey, bool, error) {
	k, found, err := t.get(ctx)
	if err != nil || found || t.other == "" {
		return t, k, found, err
	}
	o := t.swapped()
	if k, found, err = o.get(ctx); err != nil || found {
		return o, k, found, err
	}
	return t, k, false, nil
}

// projectExists tells a wrong project apart from a missing key, so absence is never
// concluded from asking the wrong project.
func (t openAITarget) projectExists(ctx context.Context) error {
	subject := "project " + t.project + " (from " + t.source + ")"
	r, err := t.x.call(ctx, "get project", subject, "GET", "/v1/organization/projects/"+url.PathEscape(t.project), nil)
	if err != nil {
		return err
	}
	if r.status != 200 {
		return t.x.classify(r, "get project", subject)
	}
	return nil
}

// corroborated says why sever believes a key it cannot find in project once existed:
// this worker revoked it, the inventory lists it in that project, or the provider
// itself sent a notice about it. An inventory entry of another project vouches for
// nothing here: the 404 may only mean the key lives elsewhere.
func (a *Activities) corroborated(in sever.ActionInput, project string) (string, bool) {
	if when, ok := a.ourChange(in.Credential.ID); ok {
		return "sever revoked it at " + when.Format(time.RFC3339), true
	}
	if e, ok := a.Inventory.Lookup(in.Credential); ok && e.ID == in.Credential.ID && e.Account == project {
		return "the inventory lists it in project " + project, true
	}
	if vendorNamed(in, providerOpenAI) {
		return "a notice from OpenAI names it", true
	}
	return "", false
}

// OpenAIRevokeAPIKey deletes the key from its project: OpenAI has no disable, so this
// is irreversible and has no compensation. It reads first: a key found gone is
// success only when this step's earlier attempt deleted it, or something shows the
// key existed (then it was gone before sever acted); otherwise a 404 most likely
// means the wrong project, and the step fails NotFound rather than claim containment.
func (a *Activities) OpenAIRevokeAPIKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args RevokeArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	t, err := a.openAITarget(ctx, in, args.Project)
	if err != nil {
		return sever.ActionResult{}, err
	}
	t, before, found, err := t.locate(ctx)
	if err != nil {
		return sever.ActionResult{}, err
	}
	out := t.output(nil, statusAbsent)
	var changed bool
	var summary string
	switch {
	case found:
		out = t.output(&before, statusPresent)
		a.markWriting(ctx, in, t.project, "delete")
		r, err := t.x.call(ctx, "delete project API key", t.String(), "DELETE", t.path(), nil)
		if err != nil {
			return sever.ActionResult{}, err // the answer may be lost: the write stays remembered
		}
		a.settled(in)
		// 404: it went between our read and our delete; gone is what we want.
		if r.status != 200 && r.status != 404 {
			return sever.ActionResult{}, t.x.classify(r, "delete project API key", t.String())
		}
		changed = true
		summary = fmt.Sprintf("revoked (deleted) %s with the enterprise's admin key", t)
	case a.wroteEarlier(ctx, in, t.project, "delete") || t.other != "" && a.wroteEarlier(ctx, in, t.other, "delete"):
		a.settled(in)
		changed = true
		out["previous_status"] = "unknown (deleted by an earlier attempt)"
		summary = fmt.Sprintf("%s is gone: an earlier attempt of this step deleted it and its answer was lost", t)
	default:
		if err := t.projectExists(ctx); err != nil {
			return sever.ActionResult{}, err
		}
		why, ok := a.corroborated(in, t.project)
		if !ok {
			return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
				"%s: %s (project from %s) not found: OpenAI answers the same for a revoked key and a key of another project, "+
					"and nothing shows this one existed (the inventory does not list it in that project, no OpenAI notice names it); check the project",
				in.Action, t, t.source), nil)
		}
		out["already_in_place"] = true
		summary = fmt.Sprintf("%s was already gone before sever acted (%s), so nothing was sent; the enterprise's admin read-back confirms it. "+
			"OpenAI does not say who deleted it (see the observe step)", t, why)
		if _, ours := a.ourChange(t.id); ours {
			summary = fmt.Sprintf("%s is already gone: %s; nothing was sent, and the admin read-back confirms it", t, why)
		}
	}
	if _, ok := out["previous_status"]; !ok {
		out["previous_status"] = out["status"]
	}
	summary += t.disagreement()
	verified, err := a.readBack(ctx, func() (bool, error) {
		_, _, found, err := t.locate(ctx)
		return !found, err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	out["status"] = statusAbsent
	if !verified {
		out["status"] = statusPresent
		summary += "; read-back still lists the key"
	}
	if changed && verified {
		a.markOurs(t.id)
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: t.x.actor(),
		Changed: changed, Summary: summary, Output: withReason(out, args.Reason)}, nil
}

// OpenAIKeyStatus reads whether the key still exists; verified when that is what
// expect says. Absence is only concluded once the project is known to exist.
func (a *Activities) OpenAIKeyStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args OpenAIKeyStatusArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if args.Expect == "" {
		args.Expect = statusAbsent
	}
	if args.Expect != statusAbsent && args.Expect != statusPresent {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: expect %q: want absent or present", in.Action, args.Expect), nil)
	}
	t, err := a.openAITarget(ctx, in, args.Project)
	if err != nil {
		return sever.ActionResult{}, err
	}
	t, k, found, err := t.locate(ctx)
	if err != nil {
		return sever.ActionResult{}, err
	}
	status, kp := statusPresent, &k
	if !found {
		if err := t.projectExists(ctx); err != nil {
			return sever.ActionResult{}, err
		}
		status, kp = statusAbsent, nil
	}
	return sever.ActionResult{Verified: status == args.Expect, Actor: t.x.actor(), Output: t.output(kp, status),
		Summary: fmt.Sprintf("%s is %s (expected %s)%s", t, status, args.Expect, t.disagreement())}, nil
}

// OpenAIObserveKeyStatus looks at the key without touching it. A key gone from its
// project that something shows existed is recorded as vendor_enforced, with OpenAI
// as the actor, only when a notice from OpenAI in the incident says it acted; without
// one it may be sever's own revoke from an earlier incident or another worker, so it
// is recorded with no enforcement class (see AnthropicObserveKeyStatus). Like the
// Anthropic observe action it never fails because OpenAI could not be read.
func (a *Activities) OpenAIObserveKeyStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args OpenAIObserveArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	wait, interval, err := parseWait(in.Action, args.Wait, args.Interval)
	if err != nil {
		return sever.ActionResult{}, err
	}
	t, err := a.openAITarget(ctx, in, args.Project)
	if t.project == "" && err != nil {
		return sever.ActionResult{}, err // the revoke would refuse the same input
	}
	if err != nil {
		return unobserved(in, err), nil
	}
	var k openAIKey
	var found bool
	asked := t
	err = a.poll(ctx, wait, interval, func() (bool, error) {
		var err error
		t, k, found, err = asked.locate(ctx)
		return err == nil && !found, err
	})
	if err != nil {
		return unobserved(in, err), nil
	}
	if found {
		out := t.output(&k, statusPresent)
		out["observed"] = true
		return sever.ActionResult{Actor: t.x.actor(), Output: out,
			Summary: fmt.Sprintf("%s still exists: OpenAI has not revoked it%s%s", t, waited(wait), t.disagreement())}, nil
	}
	if err := t.projectExists(ctx); err != nil {
		return unobserved(in, err), nil
	}
	out := t.output(nil, statusAbsent)
	out["observed"] = true
	if when, ok := a.ourChange(t.id); ok {
		out["revoked_by"] = "sever"
		return sever.ActionResult{Actor: t.x.actor(), Output: out, Summary: fmt.Sprintf(
			"%s is gone, but sever revoked it at %s: not the provider's action%s", t, when.Format(time.RFC3339), t.disagreement())}, nil
	}
	why, ok := a.corroborated(in, t.project)
	if !ok {
		out["corroborated"] = false
		return sever.ActionResult{Actor: t.x.actor(), Output: out, Summary: fmt.Sprintf(
			"%s is not there, and nothing shows it ever was (not in the inventory for that project, no OpenAI notice): not recorded as the provider's action%s",
			t, t.disagreement())}, nil
	}
	out["corroborated"] = true
	if !providerSaysItActed(in, providerOpenAI) {
		// It existed, but nothing shows who deleted it; vendor_enforced would credit
		// OpenAI with what may be sever's own revoke.
		out["revoked_by"] = "unknown"
		return sever.ActionResult{Actor: t.x.actor(), Output: out, Summary: fmt.Sprintf(
			"%s was already gone when this step looked (deleted before this step), and %s%s%s", t, why, unattributed, t.disagreement())}, nil
	}
	out["revoked_by"] = "openai"
	return sever.ActionResult{Enforcement: sever.VendorEnforced, Verified: true, Actor: VendorOpenAI, Output: out,
		Summary: fmt.Sprintf("%s was already gone when sever looked, before it acted, and %s; a notice from OpenAI says it acted: "+
			"observed as the provider's action%s", t, why, t.disagreement())}, nil
}
