package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
)

var mockAny = mock.Anything

func decodePayloads(can *workflow.ContinueAsNewError, into any) error {
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, into)
}

// updateCB collects the outcome of a test update.
type updateCB struct {
	t        *testing.T
	reject   func(error)
	complete func(any, error)
}

func (u *updateCB) Accept() {}

func (u *updateCB) Reject(err error) {
	if u.reject != nil {
		u.reject(err)
		return
	}
	u.t.Errorf("update rejected: %v", err)
}

func (u *updateCB) Complete(success any, err error) {
	if u.complete != nil {
		u.complete(success, err)
	}
}
