package main

import (
	"context"
	"errors"
	"strings"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// watch long-polls a workflow's history and hands each event to visit until visit
// says it is done. The server may answer a long poll that overlaps a speculative
// workflow task (an Update's) with "current and request branch tokens don't
// match"; the history itself is intact, so watch reads it again from the start,
// a few times at most. visit must therefore accept the events it has seen again.
func watch(ctx context.Context, c client.Client, id string, visit func(*historypb.HistoryEvent) (bool, error)) error {
	const tries = 3
	var err error
	for range tries {
		if err = watchOnce(ctx, c, id, visit); err == nil || !branchChanged(err) {
			return err
		}
	}
	return err
}

// errHistoryEnded is watchOnce's answer when the history ended and visit never
// said it was done.
var errHistoryEnded = errors.New("history ended")

func watchOnce(ctx context.Context, c client.Client, id string, visit func(*historypb.HistoryEvent) (bool, error)) error {
	it := c.GetWorkflowHistory(ctx, id, "", true, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return err
		}
		if done, err := visit(ev); done || err != nil {
			return err
		}
	}
	return errHistoryEnded
}

// branchChanged recognises the server's CurrentBranchChanged, which reaches a
// client as InvalidArgument with this message.
func branchChanged(err error) bool {
	var ia *serviceerror.InvalidArgument
	return errors.As(err, &ia) && strings.Contains(ia.Message, "branch tokens")
}
