package engine

import (
	"math"

	"presence"
)

// closeFaceFraction: a cut-off face taller than this share of the frame is
// too close rather than off centre.
const closeFaceFraction = 0.6

// QualityReasons lists every quality gate the face fails, in the order a
// person should fix them: get alone in frame, come closer, fix the light,
// hold still, face the camera. Closed eyes stop no frame: the score did not
// err on them (docs/thresholds.md); active checks read the eyes themselves.
func QualityReasons(q presence.Quality, t Thresholds) []presence.Reason {
	var rs []presence.Reason
	add := func(c presence.ReasonCode) { rs = append(rs, presence.NewReason(c)) }
	if q.FaceCount > 1 {
		add(presence.ReasonMultipleFaces)
	}
	if q.OutsideFraction > t.MaxOutsideFraction {
		// Cut off because it fills the frame: move back; else centre it.
		if q.FaceHeightFraction > closeFaceFraction {
			add(presence.ReasonFaceTooClose)
		} else {
			add(presence.ReasonFaceCutOff)
		}
	}
	if q.FaceSize < t.MinFaceSize {
		add(presence.ReasonFaceTooSmall)
	}
	// Exposure from the face's own pixels: too dark (and, with a much
	// brighter background, backlit), or blown out. A bright background
	// behind a well-exposed face stops nothing: the score held there on
	// the dev webcam (docs/thresholds.md).
	switch {
	case q.Brightness < t.MinBrightness || q.DarkFraction > t.MaxDarkFraction:
		if q.BackgroundBrightness-q.Brightness > t.BacklightDifference {
			add(presence.ReasonBacklit)
		} else {
			add(presence.ReasonTooDark)
		}
	case q.BrightFraction > t.MaxBrightFraction:
		add(presence.ReasonTooBright)
	}
	if q.Sharpness < t.MinSharpness {
		add(presence.ReasonTooBlurry)
	}
	if math.Abs(q.Yaw) > t.MaxYaw || math.Abs(q.Pitch) > t.MaxPitch || math.Abs(q.Roll) > t.MaxRoll {
		add(presence.ReasonPoseOutOfRange)
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
