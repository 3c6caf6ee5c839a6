package engine

import (
	"presence"
	"presence/vision"
)

// embedder computes a face template from a crop aligned by a 5-point
// similarity warp (MODELS.md: clearly better than the vendor's 3-point
// affine).
type embedder struct {
	m        Model
	inW, inH int
	format   vision.TensorFormat
}

func newEmbedder(spec presence.ModelSpec, m Model) *embedder {
	in := spec.Inputs[0].Shape
	return &embedder{m: m, inW: int(in[3]), inH: int(in[2]), format: tensorFormat(spec.Preprocess)}
}

func (e *embedder) embed(img *presence.Image, lm []presence.Point) (presence.Embedding, error) {
	inv, ok := vision.AlignAffine(lm)
	if !ok {
		return nil, presence.Errorf(presence.ErrInternal, "degenerate landmarks")
	}
	// The template is for 112x112; other input sizes scale it.
	if e.inW != 112 || e.inH != 112 {
		sx, sy := 112/float64(e.inW), 112/float64(e.inH)
		inv = vision.Affine{inv[0] * sx, inv[1] * sy, inv[2], inv[3] * sx, inv[4] * sy, inv[5]}
	}
	vision.Warp(img, inv, e.inW, e.inH, e.format, 0, e.m.Input(0))
	if err := e.m.Run(); err != nil {
		return nil, err
	}
	out := presence.Embedding(append([]float32(nil), e.m.Output(0)...))
	out.Normalize()
	return out, nil
}
