package eval

import (
	"encoding/json"
	"math"
	"testing"
)

func near(a Rate, b float64) bool { return math.Abs(float64(a)-b) < 1e-9 }

// The example worked by hand in the comments: four bona fide scores, two
// attack types.
var handCase = Scores{
	Positives: []float64{0.9, 0.8, 0.7, 0.4},
	Negatives: map[string][]float64{"print": {0.1, 0.3, 0.8}, "screen": {0.2, 0.6}},
}

func TestRatesAtThreshold(t *testing.T) {
	// t=0.5: bona fide below 0.5: 0.4 -> BPCER 1/4. print >= 0.5: 0.8 ->
	// 1/3; screen: 0.6 -> 1/2; the worst type decides: 1/2.
	p := handCase.At(0.5)
	if !near(p.FalseReject, 0.25) || !near(p.FalseAccept, 0.5) {
		t.Errorf("at 0.5: %+v", p)
	}
	// t=0.8: a score equal to the threshold is accepted (print's 0.8).
	p = handCase.At(0.8)
	if !near(p.FalseReject, 0.5) || !near(p.FalseAccept, 1.0/3) {
		t.Errorf("at 0.8: %+v", p)
	}
	by := handCase.FalseAcceptByType(0.5)
	if !near(by["print"], 1.0/3) || !near(by["screen"], 0.5) {
		t.Errorf("by type: %v", by)
	}
}

func TestOperatingPoints(t *testing.T) {
	// APCER <= 0 first reached at t=0.9 (0.8 is an attack score): BPCER 3/4.
	p, ok := handCase.FalseRejectAtFalseAccept(0)
	if !ok || p.Threshold != 0.9 || !near(p.FalseReject, 0.75) {
		t.Errorf("BPCER at APCER=0: %+v %v", p, ok)
	}
	// APCER <= 0.34: at t=0.7 print 1/3, screen 0; BPCER 1/4.
	p, ok = handCase.FalseRejectAtFalseAccept(0.34)
	if !ok || p.Threshold != 0.7 || !near(p.FalseReject, 0.25) || !near(p.FalseAccept, 1.0/3) {
		t.Errorf("BPCER at APCER=0.34: %+v %v", p, ok)
	}
	// BPCER <= 0.25 holds up to t=0.7; APCER there is 1/3.
	p, ok = handCase.FalseAcceptAtFalseReject(0.25)
	if !ok || p.Threshold != 0.7 || !near(p.FalseAccept, 1.0/3) {
		t.Errorf("APCER at BPCER=0.25: %+v %v", p, ok)
	}
}

func TestEERAndAUC(t *testing.T) {
	// Closest rates at t=0.7: APCER 1/3, BPCER 1/4.
	eer, th := handCase.EER()
	if !near(eer, (1.0/3+0.25)/2) || th != 0.7 {
		t.Errorf("EER %v at %v", eer, th)
	}
	// Pooled attacks 0.1 0.2 0.3 0.6 0.8: bona fide 0.9 beats 5, 0.8 beats
	// 4 and ties 1, 0.7 beats 4, 0.4 beats 3: 16.5 of 20.
	if auc := handCase.AUC(); !near(auc, 16.5/20) {
		t.Errorf("AUC %v", auc)
	}
}

func TestTies(t *testing.T) {
	s := Scores{Positives: []float64{0.5, 0.5}, Negatives: map[string][]float64{"x": {0.5}}}
	if auc := s.AUC(); !near(auc, 0.5) {
		t.Errorf("all tied AUC %v", auc)
	}
	// Two points: at 0.5 everything accepted (BPCER 0, APCER 1); above it
	// everything rejected (1, 0). Equal gaps: the first, mean 0.5.
	if eer, th := s.EER(); !near(eer, 0.5) || th != 0.5 {
		t.Errorf("tied EER %v at %v", eer, th)
	}
	curve := s.Curve()
	if len(curve) != 2 || !near(curve[1].FalseReject, 1) || !near(curve[1].FalseAccept, 0) {
		t.Errorf("curve %+v", curve)
	}
}

func TestEmptyClasses(t *testing.T) {
	noAttacks := Scores{Positives: []float64{0.2, 0.9}}
	if _, ok := noAttacks.FalseRejectAtFalseAccept(0.01); ok {
		t.Error("an operating point without attacks")
	}
	if noAttacks.AUC().Defined() {
		t.Error("AUC without attacks")
	}
	if eer, _ := noAttacks.EER(); eer.Defined() {
		t.Error("EER without attacks")
	}
	if p := noAttacks.At(0.5); p.FalseAccept.Defined() || !near(p.FalseReject, 0.5) {
		t.Errorf("rates without attacks: %+v", p)
	}
	noBona := Scores{Negatives: map[string][]float64{"print": {0.1}, "empty type": nil}}
	if p := noBona.At(0.5); p.FalseReject.Defined() || !near(p.FalseAccept, 0) {
		t.Errorf("rates without bona fide: %+v", p)
	}
	if by := noBona.FalseAcceptByType(0.5); by["empty type"].Defined() {
		t.Error("APCER of an attack type without samples")
	}
	empty := Scores{}
	if len(empty.Curve()) != 1 || empty.AUC().Defined() {
		t.Error("empty scores")
	}
}

func TestRateJSON(t *testing.T) {
	b, err := json.Marshal(struct{ A, B Rate }{0.25, nan})
	if err != nil || string(b) != `{"A":0.25,"B":null}` {
		t.Fatalf("%s %v", b, err)
	}
	var back struct{ A, B Rate }
	if err := json.Unmarshal(b, &back); err != nil || back.A != 0.25 || back.B.Defined() {
		t.Fatalf("%+v %v", back, err)
	}
}

func TestEnough(t *testing.T) {
	if Enough(99, 0.01) || !Enough(100, 0.01) || Enough(999, 1e-3) {
		t.Error("sample size rule")
	}
}
