package drillcloud

import "encoding/xml"

// opHandler answers one operation; opDef.handle holds one.
type opHandler = func(*call) (*response, error)

// withLock runs h with c.mu held for the whole call, as most handlers that read
// or change account state need.
func withLock(h opHandler) opHandler {
	return func(cl *call) (*response, error) {
		cl.c.mu.Lock()
		defer cl.c.mu.Unlock()
		return h(cl)
	}
}

// onPrincipal is an operation on one IAM user or role; it runs with c.mu held.
type onPrincipal func(cl *call, p *principal) (*response, error)

// onUser runs h, under c.mu, on the user the request names (the caller when it
// names none), answering the lookup's error as IAM does.
func onUser(h onPrincipal) opHandler {
	return onTarget((*call).targetUser, h)
}

// onRole runs h, under c.mu, on the role the request names.
func onRole(h onPrincipal) opHandler {
	return onTarget((*call).targetRole, h)
}

func onTarget(find func(*call) (*principal, *apiError), h onPrincipal) opHandler {
	return withLock(func(cl *call) (*response, error) {
		p, e := find(cl)
		if e != nil {
			return nil, e
		}
		return h(cl, p)
	})
}

// xmlField is one child element of an xmlElem.
type xmlField struct {
	name  string
	value any
}

// xmlElem marshals as <name> with the fields as children, in order. IAM names
// some result elements after the operation or the principal's kind
// (GetUserPolicyResult/UserName against GetRolePolicyResult/RoleName); this
// lets one handler serve both with the bytes a fixed struct would produce.
type xmlElem struct {
	name   string
	fields []xmlField
}

// The element's name is the operation's, never the caller's, so the start
// element handed in is ignored.
func (x xmlElem) MarshalXML(enc *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: xml.Name{Local: x.name}}
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	for _, f := range x.fields {
		if err := enc.EncodeElement(f.value, xml.StartElement{Name: xml.Name{Local: f.name}}); err != nil {
			return err
		}
	}
	return enc.EncodeToken(start.End())
}

// kindTitle is "User" or "Role", the prefix IAM gives a principal's fields.
func (p *principal) kindTitle() string {
	if p.kind == "role" {
		return "Role"
	}
	return "User"
}
