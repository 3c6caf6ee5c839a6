package eval

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"presence"
)

// ReadShadowLabels reads the truth of sessions by correlation id: a CSV
// with columns correlation_id and label (live, or spoof/attack/fake), as
// a labelled set replayed through the service, or a relying party's
// confirmed cases, give it.
func ReadShadowLabels(name string, r io.Reader) (map[string]bool, error) {
	header, rows, lines, err := csvRows(name, r)
	if err != nil {
		return nil, err
	}
	id, label := -1, -1
	for i, h := range header {
		switch h {
		case "correlation_id":
			id = i
		case "label":
			label = i
		}
	}
	if id < 0 || label < 0 {
		return nil, &LineError{File: name, Line: 1, Msg: "the header needs correlation_id and label"}
	}
	out := map[string]bool{}
	for i, rec := range rows {
		if len(rec) <= max(id, label) {
			return nil, &LineError{File: name, Line: lines[i], Msg: fmt.Sprintf("%d fields, want at least %d", len(rec), max(id, label)+1)}
		}
		switch l := strings.ToLower(strings.TrimSpace(rec[label])); l {
		case "live", "real", "bona_fide", "bonafide":
			out[rec[id]] = true
		case "spoof", "attack", "fake":
			out[rec[id]] = false
		default:
			return nil, &LineError{File: name, Line: lines[i], Msg: fmt.Sprintf("label %q: want live or spoof", rec[label])}
		}
	}
	return out, nil
}

// ShadowSide is one side's error rates on the labelled sessions.
type ShadowSide struct {
	// APCER: attacks decided realface, of the attacks.
	APCER float64 `json:"apcer"`
	// BPCER: live sessions not decided realface (fake or inconclusive),
	// of the live ones; LiveFake counts the live ones decided fake.
	BPCER    float64 `json:"bpcer"`
	LiveFake int     `json:"live_fake"`
}

// ShadowDiff is a session where the candidate would have decided
// otherwise.
type ShadowDiff struct {
	SessionID     string                 `json:"session_id"`
	CorrelationID string                 `json:"correlation_id"`
	Real          presence.ShadowVerdict `json:"real"`
	Shadow        presence.ShadowVerdict `json:"shadow"`
	AuditImages   int                    `json:"audit_images"`
	// Truth is "live" or "spoof" when the session is labelled.
	Truth string `json:"truth,omitempty"`
}

// ShadowSummary compares the verdicts sessions got with the candidate's.
type ShadowSummary struct {
	Candidates []string `json:"candidates"`
	Sessions   int      `json:"sessions"`
	Agree      int      `json:"agree"`
	// Matrix counts sessions by real decision, then shadow decision.
	Matrix      map[presence.Decision]map[presence.Decision]int `json:"matrix"`
	Differences []ShadowDiff                                    `json:"differences"`
	// Labelled sessions (live, attacks) and both sides' rates on them.
	Live        int         `json:"live"`
	Attacks     int         `json:"attacks"`
	RealRates   *ShadowSide `json:"real_rates,omitempty"`
	ShadowRates *ShadowSide `json:"shadow_rates,omitempty"`
}

