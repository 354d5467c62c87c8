package report

import "github.com/sever-ir/sever"

// StepNote is what a one-line progress view (sever demo, the drill's monitor)
// prints after a step's status: its enforcement level, "verified", and the error
// of a step that has not succeeded, each after two spaces; "" when there is none.
func StepNote(st sever.Step) string {
	s := ""
	if st.Enforcement != "" {
		s += "  " + string(st.Enforcement)
	}
	if st.Verified {
		s += "  verified"
	}
	if st.Error != "" && st.Status != sever.StepSucceeded {
		s += "  (" + st.Error + ")"
	}
	return s
}
