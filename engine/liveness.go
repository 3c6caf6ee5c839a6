package engine

import (
	"math"

	"presence"
	"presence/vision"
)

// spoofScorer is a passive anti-spoofing model that looks at the face with
// its surroundings (a crop crop_scale times the face box) and gives the
// probability of a live face.
type spoofScorer struct {
	name      string
	m         Model
	inW, inH  int
	format    vision.TensorFormat
	cropScale float64
	realIndex int
	weight    float64
}

func newSpoofScorer(spec presence.ModelSpec, m Model) *spoofScorer {
	in := spec.Inputs[0].Shape
	w := spec.Weight
	if w == 0 {
		w = 1
	}
	return &spoofScorer{
		name: spec.Name, m: m, inW: int(in[3]), inH: int(in[2]),
		format: tensorFormat(spec.Preprocess), cropScale: spec.Preprocess.CropScale,
		realIndex: spec.RealIndex, weight: w,
	}
}

func (s *spoofScorer) score(img *presence.Image, box presence.Box) (float64, error) {
	crop := vision.ScaledCrop(vision.SquareBox(box), s.cropScale, img.Width, img.Height)
	vision.Warp(img, vision.CropAffine(crop, s.inW, s.inH), s.inW, s.inH, s.format, 0, s.m.Input(0))
	if err := s.m.Run(); err != nil {
		return 0, err
	}
	return softmax(s.m.Output(0))[s.realIndex], nil
}

// fuseLiveness is the weighted mean of the models' live probabilities.
// Models with different failure modes (MODELS.md) average out each other's
// confident mistakes better than a max or a min would.
func fuseLiveness(scores []presence.ModelScore, weights []float64) float64 {
	var sum, wsum float64
	for i, s := range scores {
		sum += weights[i] * s.Score
		wsum += weights[i]
	}
	if wsum == 0 {
		return 0
	}
	return sum / wsum
}

func softmax(logits []float32) []float64 {
	out := make([]float64, len(logits))
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for i, v := range logits {
		out[i] = math.Exp(float64(v) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
