package engine

import (
	"sort"

	"presence"
	"presence/vision"
)

// detector finds faces with a single-shot detector whose graph already
// decodes its priors: outputs are per-prior class scores [1,N,2] and boxes
// [1,N,4] as x1,y1,x2,y2 normalised to the input.
type detector struct {
	m         Model
	inW, inH  int
	format    vision.TensorFormat
	faceIndex int
	numPriors int
}

type detection struct {
	box   presence.Box
	score float64
}

func newDetector(spec presence.ModelSpec, m Model) *detector {
	in := spec.Inputs[0].Shape
	return &detector{
		m:         m,
		inW:       int(in[3]),
		inH:       int(in[2]),
		format:    tensorFormat(spec.Preprocess),
		faceIndex: spec.RealIndex,
		numPriors: int(spec.Outputs[0].Shape[1]),
	}
}

// detect letterboxes the frame into the input (keeping the aspect ratio:
// stretching, as the vendor demo does, squashes faces and costs recall),
// then keeps boxes above minScore after IoU non-maximum suppression.
// Results are in image pixels, largest face first.
func (d *detector) detect(img *presence.Image, minScore, nmsIoU float64) ([]detection, error) {
	scale := min(float64(d.inW)/float64(img.Width), float64(d.inH)/float64(img.Height))
	padX := (float64(d.inW) - float64(img.Width)*scale) / 2
	padY := (float64(d.inH) - float64(img.Height)*scale) / 2
	src := presence.Box{X1: -padX / scale, Y1: -padY / scale}
	src.X2 = src.X1 + float64(d.inW)/scale
	src.Y2 = src.Y1 + float64(d.inH)/scale
	// The bars take the value that normalises to zero.
	fill := uint8(d.format.Mean)
	vision.Warp(img, vision.CropAffine(src, d.inW, d.inH), d.inW, d.inH, d.format, fill, d.m.Input(0))
	if err := d.m.Run(); err != nil {
		return nil, err
	}
	scores, boxes := d.m.Output(0), d.m.Output(1)
	var cands []detection
	for i := 0; i < d.numPriors; i++ {
		s := float64(scores[2*i+d.faceIndex])
		if s < minScore {
			continue
		}
		b := boxes[4*i : 4*i+4]
		box := presence.Box{
			X1: (float64(b[0])*float64(d.inW) - padX) / scale,
			Y1: (float64(b[1])*float64(d.inH) - padY) / scale,
			X2: (float64(b[2])*float64(d.inW) - padX) / scale,
			Y2: (float64(b[3])*float64(d.inH) - padY) / scale,
		}
		if box.Area() > 0 {
			cands = append(cands, detection{box, s})
		}
	}
	kept := nms(cands, nmsIoU)
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].box.Area() > kept[j].box.Area() })
	return kept, nil
}

// nms keeps the highest-scoring box of every cluster overlapping by more
// than iou.
func nms(cands []detection, iou float64) []detection {
	sort.Slice(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var kept []detection
	for _, c := range cands {
		overlap := false
		for _, k := range kept {
			if c.box.IoU(k.box) > iou {
				overlap = true
				break
			}
		}
		if !overlap {
			kept = append(kept, c)
		}
	}
	return kept
}

func tensorFormat(p presence.Preprocess) vision.TensorFormat {
	f := vision.TensorFormat{Mean: p.Mean, Scale: p.Scale}
	switch p.Channels {
	case "bgr":
		f.Channels = vision.BGR
	case "gray":
		f.Channels = vision.Gray
	default:
		f.Channels = vision.RGB
	}
	return f
}