// SummarizeShadow compares results; truth (by correlation id) may be nil.
func SummarizeShadow(results []presence.ShadowResult, truth map[string]bool) ShadowSummary {
	s := ShadowSummary{Matrix: map[presence.Decision]map[presence.Decision]int{}, Differences: []ShadowDiff{}, Candidates: []string{}}
	seen := map[string]bool{}
	var real, shadow ShadowSide
	for _, r := range results {
		if !seen[r.Candidate] {
			seen[r.Candidate] = true
			s.Candidates = append(s.Candidates, r.Candidate)
		}
		s.Sessions++
		if s.Matrix[r.Real.Decision] == nil {
			s.Matrix[r.Real.Decision] = map[presence.Decision]int{}
		}
		s.Matrix[r.Real.Decision][r.Shadow.Decision]++
		live, labelled := truth[r.CorrelationID]
		if labelled {
			count := func(side *ShadowSide, d presence.Decision) {
				switch {
				case live && d != presence.DecisionRealFace:
					side.BPCER++
					if d == presence.DecisionFake {
						side.LiveFake++
					}
				case !live && d == presence.DecisionRealFace:
					side.APCER++
				}
			}
			count(&real, r.Real.Decision)
			count(&shadow, r.Shadow.Decision)
			if live {
				s.Live++
			} else {
				s.Attacks++
			}
		}
		if r.Real.Decision == r.Shadow.Decision {
			s.Agree++
			continue
		}
		d := ShadowDiff{SessionID: r.SessionID, CorrelationID: r.CorrelationID, Real: r.Real, Shadow: r.Shadow, AuditImages: r.AuditImages}
		if labelled {
			d.Truth = map[bool]string{true: "live", false: "spoof"}[live]
		}
		s.Differences = append(s.Differences, d)
	}
	if s.Live+s.Attacks > 0 {
		for _, side := range []*ShadowSide{&real, &shadow} {
			if s.Attacks > 0 {
				side.APCER /= float64(s.Attacks)
			}
			if s.Live > 0 {
				side.BPCER /= float64(s.Live)
			}
		}
		s.RealRates, s.ShadowRates = &real, &shadow
	}
	return s
}

// WriteText prints the summary for a person.
func (s ShadowSummary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Shadow evaluation: %d sessions judged by the candidate (%s)\n", s.Sessions, strings.Join(s.Candidates, ", "))
	if s.Sessions == 0 {
		return
	}
	fmt.Fprintf(w, "Agreement: %d of %d (%.1f%%)\n\n", s.Agree, s.Sessions, 100*float64(s.Agree)/float64(s.Sessions))
	decisions := []presence.Decision{presence.DecisionRealFace, presence.DecisionFake, presence.DecisionInconclusive}
	fmt.Fprintf(w, "%-22s", "real \\ candidate")
	for _, d := range decisions {
		fmt.Fprintf(w, "%14s", d)
	}
	fmt.Fprintln(w)
	for _, r := range decisions {
		fmt.Fprintf(w, "%-22s", r)
		for _, c := range decisions {
			fmt.Fprintf(w, "%14d", s.Matrix[r][c])
		}
		fmt.Fprintln(w)
	}
	if s.RealRates != nil {
		fmt.Fprintf(w, "\nLabelled: %d live, %d attacks\n", s.Live, s.Attacks)
		fmt.Fprintf(w, "%-12s %8s %8s %10s\n", "", "APCER", "BPCER", "live→fake")
		fmt.Fprintf(w, "%-12s %7.1f%% %7.1f%% %10d\n", "in service", 100*s.RealRates.APCER, 100*s.RealRates.BPCER, s.RealRates.LiveFake)
		fmt.Fprintf(w, "%-12s %7.1f%% %7.1f%% %10d\n", "candidate", 100*s.ShadowRates.APCER, 100*s.ShadowRates.BPCER, s.ShadowRates.LiveFake)
	}
	if len(s.Differences) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSessions decided otherwise (%d):\n", len(s.Differences))
	diffs := s.Differences
	sort.SliceStable(diffs, func(i, j int) bool { return diffs[i].Truth > diffs[j].Truth })
	for i, d := range diffs {
		if i == 50 {
			fmt.Fprintf(w, "  ... %d more (--json lists them all)\n", len(diffs)-50)
			break
		}
		truth := ""
		if d.Truth != "" {
			truth = " truth " + d.Truth
		}
		images := ""
		if d.AuditImages > 0 {
			images = fmt.Sprintf(", %d audit images (operator console)", d.AuditImages)
		}
		fmt.Fprintf(w, "  %s %q%s: %s %s → candidate %s %s%s\n", d.SessionID, d.CorrelationID, truth,
			d.Real.Decision, reasonCodes(d.Real.Reasons), d.Shadow.Decision, reasonCodes(d.Shadow.Reasons), images)
	}
}

func reasonCodes(rs []presence.Reason) string {
	var codes []string
	for _, r := range rs {
		codes = append(codes, string(r.Code))
	}
	return "[" + strings.Join(codes, ",") + "]"
}
