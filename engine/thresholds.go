package engine

// Thresholds are the operating points of the pipeline. The defaults and the
// evidence behind each are in docs/thresholds.md; every one can be changed
// in the configuration.
type Thresholds struct {
	// DetectionConfidence is the minimum detector score of a face.
	DetectionConfidence float64 `json:"detection_confidence"`
	// NMSIoU merges detections overlapping more than this.
	NMSIoU float64 `json:"nms_iou"`
	// SecondFaceRatio and SecondFaceConfidence: another face counts when
	// its height is at least this fraction of the primary face's and the
	// detector is this sure of it. A bystander further back is smaller;
	// a textured cloth or a poster detected as a face scores lower.
	SecondFaceRatio      float64 `json:"second_face_ratio"`
	SecondFaceConfidence float64 `json:"second_face_confidence"`
	// PictureFaceRatio: a smaller sure face, down to this fraction of the
	// primary face's height, also counts when the liveness model calls it
	// a picture (below Liveness): a phone or a photo held up beside the
	// person. A live bystander further back does not count.
	PictureFaceRatio float64 `json:"picture_face_ratio"`
	// MinFaceSize is the minimum face box height in pixels.
	MinFaceSize float64 `json:"min_face_size"`
	// MaxOutsideFraction is how much of the square face box may lie outside
	// the frame before the face counts as cut off.
	MaxOutsideFraction float64 `json:"max_outside_fraction"`
	// MinBrightness bounds the mean face luma (0-255) from below: a face
	// that dark carries no texture. A bright mean alone stops nothing; the
	// clipped pixels do (MaxBrightFraction).
	MinBrightness float64 `json:"min_brightness"`
	// MaxDarkFraction and MaxBrightFraction bound crushed shadows and
	// blown highlights on the face.
	MaxDarkFraction   float64 `json:"max_dark_fraction"`
	MaxBrightFraction float64 `json:"max_bright_fraction"`
	// BacklightDifference: a face too dark with a background this much
	// brighter is backlit, and the guidance says so.
	BacklightDifference float64 `json:"backlight_difference"`
	// MinSharpness is the minimum Laplacian variance of the face patch.
	MinSharpness float64 `json:"min_sharpness"`
	// MaxYaw, MaxPitch, MaxRoll bound the head pose in degrees.
	MaxYaw   float64 `json:"max_yaw"`
	MaxPitch float64 `json:"max_pitch"`
	MaxRoll  float64 `json:"max_roll"`
	// Liveness: a frame is realface when the fused score reaches it.
	Liveness float64 `json:"liveness"`
	// ConfidentFake: a session is fake on its score only when the fused
	// score is below this (and most frames below Liveness); between the
	// two it is inconclusive, liveness_uncertain (docs/thresholds.md).
	ConfidentFake float64 `json:"confident_fake"`
	// Match: two faces are the same person when their cosine similarity
	// reaches it.
	Match float64 `json:"match"`
}

// DefaultThresholds are the shipped operating points (docs/thresholds.md).
func DefaultThresholds() Thresholds {
	return Thresholds{
		DetectionConfidence:  0.7,
		NMSIoU:               0.4,
		SecondFaceRatio:      0.6,
		SecondFaceConfidence: 0.9,
		PictureFaceRatio:     0.4,
		MinFaceSize:          64,
		MaxOutsideFraction:   0.2,
		MinBrightness:        40,
		MaxDarkFraction:      0.5,
		MaxBrightFraction:    0.7,
		BacklightDifference:  90,
		MinSharpness:         25,
		MaxYaw:               40,
		MaxPitch:             30,
		MaxRoll:              30,
		Liveness:             0.5,
		ConfidentFake:        0.2,
		Match:                0.52,
	}
}
