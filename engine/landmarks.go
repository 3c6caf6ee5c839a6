package engine

import (
	"presence"
	"presence/vision"
)

// landmarker predicts the 68 iBUG points from a square crop of the face.
type landmarker struct {
	m        Model
	inW, inH int
	format   vision.TensorFormat
}

func newLandmarker(spec presence.ModelSpec, m Model) *landmarker {
	in := spec.Inputs[0].Shape
	return &landmarker{m: m, inW: int(in[3]), inH: int(in[2]), format: tensorFormat(spec.Preprocess)}
}

func (l *landmarker) predict(img *presence.Image, box presence.Box) ([]presence.Point, error) {
	sq := vision.SquareBox(box)
	vision.Warp(img, vision.CropAffine(sq, l.inW, l.inH), l.inW, l.inH, l.format, 0, l.m.Input(0))
	if err := l.m.Run(); err != nil {
		return nil, err
	}
	out := l.m.Output(0)
	pts := make([]presence.Point, len(out)/2)
	for i := range pts {
		pts[i] = presence.Point{
			X: sq.X1 + float64(out[2*i])*sq.Width(),
			Y: sq.Y1 + float64(out[2*i+1])*sq.Height(),
		}
	}
	return pts, nil
}
