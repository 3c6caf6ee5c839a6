package eval

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"

	"presence"
)

// GateBucket is what one quality gate sends back on a dataset, and how
// well the liveness score would have judged those samples had the gate
// let them through: a gate earns its place only where the score errs
// inside it.
type GateBucket struct {
	Gate  presence.ReasonCode `json:"gate"`
	Live  int                 `json:"live"`
	Spoof int                 `json:"spoof"`
	// AUC, BPCER and APCER are of the gated samples' scores, at the
	// configured threshold.
	AUC   Rate `json:"auc"`
	BPCER Rate `json:"bpcer"`
	APCER Rate `json:"apcer"`
}

// MeasureBin is the samples whose quality measure lies in [Lo, Hi).
type MeasureBin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Live  int     `json:"live"`
	Spoof int     `json:"spoof"`
	// BPCER and APCER at the configured threshold, gates ignored.
	BPCER Rate `json:"bpcer"`
	APCER Rate `json:"apcer"`
}

// MeasureBins spreads one quality measure over bins of equal sample
// counts, to show where along it the score starts to err.
type MeasureBins struct {
	Measure string       `json:"measure"`
	Bins    []MeasureBin `json:"bins"`
}

// qualityMeasures are the measures the gates read.
var qualityMeasures = []struct {
	name string
	get  func(q presence.Quality) float64
}{
	{"brightness", func(q presence.Quality) float64 { return q.Brightness }},
	{"bright_fraction", func(q presence.Quality) float64 { return q.BrightFraction }},
	{"dark_fraction", func(q presence.Quality) float64 { return q.DarkFraction }},
	{"background_minus_face", func(q presence.Quality) float64 { return q.BackgroundBrightness - q.Brightness }},
	{"sharpness", func(q presence.Quality) float64 { return q.Sharpness }},
	{"face_size", func(q presence.Quality) float64 { return q.FaceSize }},
	{"abs_yaw", func(q presence.Quality) float64 { return math.Abs(q.Yaw) }},
	{"abs_pitch", func(q presence.Quality) float64 { return math.Abs(q.Pitch) }},
	{"eye_open", func(q presence.Quality) float64 { return math.Min(q.LeftEyeOpen, q.RightEyeOpen) }},
}

// gateAnalysis builds the gate buckets and measure bins of the samples
// that have a face and a score.
func gateAnalysis(results []PADResult, threshold float64) ([]GateBucket, []MeasureBins) {
	var scored []PADResult
	for _, r := range results {
		if r.Score != nil && r.Quality != nil {
			scored = append(scored, r)
		}
	}
	if len(scored) == 0 {
		return nil, nil
	}
	byGate := map[string][]PADResult{}
	for _, r := range scored {
		for _, code := range r.Reasons {
			if code != presence.ReasonSpoofSuspected {
				byGate[string(code)] = append(byGate[string(code)], r)
			}
		}
	}
	var gates []GateBucket
	for _, code := range sortedKeys(byGate) {
		gates = append(gates, bucket(presence.ReasonCode(code), byGate[code], threshold))
	}
	var measures []MeasureBins
	for _, m := range qualityMeasures {
		sorted := append([]PADResult(nil), scored...)
		sort.SliceStable(sorted, func(i, j int) bool { return m.get(*sorted[i].Quality) < m.get(*sorted[j].Quality) })
		const bins = 8
		mb := MeasureBins{Measure: m.name}
		for b := range bins {
			part := sorted[b*len(sorted)/bins : (b+1)*len(sorted)/bins]
			if len(part) == 0 {
				continue
			}
			g := bucket("", part, threshold)
			mb.Bins = append(mb.Bins, MeasureBin{Lo: m.get(*part[0].Quality), Hi: m.get(*part[len(part)-1].Quality), Live: g.Live, Spoof: g.Spoof, BPCER: g.BPCER, APCER: g.APCER})
		}
		measures = append(measures, mb)
	}
	return gates, measures
}

