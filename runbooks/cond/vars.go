package cond

import "github.com/sever-ir/sever"

// NewVars builds a condition's variables from the incident state, so that every caller
// exposes the names and shapes runbooks/README.md documents. Every step of the
// incident appears under steps, including those not yet run (status pending).
func NewVars(inc *sever.Incident) Vars {
	v := Vars{
		Signal:     map[string]any{},
		Signals:    make([]any, 0, len(inc.Signals)),
		Credential: credentialVar(inc.Credential),
		Steps:      make(map[string]any, len(inc.Steps)),
		Incident:   map[string]any{"id": inc.ID, "drill": inc.Drill, "status": string(inc.Status)},
	}
	for i, s := range inc.Signals {
		m := signalVar(s.Signal)
		if i == 0 {
			v.Signal = m
		}
		v.Signals = append(v.Signals, m)
	}
	for _, st := range inc.Steps {
		out := map[string]any{}
		for k, x := range st.Output {
			out[k] = x
		}
		v.Steps[st.ID] = map[string]any{
			"status":      string(st.Status),
			"verified":    st.Verified,
			"enforcement": string(st.Enforcement),
			"output":      out,
		}
	}
	return v
}

func signalVar(s sever.Signal) map[string]any {
	return map[string]any{
		"source":          s.Source,
		"origin":          string(s.Origin),
		"kind":            string(s.Kind),
		"severity":        s.Severity,
		"summary":         s.Summary,
		"source_event_id": s.SourceEventID,
		"credential":      credentialVar(s.Credential),
	}
}

func credentialVar(c sever.Credential) map[string]any {
	return map[string]any{
		"provider":  c.Provider,
		"type":      string(c.Type),
		"id":        c.ID,
		"principal": c.Principal,
		"account":   c.Account,
	}
}
