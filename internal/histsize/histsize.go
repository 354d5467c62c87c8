// Package histsize measures Temporal history events, for the flood test and the
// bench: an incident must stay well inside the server's payload limit.
package histsize

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Figures describe every run of one workflow ID.
type Figures struct {
	Runs           int
	Events         int
	Bytes          int // all events, encoded
	LargestPayload int // bytes of the largest single payload
}

// Measure walks every run of workflow id, newest first, following each run's
// predecessor through the continued-as-new link in its first event.
func Measure(ctx context.Context, c client.Client, id string) (Figures, error) {
	var f Figures
	for runID := ""; ; {
		f.Runs++
		it := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		prev := ""
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return f, fmt.Errorf("history of %s run %q: %w", id, runID, err)
			}
			f.Events++
			f.Bytes += proto.Size(e)
			f.LargestPayload = max(f.LargestPayload, LargestPayload(e))
			if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
		}
		if prev == "" {
			return f, nil
		}
		runID = prev
	}
}

// LargestPayload is the size of the largest payload in a history event (inputs,
// results, memo fields, signal arguments): Temporal refuses any payload over 2 MB.
func LargestPayload(m proto.Message) int {
	largest := 0
	var walk func(protoreflect.Message)
	walk = func(r protoreflect.Message) {
		if r.Descriptor().FullName() == "temporal.api.common.v1.Payload" {
			largest = max(largest, proto.Size(r.Interface()))
			return
		}
		r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i, l := 0, v.List(); i < l.Len(); i++ {
					walk(l.Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message())
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	return largest
}
