package eval

import (
	"fmt"
	"math"
	"sort"

	"presence"
)

// PADResult is one sample with what the pipeline said.
type PADResult struct {
	Sample
	Outcome
}

// Target is an operating point asked for, e.g. BPCER at APCER = 1%.
type Target struct {
	// Target is the fixed rate (0.01 for "at APCER = 1%").
	Target float64 `json:"target"`
	Point
	// Reached is false when no threshold meets the target.
	Reached bool `json:"reached"`
	// Enough is false when the class defining the target has fewer than
	// 1/target samples: the rate cannot be measured that finely.
	Enough bool `json:"enough_samples"`
}

// DecisionCounts counts the decisions on one class.
type DecisionCounts struct {
	RealFace     int `json:"realface"`
	Fake         int `json:"fake"`
	Inconclusive int `json:"inconclusive"`
	Errors       int `json:"errors"`
}

// Analysed counts the samples that were read and judged.
func (d DecisionCounts) Analysed() int { return d.RealFace + d.Fake + d.Inconclusive }

// AtThreshold is the system as configured: decisions including the quality
// gates, at the configured liveness threshold.
type AtThreshold struct {
	Threshold float64 `json:"threshold"`
	// APCERByType: attacks accepted as realface / attacks analysed.
	APCERByType map[string]Rate `json:"apcer_by_type"`
	APCERWorst  Rate            `json:"apcer_worst"`
	WorstType   string          `json:"worst_type"`
	// BPCER: bona fide judged fake / bona fide analysed.
	BPCER Rate `json:"bpcer"`
	// BPCERWithInconclusive also counts bona fide presentations sent back
	// as inconclusive: what a person experiences as "did not pass".
	BPCERWithInconclusive Rate `json:"bpcer_with_inconclusive"`
	// InconclusiveLive and InconclusiveSpoof are the shares of each class
	// stopped by the quality gates.
	InconclusiveLive  Rate `json:"inconclusive_live"`
	InconclusiveSpoof Rate `json:"inconclusive_spoof"`
}

// Listed is a sample listed by name in a report.
type Listed struct {
	Path       string                `json:"path"`
	Line       int                   `json:"line"`
	Live       bool                  `json:"live"`
	AttackType string                `json:"attack_type,omitempty"`
	Reasons    []presence.ReasonCode `json:"reasons,omitempty"`
	Error      string                `json:"error,omitempty"`
}

// Group is the configured-threshold view of one value of an extra column.
type Group struct {
	Column       string `json:"column"`
	Value        string `json:"value"`
	Live         int    `json:"live"`
	Spoof        int    `json:"spoof"`
	APCER        Rate   `json:"apcer"`
	BPCER        Rate   `json:"bpcer"`
	Inconclusive int    `json:"inconclusive"`
}

// Histogram counts scores in equal bins between Edges[0] and the last edge.
type Histogram struct {
	Edges   []float64        `json:"edges"`
	Classes map[string][]int `json:"classes"`
}

// PADReport is the result of `presence eval pad`.
type PADReport struct {
	Kind      string                  `json:"kind"`
	Dataset   string                  `json:"dataset"`
	Generated string                  `json:"generated"`
	Models    []presence.ModelVersion `json:"models,omitempty"`
	Samples   int                     `json:"samples"`
	// Decisions by class ("live" and each attack type).
	Decisions map[string]DecisionCounts `json:"decisions"`
	// Score metrics are computed on the samples that passed the quality
	// gates (decision realface or fake): those are the ones the liveness
	// threshold decides. Scored counts them by class.
	Scored        map[string]int `json:"scored"`
	EER           Rate           `json:"eer"`
	EERThreshold  Number         `json:"eer_threshold"`
	AUC           Rate           `json:"auc"`
	BPCERAtAPCER1 Target         `json:"bpcer_at_apcer_1pct"`
	BPCERAtAPCER5 Target         `json:"bpcer_at_apcer_5pct"`
	APCERAtBPCER5 Target         `json:"apcer_at_bpcer_5pct"`
	Configured    AtThreshold    `json:"at_configured_threshold"`
	Inconclusive  []Listed       `json:"inconclusive"`
	Errors        []Listed       `json:"errors"`
	Breakdown     []Group        `json:"breakdown,omitempty"`
	// Gates and Measures are the evidence for the quality gates: what
	// each gate sends back and how the score does along each measure.
	Gates    []GateBucket  `json:"gates,omitempty"`
	Measures []MeasureBins `json:"measures,omitempty"`
	// ModelsAlone are the liveness models judged one at a time (with
	// more than one model), and the fused score.
	ModelsAlone    []ModelMetrics `json:"models_alone,omitempty"`
	DET            []Point        `json:"det"`
	ScoreHistogram Histogram      `json:"score_histogram"`
	Results        []PADResult    `json:"results"`
}

