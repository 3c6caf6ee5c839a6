package engine

import (
	"math"

	"presence"
)

// QualityReasons lists every quality gate the face fails, in the order a
// person should fix them: get alone in frame, come closer, fix the light,
// hold still, face the camera, open the eyes.
func QualityReasons(q presence.Quality, t Thresholds) []presence.Reason {
	var rs []presence.Reason
	add := func(c presence.ReasonCode) { rs = append(rs, presence.NewReason(c)) }
	if q.FaceCount > 1 {
		add(presence.ReasonMultipleFaces)
	}
	if q.OutsideFraction > t.MaxOutsideFraction {
		add(presence.ReasonFaceCutOff)
	}
	if q.FaceSize < t.MinFaceSize {
		add(presence.ReasonFaceTooSmall)
	}
	switch {
	case q.Brightness < t.MinBrightness || q.DarkFraction > t.MaxDarkFraction:
		if q.BackgroundBrightness-q.Brightness > t.BacklightDifference {
			add(presence.ReasonBacklit)
		} else {
			add(presence.ReasonTooDark)
		}
	case q.Brightness > t.MaxBrightness || q.BrightFraction > t.MaxBrightFraction:
		add(presence.ReasonTooBright)
	case q.BackgroundBrightness-q.Brightness > t.BacklightDifference:
		add(presence.ReasonBacklit)
	}
	if q.Sharpness < t.MinSharpness {
		add(presence.ReasonTooBlurry)
	}
	if math.Abs(q.Yaw) > t.MaxYaw || math.Abs(q.Pitch) > t.MaxPitch || math.Abs(q.Roll) > t.MaxRoll {
		add(presence.ReasonPoseOutOfRange)
	}
	if q.LeftEyeOpen < t.MinEyeOpen && q.RightEyeOpen < t.MinEyeOpen && q.EyeAspectRatio < t.MaxClosedEyeAspect {
		add(presence.ReasonEyesClosed)
	}
	return rs
}

// Decide turns quality and the fused liveness score into a decision. The
// quality gates come first: a frame too poor to judge is inconclusive, never
// fake, because calling a real person in bad light a spoof is the worst
// error after accepting a spoof.
func Decide(q presence.Quality, score float64, t Thresholds) (presence.Decision, []presence.Reason) {
	if rs := QualityReasons(q, t); len(rs) > 0 {
		return presence.DecisionInconclusive, rs
	}
	if score >= t.Liveness {
		return presence.DecisionRealFace, []presence.Reason{}
	}
	return presence.DecisionFake, []presence.Reason{presence.NewReason(presence.ReasonSpoofSuspected)}
}
