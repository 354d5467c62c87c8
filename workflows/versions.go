package workflows

import "go.temporal.io/sdk/workflow"

// CurrentChange bundles every change the incident workflow versioned before it. A
// run that records it has each of them at the version listed in bundled, and
// records one marker (and one TemporalChangeVersion search-attribute upsert, a
// visibility write on the server) instead of one per change: five fewer commands
// on a fresh incident's first workflow task alone. Runs from before it replay
// through each change's own GetVersion, as they were recorded.
//
// The versions in bundled are frozen: a later change gets its own change ID (and
// its own GetVersion call), never a higher version of a bundled one, because a
// bundled run's history has no marker to say which version it ran.
const CurrentChange = "incident-2026-12"

// bundled lists the changes CurrentChange implies, at the version it implies.
var bundled = map[string]workflow.Version{
	ledgerChange:         2,
	boundedChange:        1,
	retryChange:          1,
	intakeChange:         1,
	cancelTruthChange:    1,
	compensateChange:     1,
	approvalNoticeChange: 1,
	approvalNonceChange:  1,
}

// startVersions records (or, on replay, reads) CurrentChange. It must run before
// the first version check of the run.
func (r *run) startVersions(ctx workflow.Context) {
	r.current = workflow.GetVersion(ctx, CurrentChange, workflow.DefaultVersion, 1) >= 1
}

// version is the version of change this run follows: the bundled one for runs of
// CurrentChange, else what the change's own marker says (recording it at the
// bundled version when the run is new).
func (r *run) version(ctx workflow.Context, change string) workflow.Version {
	v, ok := bundled[change]
	if !ok {
		panic("workflows: version of unbundled change " + change)
	}
	if r.current {
		return v
	}
	return workflow.GetVersion(ctx, change, workflow.DefaultVersion, v)
}
