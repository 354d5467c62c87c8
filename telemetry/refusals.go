package telemetry

// MaxRefusalReasons caps the distinct values of the reason label. Reasons come from
// sever's own fixed vocabulary; the cap only guards against a caller passing free text.
const MaxRefusalReasons = 32

// DecisionRefused counts one refused decision or approval request by reason.
func (m *Metrics) DecisionRefused(reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(m.reasonLabel(reason)).Inc()
}

// DecisionRefusedAggregated counts a refused decision that the ledger records only
// in a summary entry (the source passed its rate), not one by one.
func (m *Metrics) DecisionRefusedAggregated(reason string) {
	if m == nil {
		return
	}
	m.refusedFolded.WithLabelValues(m.reasonLabel(reason)).Inc()
}

func (m *Metrics) reasonLabel(reason string) string {
	if reason == "" || len(reason) > 32 {
		return OtherLabel
	}
	for i := 0; i < len(reason); i++ {
		if c := reason[i]; (c < 'a' || c > 'z') && c != '_' {
			return OtherLabel
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reasons[reason] {
		return reason
	}
	if len(m.reasons) >= MaxRefusalReasons {
		return OtherLabel
	}
	m.reasons[reason] = true
	return reason
}
