// Package eval measures Presence on labelled data: presentation attack
// detection metrics as ISO/IEC 30107-3 defines them (APCER per attack type,
// BPCER, BPCER at fixed APCER, DET curves) and verification metrics (ROC,
// EER, TAR at fixed FAR), with JSON and self-contained HTML reports.
package eval

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
)

// Number is a metric value that may be undefined (NaN), e.g. a rate of an
// empty class or the threshold of a target no threshold reaches. It
// encodes NaN as JSON null.
type Number float64

// Rate is an error rate in [0,1], or NaN where it is undefined.
type Rate = Number

// MarshalJSON writes NaN as null.
func (r Number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(r)) || math.IsInf(float64(r), 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(float64(r), 'g', 6, 64)), nil
}

// UnmarshalJSON reads null as NaN.
func (r *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = Rate(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*r = Rate(f)
	return nil
}

// Defined reports whether r is a number.
func (r Number) Defined() bool { return !math.IsNaN(float64(r)) }

var nan = Rate(math.NaN())

// Scores are the scores of two classes. Positives (bona fide
// presentations, genuine pairs) are accepted when score >= threshold;
// negatives (attacks by type, impostor pairs) should be rejected.
type Scores struct {
	Positives []float64
	// Negatives by type; for verification there is one type.
	Negatives map[string][]float64
}

// sorted returns copies of the score lists sorted ascending.
func (s Scores) sorted() ([]float64, map[string][]float64) {
	pos := append([]float64(nil), s.Positives...)
	sort.Float64s(pos)
	negs := map[string][]float64{}
	for k, v := range s.Negatives {
		c := append([]float64(nil), v...)
		sort.Float64s(c)
		negs[k] = c
	}
	return pos, negs
}

// atOrAbove counts values >= t in an ascending slice.
func atOrAbove(sorted []float64, t float64) int {
	return len(sorted) - sort.SearchFloat64s(sorted, t)
}

// Point is one operating point: the threshold and the error rates there.
// FalseAccept is the worst attack type's APCER (or the FAR); FalseReject
// the BPCER (or the FRR).
type Point struct {
	Threshold   Number `json:"threshold"`
	FalseAccept Rate   `json:"false_accept"`
	FalseReject Rate   `json:"false_reject"`
}

// At computes the rates at threshold t. The false accept rate of several
// negative types is the worst type's, as ISO/IEC 30107-3 reports a system's
// APCER as that of its most successful attack.
func (s Scores) At(t float64) Point {
	pos, negs := s.sorted()
	return at(pos, negs, t)
}

func at(pos []float64, negs map[string][]float64, t float64) Point {
	p := Point{Threshold: Number(t), FalseAccept: nan, FalseReject: nan}
	if len(pos) > 0 {
		p.FalseReject = Rate(float64(len(pos)-atOrAbove(pos, t)) / float64(len(pos)))
	}
	for _, n := range negs {
		if len(n) == 0 {
			continue
		}
		fa := Rate(float64(atOrAbove(n, t)) / float64(len(n)))
		if !p.FalseAccept.Defined() || fa > p.FalseAccept {
			p.FalseAccept = fa
		}
	}
	return p
}

// FalseAcceptByType is the false accept rate (APCER) of each negative type
// at threshold t.
func (s Scores) FalseAcceptByType(t float64) map[string]Rate {
	out := map[string]Rate{}
	for k, v := range s.Negatives {
		if len(v) == 0 {
			out[k] = nan
			continue
		}
		c := append([]float64(nil), v...)
		sort.Float64s(c)
		out[k] = Rate(float64(atOrAbove(c, t)) / float64(len(c)))
	}
	return out
}

// Curve is every distinct operating point, thresholds ascending: one at
// each distinct score, and one above the highest score (everything
// rejected).
func (s Scores) Curve() []Point {
	pos, negs := s.sorted()
	var all []float64
	all = append(all, pos...)
	for _, n := range negs {
		all = append(all, n...)
	}
	sort.Float64s(all)
	var out []Point
	for i, v := range all {
		if i > 0 && v == all[i-1] {
			continue
		}
		out = append(out, at(pos, negs, v))
	}
	top := math.Inf(1)
	if len(all) > 0 {
		top = math.Nextafter(all[len(all)-1], math.Inf(1))
	}
	return append(out, at(pos, negs, top))
}

// FalseRejectAtFalseAccept is the operating point with the lowest false
// reject rate among those whose false accept rate is at most target (e.g.
// BPCER at APCER = 1%, or 1-TAR at FAR = 1e-3). ok is false when no
// threshold reaches the target or a class is empty.
func (s Scores) FalseRejectAtFalseAccept(target float64) (Point, bool) {
	for _, p := range s.Curve() {
		if !p.FalseAccept.Defined() || !p.FalseReject.Defined() || float64(p.FalseAccept) > target+1e-12 {
			continue
		}
		// Ascending thresholds: the first point meeting the target has the
		// lowest false reject rate.
		return p, true
	}
	return Point{}, false
}

// FalseAcceptAtFalseReject is the operating point with the lowest false
// accept rate among those whose false reject rate is at most target (e.g.
// APCER at BPCER = 5%).
func (s Scores) FalseAcceptAtFalseReject(target float64) (Point, bool) {
	curve := s.Curve()
	for i := len(curve) - 1; i >= 0; i-- {
		p := curve[i]
		if !p.FalseAccept.Defined() || !p.FalseReject.Defined() || float64(p.FalseReject) > target+1e-12 {
			continue
		}
		return p, true
	}
	return Point{}, false
}

// EER is the equal error rate: at the operating point where the two rates
// are closest, their mean. Threshold is that point's threshold.
func (s Scores) EER() (rate Rate, threshold Number) {
	rate, threshold = nan, nan
	bestGap := math.Inf(1)
	for _, p := range s.Curve() {
		if !p.FalseAccept.Defined() || !p.FalseReject.Defined() {
			continue
		}
		gap := math.Abs(float64(p.FalseAccept - p.FalseReject))
		if gap < bestGap {
			bestGap = gap
			rate = (p.FalseAccept + p.FalseReject) / 2
			threshold = p.Threshold
		}
	}
	return rate, threshold
}

// AUC is the area under the ROC curve: the probability that a random
// positive scores above a random negative (of any type, pooled), ties
// counting one half.
func (s Scores) AUC() Rate {
	var negs []float64
	for _, n := range s.Negatives {
		negs = append(negs, n...)
	}
	if len(s.Positives) == 0 || len(negs) == 0 {
		return nan
	}
	sort.Float64s(negs)
	var sum float64
	for _, p := range s.Positives {
		below := sort.SearchFloat64s(negs, p)
		equal := sort.SearchFloat64s(negs, math.Nextafter(p, math.Inf(1))) - below
		sum += float64(below) + 0.5*float64(equal)
	}
	return Rate(sum / (float64(len(s.Positives)) * float64(len(negs))))
}

// Enough reports whether n negatives can measure a false accept rate as low
// as target at all: with fewer than 1/target samples a single error already
// exceeds it.
func Enough(n int, target float64) bool { return float64(n)*target >= 1 }