func bucket(code presence.ReasonCode, rs []PADResult, threshold float64) GateBucket {
	g := GateBucket{Gate: code}
	s := Scores{Negatives: map[string][]float64{}}
	var falseReject, falseAccept int
	for _, r := range rs {
		if r.Live {
			g.Live++
			s.Positives = append(s.Positives, *r.Score)
			if *r.Score < threshold {
				falseReject++
			}
		} else {
			g.Spoof++
			s.Negatives[r.AttackType] = append(s.Negatives[r.AttackType], *r.Score)
			if *r.Score >= threshold {
				falseAccept++
			}
		}
	}
	g.AUC, g.BPCER, g.APCER = s.AUC(), ratio(falseReject, g.Live), ratio(falseAccept, g.Spoof)
	return g
}

// writeGates prints the gate buckets and measure bins.
func writeGates(w io.Writer, gates []GateBucket, measures []MeasureBins, threshold float64) {
	if len(gates) == 0 && len(measures) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nquality gates: what each sends back, and how the score would have done there (threshold %.3f)\n", threshold)
	fmt.Fprintf(tw, "gate\tlive\tspoof\tAUC\tBPCER\tAPCER\n")
	for _, g := range gates {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", g.Gate, g.Live, g.Spoof, f4(Number(g.AUC)), pct(g.BPCER), pct(g.APCER))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nquality measures in 8 bins of equal counts (gates ignored): live/spoof, BPCER/APCER at the threshold\n")
	for _, m := range measures {
		fmt.Fprintf(w, "  %-22s", m.Measure)
		for _, b := range m.Bins {
			fmt.Fprintf(w, " [%.3g..%.3g] %d/%d %s/%s;", b.Lo, b.Hi, b.Live, b.Spoof, pctShort(b.BPCER), pctShort(b.APCER))
		}
		fmt.Fprintln(w)
	}
}

func pctShort(r Rate) string {
	if !r.Defined() {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(r))
}

// ModelMetrics is one liveness model judged alone, on the samples that
// passed the quality gates.
type ModelMetrics struct {
	Model string `json:"model"`
	AUC   Rate   `json:"auc"`
	EER   Rate   `json:"eer"`
	// BPCERAtAPCER1 is the share of live samples rejected where 1% of
	// attacks get through.
	BPCERAtAPCER1 Target `json:"bpcer_at_apcer_1pct"`
	// At the configured threshold.
	APCER Rate `json:"apcer"`
	BPCER Rate `json:"bpcer"`
}

// modelMetrics computes each model's metrics, and those of the fused
// score under the name "fused".
func modelMetrics(results []PADResult, threshold float64) []ModelMetrics {
	per := map[string]*Scores{}
	var order []string
	add := func(name string, live bool, attack string, v float64) {
		s := per[name]
		if s == nil {
			s = &Scores{Negatives: map[string][]float64{}}
			per[name] = s
			order = append(order, name)
		}
		if live {
			s.Positives = append(s.Positives, v)
		} else {
			s.Negatives[attack] = append(s.Negatives[attack], v)
		}
	}
	for _, r := range results {
		if r.Score == nil || r.Decision == presence.DecisionInconclusive || len(r.Models) < 2 {
			continue
		}
		for _, m := range r.Models {
			add(m.Model, r.Live, r.AttackType, m.Score)
		}
		add("fused", r.Live, r.AttackType, *r.Score)
	}
	var out []ModelMetrics
	for _, name := range order {
		s := per[name]
		eer, _ := s.EER()
		at := s.At(threshold)
		out = append(out, ModelMetrics{Model: name, AUC: s.AUC(), EER: eer, BPCERAtAPCER1: target(s.FalseRejectAtFalseAccept, 0.01, s.negativeCount()),
			APCER: at.FalseAccept, BPCER: at.FalseReject})
	}
	return out
}

func (s Scores) negativeCount() int {
	n := 0
	for _, v := range s.Negatives {
		n += len(v)
	}
	return n
}

func writeModels(w io.Writer, ms []ModelMetrics, threshold float64) {
	if len(ms) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\neach liveness model alone (samples that passed the gates), and the fused score\nmodel\tAUC\tEER\tBPCER@APCER=1%%\tAPCER / BPCER at %.3f\n", threshold)
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s / %s\n", m.Model, f4(Number(m.AUC)), pct(m.EER), pct(m.BPCERAtAPCER1.FalseReject), pct(m.APCER), pct(m.BPCER))
	}
	tw.Flush()
}
