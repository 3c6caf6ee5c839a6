package engine

import (
	"time"

	"presence"
	"presence/vision"
)

// run analyses one frame on worker w.
func (e *Engine) run(w *worker, img *presence.Image, opts Options) (*presence.Analysis, error) {
	t := e.thresholds
	a := &presence.Analysis{
		Image:   presence.ImageInfo{Width: img.Width, Height: img.Height},
		Models:  e.versions,
		Reasons: []presence.Reason{},
		Faces:   []presence.Box{},
	}
	start := time.Now()
	clock := start
	lap := func() float64 {
		now := time.Now()
		d := ms(now.Sub(clock))
		clock = now
		return d
	}
	defer func() { a.Timings.Total = ms(time.Since(start)) }()

	dets, err := w.detector.detect(img, t.DetectionConfidence, t.NMSIoU)
	if err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "face detection failed")
	}
	a.Timings.Detect = lap()
	if len(dets) == 0 {
		a.Decision = presence.DecisionInconclusive
		a.Reasons = append(a.Reasons, presence.NewReason(presence.ReasonNoFace))
		return a, nil
	}
	for _, d := range dets {
		a.Faces = append(a.Faces, d.box)
	}
	primary := dets[0]

	lm, err := w.landmarks.predict(img, primary.box)
	if err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "landmark model failed")
	}
	a.Timings.Landmarks = lap()

	q := measureQuality(img, primary.box, lm)
	q.FaceCount = countFaces(dets, t)
	if w.eyes != nil {
		if q.LeftEyeOpen, q.RightEyeOpen, err = w.eyes.openness(img, lm); err != nil {
			return nil, presence.WrapError(presence.ErrInternal, err, "eye model failed")
		}
	} else {
		q.LeftEyeOpen, q.RightEyeOpen = 1, 1
	}
	a.Timings.Quality = lap()

	face := &presence.FaceAnalysis{Box: primary.box, Confidence: primary.score, Quality: q}
	if opts.Landmarks {
		face.Landmarks = lm
	}
	a.Face = face
	if !opts.SkipLiveness {
		var fused float64
		face.Liveness, fused, err = w.scoreFace(img, primary.box)
		if err != nil {
			return nil, err
		}
		a.Score = &fused
		// A picture of a face held up beside the person is another face
		// in view, however small; a live bystander further back is not.
		for _, d := range dets[1:] {
			if !countsAsPerson(d, primary, t) && d.score >= t.SecondFaceConfidence && d.box.Height() >= t.PictureFaceRatio*primary.box.Height() {
				if _, other, err := w.scoreFace(img, d.box); err != nil {
					return nil, err
				} else if other < t.Liveness {
					q.FaceCount++
					face.Quality.FaceCount = q.FaceCount
				}
			}
		}
		a.Timings.Liveness = lap()
	}
	if !opts.SkipEmbedding {
		if face.Embedding, err = w.embedder.embed(img, lm); err != nil {
			return nil, presence.WrapError(presence.ErrInternal, err, "embedding model failed")
		}
		a.Timings.Embedding = lap()
	}
	if a.Score != nil {
		a.Decision, a.Reasons = Decide(q, *a.Score, t)
	} else if rs := QualityReasons(q, t); len(rs) > 0 {
		a.Decision, a.Reasons = presence.DecisionInconclusive, rs
	}
	return a, nil
}

// countFaces counts the primary face and the detections that are big and
// sure enough to be a second person beside it, rather than a bystander
// further back or a texture taken for a face.
func countFaces(dets []detection, t Thresholds) int {
	n := 1
	for _, d := range dets[1:] {
		if countsAsPerson(d, dets[0], t) {
			n++
		}
	}
	return n
}

func countsAsPerson(d, primary detection, t Thresholds) bool {
	return d.box.Height() >= t.SecondFaceRatio*primary.box.Height() && d.score >= t.SecondFaceConfidence
}

// scoreFace runs every liveness model on a face and fuses their scores.
func (w *worker) scoreFace(img *presence.Image, box presence.Box) ([]presence.ModelScore, float64, error) {
	scores := make([]presence.ModelScore, 0, len(w.liveness))
	weights := make([]float64, len(w.liveness))
	for i, s := range w.liveness {
		score, err := s.score(img, box)
		if err != nil {
			return nil, 0, presence.WrapError(presence.ErrInternal, err, "liveness model failed")
		}
		scores = append(scores, presence.ModelScore{Model: s.name, Score: score})
		weights[i] = s.weight
	}
	return scores, fuseLiveness(scores, weights), nil
}

// measureQuality computes every quality measure of the primary face.
func measureQuality(img *presence.Image, box presence.Box, lm []presence.Point) presence.Quality {
	q := presence.Quality{FaceSize: box.Height(), FaceHeightFraction: box.Height() / float64(max(img.Height, 1))}
	sq := vision.SquareBox(box)
	frame := presence.Box{X2: float64(img.Width), Y2: float64(img.Height)}
	inter := presence.Box{X1: max(sq.X1, 0), Y1: max(sq.Y1, 0), X2: min(sq.X2, frame.X2), Y2: min(sq.Y2, frame.Y2)}
	if sq.Area() > 0 {
		q.OutsideFraction = 1 - inter.Area()/sq.Area()
	}
	// Exposure is read on the inner face (cheeks, nose, eyes), leaving out
	// hair and background that the box may include.
	inner := presence.Box{
		X1: box.X1 + 0.2*box.Width(), X2: box.X2 - 0.2*box.Width(),
		Y1: box.Y1 + 0.2*box.Height(), Y2: box.Y2 - 0.15*box.Height(),
	}
	exp := vision.MeasureExposure(vision.GrayPatch(img, inner, 48))
	q.Brightness, q.DarkFraction, q.BrightFraction = exp.Mean, exp.Dark, exp.Bright
	q.BackgroundBrightness = backgroundBrightness(img, sq)
	q.Sharpness = vision.Sharpness(vision.GrayPatch(img, box, 112), 112)
	pose := vision.HeadPose(lm)
	q.Yaw, q.Pitch, q.Roll = pose.Yaw, pose.Pitch, pose.Roll
	q.EyeAspectRatio = eyeAspectRatio(lm)
	q.MouthOpen = mouthOpening(lm)
	return q
}

// backgroundBrightness is the mean luma of the frame outside the face box,
// read from a small thumbnail.
func backgroundBrightness(img *presence.Image, face presence.Box) float64 {
	const n = 32
	frame := presence.Box{X2: float64(img.Width), Y2: float64(img.Height)}
	thumb := vision.GrayPatch(img, frame, n)
	sx, sy := float64(img.Width)/n, float64(img.Height)/n
	var sum float64
	count := 0
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			cx, cy := (float64(x)+0.5)*sx, (float64(y)+0.5)*sy
			if cx >= face.X1 && cx <= face.X2 && cy >= face.Y1 && cy <= face.Y2 {
				continue
			}
			sum += float64(thumb[y*n+x])
			count++
		}
	}
	if count == 0 {
		return 0
	}
	return sum / float64(count)
}
