package app

import (
	"context"
	"errors"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/tokenstore"
)

// vendorStatus writes an issuer's notice about a token into the token store the
// worker's tokenstore.* actions read (p.Tokens at the time of the request: the
// PostgreSQL store once the state is open, else the file).
type vendorStatus struct{ p *Parts }

var _ httpapi.VendorStatusRecorder = vendorStatus{}

// SetVendorStatus implements httpapi.VendorStatusRecorder.
func (v vendorStatus) SetVendorStatus(_ context.Context, id, status, by string) (bool, error) {
	_, changed, err := v.p.Tokens.SetVendorStatus(id, status, by)
	if errors.Is(err, tokenstore.ErrNotFound) {
		return false, sever.Errorf(sever.ENOTFOUND, "id", "token %q is not in the token store", id)
	}
	return changed, err
}