const liveClass = "live"

// NewPADReport computes every metric from per-sample results.
func NewPADReport(results []PADResult, threshold float64, by []string) *PADReport {
	r := &PADReport{Kind: "pad", Samples: len(results), Decisions: map[string]DecisionCounts{}, Scored: map[string]int{}, Results: results}
	scores := Scores{Negatives: map[string][]float64{}}
	for _, res := range results {
		class := liveClass
		if !res.Live {
			class = res.AttackType
			if _, ok := scores.Negatives[class]; !ok {
				scores.Negatives[class] = nil
			}
		}
		d := r.Decisions[class]
		listed := Listed{Path: res.Path, Line: res.Line, Live: res.Live, AttackType: res.AttackType, Reasons: res.Reasons, Error: res.Error}
		switch {
		case res.Error != "":
			d.Errors++
			r.Errors = append(r.Errors, listed)
		case res.Decision == presence.DecisionInconclusive:
			d.Inconclusive++
			r.Inconclusive = append(r.Inconclusive, listed)
		case res.Decision == presence.DecisionRealFace:
			d.RealFace++
		default:
			d.Fake++
		}
		r.Decisions[class] = d
		if res.Error == "" && res.Decision != presence.DecisionInconclusive && res.Score != nil {
			r.Scored[class]++
			if res.Live {
				scores.Positives = append(scores.Positives, *res.Score)
			} else {
				scores.Negatives[class] = append(scores.Negatives[class], *res.Score)
			}
		}
	}
	r.EER, r.EERThreshold = scores.EER()
	r.AUC = scores.AUC()
	smallestAttackClass := math.MaxInt
	for k := range scores.Negatives {
		smallestAttackClass = min(smallestAttackClass, r.Scored[k])
	}
	r.BPCERAtAPCER1 = target(scores.FalseRejectAtFalseAccept, 0.01, smallestAttackClass)
	r.BPCERAtAPCER5 = target(scores.FalseRejectAtFalseAccept, 0.05, smallestAttackClass)
	r.APCERAtBPCER5 = target(scores.FalseAcceptAtFalseReject, 0.05, r.Scored[liveClass])
	r.Configured = configured(r.Decisions, threshold)
	r.Breakdown = breakdown(results, by)
	r.Gates, r.Measures = gateAnalysis(results, threshold)
	r.ModelsAlone = modelMetrics(results, threshold)
	r.ModelsAlone = modelMetrics(results, threshold)
	r.DET = thin(scores.Curve(), 400)
	r.ScoreHistogram = histogram(0, 1, 20, classScores(results))
	return r
}

func target(f func(float64) (Point, bool), rate float64, classSize int) Target {
	p, ok := f(rate)
	if !ok {
		p = Point{FalseAccept: nan, FalseReject: nan, Threshold: nan}
	}
	return Target{Target: rate, Point: p, Reached: ok, Enough: classSize != math.MaxInt && Enough(classSize, rate)}
}

