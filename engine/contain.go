package engine

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/workflows"
)

// RunbookLister is a RunbookSelector that can also find a runbook by name and list
// them all (*runbooks.Library is one); Contain needs it to honour a named runbook.
type RunbookLister interface {
	Get(name string) (*sever.Runbook, bool)
	List() []*sever.Runbook
}

// Contain records an operator's on-demand containment signal in the incident of its
// credential, opening the incident if none is open, exactly as SubmitSignal does.
// With runbook set, a new incident is pinned to that runbook rather than the
// library's choice; a runbook that does not exist or does not match the credential's
// type is refused (EUNPROCESSABLE, listing the runbooks that match), and so is a
// runbook other than the one an open incident already pinned (ECONFLICT): a runbook
// is chosen once, when the incident opens.
func (e *Engine) Contain(ctx context.Context, r service.SubmitRequest, runbook string) (service.SubmitResult, error) {
	if runbook == "" {
		return e.SubmitSignal(ctx, r)
	}
	s := r.Signal
	rb, err := e.namedRunbook(s.Credential.Type, s.Kind, runbook)
	if err != nil {
		return service.SubmitResult{}, err
	}
	id := sever.IncidentID(s.Credential)
	if pinned, open, err := e.openRunbook(ctx, id); err != nil {
		return service.SubmitResult{}, err
	} else if open && pinned != rb.Name {
		return service.SubmitResult{}, sever.Errorf(sever.ECONFLICT, "runbook",
			"incident %s is already open with runbook %q; a runbook is chosen when an incident opens (leave runbook out to join it)", id, pinned)
	}
	return e.submit(ctx, r, func() (*sever.Runbook, error) { return rb, nil })
}

// namedRunbook finds the runbook called name and checks that it applies to
// credentials of type t.
func (e *Engine) namedRunbook(t sever.CredentialType, k sever.SignalKind, name string) (*sever.Runbook, error) {
	lib, ok := e.Runbooks.(RunbookLister)
	if !ok {
		return nil, sever.Errorf(sever.EUNPROCESSABLE, "runbook", "this engine cannot choose runbooks by name; leave runbook out")
	}
	if rb, ok := lib.Get(name); ok && rb.Match.Matches(t, k) {
		return rb, nil
	}
	var fit []string
	for _, rb := range lib.List() {
		if rb.Match.Matches(t, k) {
			fit = append(fit, rb.Name)
		}
	}
	list := "none"
	if len(fit) > 0 {
		list = strings.Join(fit, ", ")
	}
	// The name came from a person; quoted with %q it cannot break the message.
	return nil, sever.Errorf(sever.EUNPROCESSABLE, "runbook",
		"runbook %q does not exist or does not match credential type %s (signal kind %s); runbooks that do: %s", shortName(name), t, k, list)
}

func shortName(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}

// openRunbook says whether incident id runs now and, if so, the runbook it pinned
// (from the memo the workflow keeps).
func (e *Engine) openRunbook(ctx context.Context, id string) (runbook string, open bool, _ error) {
	desc, err := e.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		if isNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("contain: describe incident %s: %w", id, unavailable(err))
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING || info.GetType().GetName() != workflows.IncidentWorkflow {
		return "", false, nil
	}
	if p := info.GetMemo().GetFields()[workflows.MemoRunbook]; p != nil {
		if err := converter.GetDefaultDataConverter().FromPayload(p, &runbook); err != nil {
			return "", false, fmt.Errorf("contain: incident %s: read its runbook: %w", id, err)
		}
	}
	return runbook, true, nil
}
