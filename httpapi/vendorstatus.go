package httpapi

import (
	"context"
	"net/http"
	"reflect"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
)

// ScopeTokensVendor lets a token report the state a token's issuer gives it
// (PUT /v1/tokens/{id}/vendor-status): the issuer's notice feed, and nothing
// else, holds it. A token with no scope list does not get it, unlike every other
// scope, so no operator or SOC token can write the vendor's word by default.
const ScopeTokensVendor = "tokens:vendor"

// explicitScopes are granted only to tokens that list them.
var explicitScopes = []string{ScopeTokensVendor}

// Vendor states a notice may report (tokenstore.Active and tokenstore.Inactive).
const (
	VendorActive   = "active"
	VendorInactive = "inactive"
)

// VendorStatusRecorder records what a token's issuer reports for it, and who
// reported it. An unknown token is a *sever.Error with code ENOTFOUND; changed is
// false when that state was already on record.
type VendorStatusRecorder interface {
	SetVendorStatus(ctx context.Context, id, status, by string) (changed bool, err error)
}

// vendorStatusWire is the body of PUT /v1/tokens/{id}/vendor-status.
type vendorStatusWire struct {
	Status string `json:"status"`
}

var vendorStatusSchema = schemaOf(reflect.TypeFor[vendorStatusWire]())

// VendorStatusResult is the answer to PUT /v1/tokens/{id}/vendor-status.
type VendorStatusResult struct {
	ID           string `json:"id"`
	VendorStatus string `json:"vendor_status"`
	ReportedBy   string `json:"reported_by"`
	// Changed is false when the issuer's state was already on record (a notice
	// delivered twice); the earlier reporter stays on record then.
	Changed bool `json:"changed"`
}

// maxTokenIDLength bounds a token id in the path.
const maxTokenIDLength = 256

// tokenID returns the {id} path value, checked.
func tokenID(r *http.Request) (string, error) {
	id, err := pathID(r, "token", maxTokenIDLength, "-_.:@")
	if err != nil {
		return "", err
	}
	// A token's id names it; its value must never travel in a URL, where proxies log it.
	if m, found := secretscan.Find(id); found {
		return "", sever.Errorf(sever.EINVALID, "id", "the path holds secret material, %s: name the token by its id, never by its value", m)
	}
	return id, nil
}

// reportVendorStatus serves PUT /v1/tokens/{id}/vendor-status (scope
// tokens:vendor): the issuer's notice that it disabled (or restored) a token on
// its own. It writes the vendor's state beside the enterprise's, never over it;
// tokenstore.observe_vendor_state then records vendor_enforced.
func (s *Server) reportVendorStatus(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.reportVendorStatus"
	if s.vendorStatus == nil {
		s.fail(w, r, op, &sever.Error{Code: sever.EUNAVAILABLE, Message: "vendor status reports are not available on this server (no token store)"})
		return
	}
	id, body, err := s.idAndJSON(w, r, tokenID)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	var in vendorStatusWire
	if err := decodeStrict(body, vendorStatusSchema, nil, &in); err != nil {
		s.fail(w, r, op, err)
		return
	}
	if in.Status != VendorActive && in.Status != VendorInactive {
		s.fail(w, r, op, sever.Errorf(sever.EINVALID, "status", "status must be %q or %q", VendorInactive, VendorActive))
		return
	}
	by := Principal(r.Context())
	changed, err := s.vendorStatus.SetVendorStatus(r.Context(), id, in.Status, by)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	s.log.InfoContext(r.Context(), "vendor status reported", "token_id", id, "vendor_status", in.Status, "by", by, "changed", changed)
	writeJSON(w, http.StatusOK, VendorStatusResult{ID: id, VendorStatus: in.Status, ReportedBy: by, Changed: changed})
}