func configured(dec map[string]DecisionCounts, threshold float64) AtThreshold {
	c := AtThreshold{Threshold: threshold, APCERByType: map[string]Rate{}, APCERWorst: nan, BPCER: nan, BPCERWithInconclusive: nan, InconclusiveLive: nan, InconclusiveSpoof: nan}
	var spoofN, spoofInc int
	for _, class := range sortedKeys(dec) {
		d := dec[class]
		n := d.Analysed()
		if class == liveClass {
			if n > 0 {
				c.BPCER = Rate(float64(d.Fake) / float64(n))
				c.BPCERWithInconclusive = Rate(float64(d.Fake+d.Inconclusive) / float64(n))
				c.InconclusiveLive = Rate(float64(d.Inconclusive) / float64(n))
			}
			continue
		}
		spoofN += n
		spoofInc += d.Inconclusive
		a := nan
		if n > 0 {
			a = Rate(float64(d.RealFace) / float64(n))
		}
		c.APCERByType[class] = a
		if a.Defined() && (!c.APCERWorst.Defined() || a > c.APCERWorst) {
			c.APCERWorst, c.WorstType = a, class
		}
	}
	if spoofN > 0 {
		c.InconclusiveSpoof = Rate(float64(spoofInc) / float64(spoofN))
	}
	return c
}

func breakdown(results []PADResult, by []string) []Group {
	var out []Group
	for _, col := range by {
		groups := map[string]*Group{}
		accepted, rejected := map[string]int{}, map[string]int{}
		for _, res := range results {
			v, ok := res.Extra[col]
			if !ok || res.Error != "" {
				continue
			}
			g := groups[v]
			if g == nil {
				g = &Group{Column: col, Value: v}
				groups[v] = g
			}
			if res.Live {
				g.Live++
			} else {
				g.Spoof++
			}
			switch {
			case res.Decision == presence.DecisionInconclusive:
				g.Inconclusive++
			case res.Live && res.Decision == presence.DecisionFake:
				rejected[v]++
			case !res.Live && res.Decision == presence.DecisionRealFace:
				accepted[v]++
			}
		}
		for _, v := range sortedKeys(groups) {
			g := groups[v]
			g.APCER, g.BPCER = nan, nan
			if g.Spoof > 0 {
				g.APCER = Rate(float64(accepted[v]) / float64(g.Spoof))
			}
			if g.Live > 0 {
				g.BPCER = Rate(float64(rejected[v]) / float64(g.Live))
			}
			out = append(out, *g)
		}
	}
	return out
}

func classScores(results []PADResult) map[string][]float64 {
	out := map[string][]float64{}
	for _, res := range results {
		if res.Score == nil || res.Error != "" || res.Decision == presence.DecisionInconclusive {
			continue
		}
		class := liveClass
		if !res.Live {
			class = res.AttackType
		}
		out[class] = append(out[class], *res.Score)
	}
	return out
}

func histogram(lo, hi float64, bins int, classes map[string][]float64) Histogram {
	h := Histogram{Classes: map[string][]int{}}
	for i := 0; i <= bins; i++ {
		h.Edges = append(h.Edges, lo+(hi-lo)*float64(i)/float64(bins))
	}
	for class, vs := range classes {
		counts := make([]int, bins)
		for _, v := range vs {
			i := int((v - lo) / (hi - lo) * float64(bins))
			counts[max(0, min(bins-1, i))]++
		}
		h.Classes[class] = counts
	}
	return h
}

// thin keeps at most n points of a curve, always its two ends.
func thin(curve []Point, n int) []Point {
	if len(curve) <= n {
		return curve
	}
	out := make([]Point, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, curve[i*(len(curve)-1)/(n-1)])
	}
	return out
}

// PairScore is the similarity of one scored pair.
type PairScore struct {
	Line       int     `json:"line"`
	A          string  `json:"a"`
	B          string  `json:"b"`
	Same       bool    `json:"same"`
	Similarity float64 `json:"similarity"`
}

