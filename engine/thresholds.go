package engine

// Thresholds are the operating points of the pipeline. The defaults and the
// evidence behind each are in docs/thresholds.md; every one can be changed
// in the configuration.
type Thresholds struct {
	// DetectionConfidence is the minimum detector score of a face.
	DetectionConfidence float64 `json:"detection_confidence"`
	// NMSIoU merges detections overlapping more than this.
	NMSIoU float64 `json:"nms_iou"`
	// SecondFaceRatio: another face counts when its height is at least
	// this fraction of the primary face's.
	SecondFaceRatio float64 `json:"second_face_ratio"`
	// MinFaceSize is the minimum face box height in pixels.
	MinFaceSize float64 `json:"min_face_size"`
	// MaxOutsideFraction is how much of the square face box may lie outside
	// the frame before the face counts as cut off.
	MaxOutsideFraction float64 `json:"max_outside_fraction"`
	// MinBrightness and MaxBrightness bound the mean face luma (0-255).
	MinBrightness float64 `json:"min_brightness"`
	MaxBrightness float64 `json:"max_brightness"`
	// MaxDarkFraction and MaxBrightFraction bound crushed shadows and
	// blown highlights on the face.
	MaxDarkFraction   float64 `json:"max_dark_fraction"`
	MaxBrightFraction float64 `json:"max_bright_fraction"`
	// BacklightDifference: background this much brighter than a dim face
	// means the light is behind the person.
	BacklightDifference float64 `json:"backlight_difference"`
	// MinSharpness is the minimum Laplacian variance of the face patch.
	MinSharpness float64 `json:"min_sharpness"`
	// MaxYaw, MaxPitch, MaxRoll bound the head pose in degrees.
	MaxYaw   float64 `json:"max_yaw"`
	MaxPitch float64 `json:"max_pitch"`
	MaxRoll  float64 `json:"max_roll"`
	// MinEyeOpen and MaxClosedEyeAspect: eyes count as closed only when
	// the eye model gives both eyes an open probability below MinEyeOpen
	// and the landmark eye aspect ratio is below MaxClosedEyeAspect. Either
	// signal alone calls narrow open eyes closed (docs/thresholds.md).
	MinEyeOpen         float64 `json:"min_eye_open"`
	MaxClosedEyeAspect float64 `json:"max_closed_eye_aspect"`
	// Liveness: a frame is realface when the fused score reaches it.
	Liveness float64 `json:"liveness"`
	// Match: two faces are the same person when their cosine similarity
	// reaches it.
	Match float64 `json:"match"`
}

// DefaultThresholds are the shipped operating points (docs/thresholds.md).
func DefaultThresholds() Thresholds {
	return Thresholds{
		DetectionConfidence: 0.7,
		NMSIoU:              0.4,
		SecondFaceRatio:     0.4,
		MinFaceSize:         64,
		MaxOutsideFraction:  0.2,
		MinBrightness:       40,
		MaxBrightness:       225,
		MaxDarkFraction:     0.5,
		MaxBrightFraction:   0.3,
		BacklightDifference: 90,
		MinSharpness:        40,
		MaxYaw:              40,
		MaxPitch:            30,
		MaxRoll:             30,
		MinEyeOpen:          0.3,
		MaxClosedEyeAspect:  0.15,
		Liveness:            0.5,
		Match:               0.4,
	}
}
