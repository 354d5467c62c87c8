// Package activities holds what every action package shares: how actions register
// under their stable names, how they decode their arguments, and the stable error
// types that mark a failure as permanent.
package activities

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
)

// Registrar is the part of a Temporal worker that actions need.
type Registrar interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers fn under the action's stable name. It panics when the name is
// not in sever.Catalog: a runbook could never name it, so it is a wiring bug.
func Register(r Registrar, name string, fn any) {
	if _, ok := sever.Catalog[name]; !ok {
		panic(fmt.Sprintf("activities: register %q: not in sever.Catalog", name))
	}
	r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
}

// Stable error types. The workflow lists them as non-retryable.
const (
	ErrInvalidArgument = "InvalidArgument"
	ErrAccessDenied    = "AccessDenied"
	ErrNotFound        = "NotFound"
	ErrForbidden       = "Forbidden"
	ErrUnsupported     = "Unsupported"
)

// Permanent returns a non-retryable error of a stable type that names the operation.
func Permanent(errType, op string, cause error) error {
	msg := op
	if cause != nil {
		msg = op + ": " + cause.Error()
	}
	return temporal.NewNonRetryableApplicationError(msg, errType, cause)
}

// DecodeArgs decodes an action's arguments into a typed struct, refusing unknown
// names so a typo in a runbook fails the step instead of being ignored.
func DecodeArgs(action string, args sever.Values, into any) error {
	if len(args) == 0 {
		return nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return Permanent(ErrInvalidArgument, action+": encode args", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return Permanent(ErrInvalidArgument, action+": args", err)
	}
	return nil
}