// VerifyReport is the result of `presence eval verify`.
type VerifyReport struct {
	Kind      string                  `json:"kind"`
	Dataset   string                  `json:"dataset"`
	Generated string                  `json:"generated"`
	Models    []presence.ModelVersion `json:"models,omitempty"`
	Pairs     int                     `json:"pairs"`
	Genuine   int                     `json:"genuine_scored"`
	Impostor  int                     `json:"impostor_scored"`
	// FailedPairs could not be scored because an image had no face or
	// could not be read (failure to acquire); they are left out of the
	// metrics and their images listed.
	FailedPairs  int      `json:"failed_pairs"`
	FailedImages []Listed `json:"failed_images"`
	AUC          Rate     `json:"auc"`
	EER          Rate     `json:"eer"`
	EERThreshold Number   `json:"eer_threshold"`
	TARAtFAR     []Target `json:"tar_at_far"`
	Configured   struct {
		Threshold float64 `json:"threshold"`
		TAR       Rate    `json:"tar"`
		FAR       Rate    `json:"far"`
	} `json:"at_configured_threshold"`
	ROC       []Point   `json:"roc"`
	Histogram Histogram `json:"similarity_histogram"`
	// Slices break the pairs down by a column of labels.csv (--by).
	Slices []VerifySlice `json:"slices,omitempty"`
	Scores []PairScore   `json:"scores"`
}

// NewVerifyReport scores the pairs from per-image outcomes.
func NewVerifyReport(pairs []Pair, outcomes map[string]Outcome, threshold float64) *VerifyReport {
	r := &VerifyReport{Kind: "verify", Pairs: len(pairs)}
	failed := map[string]bool{}
	scores := Scores{Negatives: map[string][]float64{"impostor": nil}}
	for _, p := range pairs {
		a, b := outcomes[p.FileA], outcomes[p.FileB]
		ok := true
		for path, o := range map[string]Outcome{p.A: a, p.B: b} { // CSV names, for the listing
			if len(o.Embedding) == 0 {
				ok = false
				if !failed[path] {
					failed[path] = true
					reason := o.Error
					if reason == "" {
						reason = "no face found"
					}
					r.FailedImages = append(r.FailedImages, Listed{Path: path, Line: p.Line, Reasons: o.Reasons, Error: reason})
				}
			}
		}
		if !ok {
			r.FailedPairs++
			continue
		}
		s := a.Embedding.Similarity(b.Embedding)
		r.Scores = append(r.Scores, PairScore{Line: p.Line, A: p.A, B: p.B, Same: p.Same, Similarity: s})
		if p.Same {
			scores.Positives = append(scores.Positives, s)
			r.Genuine++
		} else {
			scores.Negatives["impostor"] = append(scores.Negatives["impostor"], s)
			r.Impostor++
		}
	}
	sort.Slice(r.FailedImages, func(i, j int) bool { return r.FailedImages[i].Path < r.FailedImages[j].Path })
	r.AUC = scores.AUC()
	r.EER, r.EERThreshold = scores.EER()
	for _, far := range []float64{1e-2, 1e-3} {
		t := target(scores.FalseRejectAtFalseAccept, far, r.Impostor)
		r.TARAtFAR = append(r.TARAtFAR, t)
	}
	at := scores.At(threshold)
	r.Configured.Threshold = threshold
	r.Configured.FAR = at.FalseAccept
	r.Configured.TAR = nan
	if at.FalseReject.Defined() {
		r.Configured.TAR = 1 - at.FalseReject
	}
	r.ROC = thin(scores.Curve(), 400)
	r.Histogram = histogram(-0.2, 1, 24, map[string][]float64{"same person": scores.Positives, "different people": scores.Negatives["impostor"]})
	return r
}

// TAR of a target point (1 - its false reject rate).
func (t Target) TAR() Rate {
	if !t.FalseReject.Defined() {
		return nan
	}
	return 1 - t.FalseReject
}

// pct formats a rate as a percentage, "n/a" when undefined.
func pct(r Rate) string {
	if !r.Defined() {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(r))
}
