package liveness

import (
	"sort"

	"presence"
)

// ScoreRule turns the scores of the judged frames of a session into a
// decision.
type ScoreRule struct {
	// Liveness is the fused score a realface verdict needs.
	Liveness float64
	// ConfidentFake: a fake verdict needs the fused score below this and
	// at least two thirds of the frames below Liveness. Between the two,
	// the session is inconclusive (liveness_uncertain): calling a real
	// person a spoof is the worst error after accepting a spoof, and a
	// borderline score is where a backlit webcam or a bad frame lands.
	// Zero means Liveness (any fused score below it is fake).
	ConfidentFake float64
}

// judgeScores is the verdict of the judged frames' scores: the fused
// score is their lower median, so no single frame decides.
func (r ScoreRule) judgeScores(scores []float64) (presence.Decision, float64, []presence.Reason) {
	s := append([]float64(nil), scores...)
	sort.Float64s(s)
	fused := s[(len(s)-1)/2]
	if fused >= r.Liveness {
		return presence.DecisionRealFace, fused, []presence.Reason{}
	}
	below := 0
	for _, v := range s {
		if v < r.Liveness {
			below++
		}
	}
	confident := r.ConfidentFake
	if confident <= 0 {
		confident = r.Liveness
	}
	if fused < confident && 3*below >= 2*len(s) {
		return presence.DecisionFake, fused, []presence.Reason{presence.NewReason(presence.ReasonSpoofSuspected)}
	}
	return presence.DecisionInconclusive, fused, []presence.Reason{presence.NewReason(presence.ReasonLivenessUncertain)}
}
