package presence

// ReasonCode is a stable, machine-readable cause attached to a verdict.
// Relying parties switch on it; people read the Message that goes with it.
type ReasonCode string

// Reason codes of the one-frame pipeline. Quality reasons make a frame
// inconclusive; spoof_suspected makes it fake.
const (
	ReasonNoFace          ReasonCode = "no_face"
	ReasonMultipleFaces   ReasonCode = "multiple_faces"
	ReasonFaceTooSmall    ReasonCode = "face_too_small"
	ReasonFaceCutOff      ReasonCode = "face_cut_off"
	ReasonFaceTooClose    ReasonCode = "face_too_close"
	ReasonTooDark         ReasonCode = "too_dark"
	ReasonTooBright       ReasonCode = "too_bright"
	ReasonBacklit         ReasonCode = "backlit"
	ReasonTooBlurry       ReasonCode = "too_blurry"
	ReasonPoseOutOfRange  ReasonCode = "pose_out_of_range"
	ReasonEyesClosed      ReasonCode = "eyes_closed"
	ReasonSpoofSuspected  ReasonCode = "spoof_suspected"
	ReasonFaceMismatch    ReasonCode = "face_mismatch"
	ReasonReferenceNoFace ReasonCode = "reference_no_face"
	// ReasonFaceChanged: the frames of one session show different people.
	ReasonFaceChanged ReasonCode = "face_changed"
	// ReasonLivenessUncertain: the frames were judged, but the score is
	// neither a pass nor a confident spoof.
	ReasonLivenessUncertain ReasonCode = "liveness_uncertain"

	// Active sessions and streams.
	ReasonFaceLost        ReasonCode = "face_lost"
	ReasonChallengeFailed ReasonCode = "challenge_failed"
	ReasonTooFewFrames    ReasonCode = "too_few_frames"
	ReasonReplayedFrame   ReasonCode = "replayed_frame"
	ReasonTimingAnomaly   ReasonCode = "timing_anomaly"
	// ReasonInjectionSuspected: the device reported a known virtual
	// camera and the relying party refuses them.
	ReasonInjectionSuspected ReasonCode = "injection_suspected"
	// ReasonLightMismatch: the light on the face did not follow the
	// colours the screen showed (light challenge).
	ReasonLightMismatch ReasonCode = "light_mismatch"
	// ReasonLightUnmeasurable: the screen's light could not be measured on
	// the face (bright daylight, a dim screen): inconclusive.
	ReasonLightUnmeasurable ReasonCode = "light_unmeasurable"
	// ReasonFlatFace: during a head turn the face moved as a flat picture
	// does, not as a head.
	ReasonFlatFace       ReasonCode = "flat_face"
	ReasonConnectionLost ReasonCode = "connection_lost"
	ReasonSessionTimeout ReasonCode = "session_timeout"
)

// Reason is a code with the short sentence a person in front of the camera
// understands.
type Reason struct {
	Code    ReasonCode `json:"code"`
	Message string     `json:"message"`
}

// reasonMessages holds the guidance shown to people. It says what to do, not
// what the model measured, so it helps an honest user and not an attacker.
var reasonMessages = map[ReasonCode]string{
	ReasonNoFace:          "Look at the camera",
	ReasonMultipleFaces:   "Make sure only you are in view",
	ReasonFaceTooSmall:    "Move closer",
	ReasonFaceCutOff:      "Center your face in the frame",
	ReasonFaceTooClose:    "Move back a little",
	ReasonTooDark:         "Find a brighter space",
	ReasonTooBright:       "Move out of direct light",
	ReasonBacklit:         "Face the light; avoid a bright background",
	ReasonTooBlurry:       "Hold still",
	ReasonPoseOutOfRange:  "Look at the camera",
	ReasonEyesClosed:      "Open your eyes",
	ReasonSpoofSuspected:  "We could not confirm a live person",
	ReasonFaceMismatch:    "The face does not match",
	ReasonReferenceNoFace: "No face found in the reference image",
	ReasonFaceChanged:     "Keep only your own face in view",
	// Deliberately the advice for any honest capture, not a hint of what
	// the model saw.
	ReasonLivenessUncertain: "Face a light, hold still and try again",
	ReasonFaceLost:          "Keep your face in view",
	ReasonChallengeFailed:   "Follow the instructions on the screen",
	ReasonTooFewFrames:      "Hold still and keep looking at the camera",
	// Replay and timing findings get the spoof message: details would
	// coach an attacker.
	ReasonReplayedFrame:      "We could not confirm a live person",
	ReasonTimingAnomaly:      "We could not confirm a live person",
	ReasonInjectionSuspected: "We could not confirm a live person",
	ReasonLightMismatch:      "We could not confirm a live person",
	ReasonFlatFace:           "We could not confirm a live person",
	ReasonLightUnmeasurable:  "Turn up your screen brightness and move out of direct sunlight",
	ReasonConnectionLost:     "The connection was lost; please try again",
	ReasonSessionTimeout:     "Time is up; please try again",
}

// NewReason returns the reason for code with its standard message. Every
// code is in the one table above (a test checks), so the API documents them
// in one place.
func NewReason(code ReasonCode) Reason {
	if m, ok := reasonMessages[code]; ok {
		return Reason{Code: code, Message: m}
	}
	return Reason{Code: code, Message: string(code)}
}

// ReasonCodes lists every known code, for documentation and tests.
func ReasonCodes() []ReasonCode {
	out := make([]ReasonCode, 0, len(reasonMessages))
	for c := range reasonMessages {
		out = append(out, c)
	}
	return out
}
