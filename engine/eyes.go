package engine

import (
	"math"

	"presence"
	"presence/vision"
)

// eyeClassifier gives the probability that an eye is open from a small
// square crop around it.
type eyeClassifier struct {
	m         Model
	inW, inH  int
	format    vision.TensorFormat
	cropScale float64
	openIndex int
}

func newEyeClassifier(spec presence.ModelSpec, m Model) *eyeClassifier {
	in := spec.Inputs[0].Shape
	scale := spec.Preprocess.CropScale
	if scale == 0 {
		scale = 1.6
	}
	return &eyeClassifier{m: m, inW: int(in[3]), inH: int(in[2]), format: tensorFormat(spec.Preprocess), cropScale: scale, openIndex: spec.RealIndex}
}

// iBUG indices of each eye: the two corners, then the four lid points.
var eyeLandmarks = [2][6]int{
	{36, 39, 37, 38, 40, 41},
	{42, 45, 43, 44, 46, 47},
}

// openness returns the open probability of the eye on the image left and
// on the image right.
func (c *eyeClassifier) openness(img *presence.Image, lm []presence.Point) (left, right float64, err error) {
	var out [2]float64
	for k, idx := range eyeLandmarks {
		a, b := lm[idx[0]], lm[idx[1]]
		side := c.cropScale * math.Hypot(b.X-a.X, b.Y-a.Y)
		var cx, cy float64
		for _, i := range idx[2:] {
			cx += lm[i].X / 4
			cy += lm[i].Y / 4
		}
		box := presence.Box{X1: cx - side/2, Y1: cy - side/2, X2: cx + side/2, Y2: cy + side/2}
		vision.Warp(img, vision.CropAffine(box, c.inW, c.inH), c.inW, c.inH, c.format, 0, c.m.Input(0))
		if err := c.m.Run(); err != nil {
			return 0, 0, err
		}
		out[k] = softmax(c.m.Output(0))[c.openIndex]
	}
	return out[0], out[1], nil
}

// eyeAspectRatio is the mean over both eyes of lid distance over corner
// distance (Soukupová and Čech, 2016).
func eyeAspectRatio(lm []presence.Point) float64 {
	d := func(i, j int) float64 { return math.Hypot(lm[i].X-lm[j].X, lm[i].Y-lm[j].Y) }
	var sum float64
	for _, idx := range eyeLandmarks {
		w := d(idx[0], idx[1])
		if w == 0 {
			return 0
		}
		sum += (d(idx[2], idx[5]) + d(idx[3], idx[4])) / (2 * w)
	}
	return sum / 2
}

// mouthOpening is the inner-lip gap over the mouth width.
func mouthOpening(lm []presence.Point) float64 {
	w := math.Hypot(lm[54].X-lm[48].X, lm[54].Y-lm[48].Y)
	if w == 0 {
		return 0
	}
	return math.Hypot(lm[66].X-lm[62].X, lm[66].Y-lm[62].Y) / w
}
