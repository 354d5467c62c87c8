package workflows

import "go.temporal.io/sdk/workflow"

// CurrentChange bundles every change the incident workflow versioned before it. A
// run that records it has each of them at the version listed in bundled, and
// records one marker (and one TemporalChangeVersion search-attribute upsert, a
// visibility write on the server) instead of one per change: five fewer commands
// on a fresh incident's first workflow task alone. Runs from before it replay
// through each change's own GetVersion, as they were recorded.
//
// The versions in bundled are frozen, because a bundled run's history has no marker
// to say which version it ran. A later change is a new bundle that implies the one
// before it: a new run records only the newest marker, and a run of an older
// bundle replays through the older marker (startVersions).
const CurrentChange = "incident-2026-12-undo-and-retry"

// dupReceiptsBundle is the bundle before CurrentChange. CurrentChange adds two
// changes over it (run.undoAndRetry): a false-positive close approves a
// compensation only where the policy would take that person's decision alone (a
// quorum of one, and not the person who raised the incident), and a retried
// step's action gets an idempotency key of its own attempt, so an action that
// dedupes on the key does the retry instead of taking it for the first request.
const dupReceiptsBundle = "incident-2026-12-duplicate-receipts"

// localStepsBundle is the bundle before dupReceiptsBundle. dupReceiptsBundle adds
// one change over it: a second delivery of a submission that was a duplicate (the
// engine resends one whose answer it did not get) is not counted again
// (run.dupReceipts).
const localStepsBundle = "incident-2026-12-local-steps"

// localLedgerBundle is the bundle before localStepsBundle. It adds one change over
// decemberBundle: the ledger append of an incident started with LocalLedger is a
// local activity (run.ledgerLocal). localStepsBundle adds one over it: a read-only
// step of at most localStepMaxTimeout runs as a local activity (run.localSteps).
const localLedgerBundle = "incident-2026-12-local-ledger"

// decemberBundle is the first bundle: everything in bundled. Its runs carry its
// marker and replay through it.
const decemberBundle = "incident-2026-12"

// bundled lists the changes the bundles imply, at the version they imply.
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
// the first version check of the run. A new run records CurrentChange alone; a run
// of an older bundle finds no such marker on replay and reads its own.
func (r *run) startVersions(ctx workflow.Context) {
	r.undoAndRetry = workflow.GetVersion(ctx, CurrentChange, workflow.DefaultVersion, 1) >= 1
	r.dupReceipts = r.undoAndRetry || workflow.GetVersion(ctx, dupReceiptsBundle, workflow.DefaultVersion, 1) >= 1
	r.localSteps = r.dupReceipts || workflow.GetVersion(ctx, localStepsBundle, workflow.DefaultVersion, 1) >= 1
	r.localLedgerOK = r.localSteps || workflow.GetVersion(ctx, localLedgerBundle, workflow.DefaultVersion, 1) >= 1
	r.current = r.localLedgerOK || workflow.GetVersion(ctx, decemberBundle, workflow.DefaultVersion, 1) >= 1
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
