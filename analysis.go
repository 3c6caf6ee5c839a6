package presence

import "math"

// Embedding is an L2-normalised face template.
type Embedding []float32

// Similarity is the cosine similarity of two embeddings in [-1,1]; 0 when
// either is empty or their lengths differ.
func (e Embedding) Similarity(o Embedding) float64 {
	if len(e) == 0 || len(e) != len(o) {
		return 0
	}
	var dot, na, nb float64
	for i := range e {
		dot += float64(e[i]) * float64(o[i])
		na += float64(e[i]) * float64(e[i])
		nb += float64(o[i]) * float64(o[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Normalize scales e to unit length in place.
func (e Embedding) Normalize() {
	var n float64
	for _, v := range e {
		n += float64(v) * float64(v)
	}
	if n == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range e {
		e[i] *= inv
	}
}

// Quality holds the measures the quality gates look at. Angles are in
// degrees (see vision.Pose for signs), brightness in 0..255 luma.
type Quality struct {
	FaceSize float64 `json:"face_size"`
	// FaceHeightFraction is the face box height over the frame height: a
	// face cut off because it fills the frame needs "move back", not
	// "centre your face".
	FaceHeightFraction   float64 `json:"face_height_fraction"`
	FaceCount            int     `json:"face_count"`
	OutsideFraction      float64 `json:"outside_fraction"`
	Brightness           float64 `json:"brightness"`
	DarkFraction         float64 `json:"dark_fraction"`
	BrightFraction       float64 `json:"bright_fraction"`
	BackgroundBrightness float64 `json:"background_brightness"`
	Sharpness            float64 `json:"sharpness"`
	Yaw                  float64 `json:"yaw"`
	Pitch                float64 `json:"pitch"`
	Roll                 float64 `json:"roll"`
	// LeftEyeOpen and RightEyeOpen are the eye model's probabilities that
	// the eye on the image left / right is open.
	LeftEyeOpen  float64 `json:"left_eye_open"`
	RightEyeOpen float64 `json:"right_eye_open"`
	// EyeAspectRatio is the mean eye height/width from landmarks, the
	// classic blink signal; it complements the eye model.
	EyeAspectRatio float64 `json:"eye_aspect_ratio"`
	// MouthOpen is inner-lip gap over mouth width from landmarks.
	MouthOpen float64 `json:"mouth_open"`
}

// ModelScore is one model's output for a face.
type ModelScore struct {
	Model string  `json:"model"`
	Score float64 `json:"score"`
}

// FaceAnalysis is everything measured on the primary face of a frame.
type FaceAnalysis struct {
	Box        Box          `json:"box"`
	Confidence float64      `json:"confidence"`
	Landmarks  []Point      `json:"landmarks,omitempty"`
	Quality    Quality      `json:"quality"`
	Liveness   []ModelScore `json:"liveness_scores"`
	Embedding  Embedding    `json:"-"`
}

// Timings are the milliseconds spent in each stage of one frame.
type Timings struct {
	Decode    float64 `json:"decode_ms"`
	Queue     float64 `json:"queue_ms"`
	Detect    float64 `json:"detect_ms"`
	Landmarks float64 `json:"landmarks_ms"`
	Quality   float64 `json:"quality_ms"`
	Liveness  float64 `json:"liveness_ms"`
	Embedding float64 `json:"embedding_ms"`
	Total     float64 `json:"total_ms"`
}

// ImageInfo describes the analysed picture.
type ImageInfo struct {
	Format      string `json:"format,omitempty"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Orientation int    `json:"orientation,omitempty"`
}

// Analysis is the verdict on one frame with the evidence behind it.
type Analysis struct {
	Decision Decision `json:"decision"`
	// Score is the fused liveness score in [0,1]; nil when no face was
	// analysed.
	Score   *float64       `json:"score"`
	Reasons []Reason       `json:"reasons"`
	Face    *FaceAnalysis  `json:"face,omitempty"`
	Faces   []Box          `json:"faces"`
	Image   ImageInfo      `json:"image"`
	Models  []ModelVersion `json:"models"`
	Timings Timings        `json:"timings"`
}

// HasReason reports whether the analysis carries code.
func (a *Analysis) HasReason(code ReasonCode) bool {
	for _, r := range a.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}

// Match is the result of comparing a face with a reference.
type Match struct {
	Similarity float64 `json:"similarity"`
	Threshold  float64 `json:"threshold"`
	Match      bool    `json:"match"`
}

// NewMatch compares two embeddings against threshold.
func NewMatch(a, b Embedding, threshold float64) Match {
	s := a.Similarity(b)
	return Match{Similarity: s, Threshold: threshold, Match: s >= threshold}
}
