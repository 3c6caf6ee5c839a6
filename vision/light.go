package vision

import "presence"

// LightSample is the colour of a frame's face against its background, for
// the light challenge: the mean RGB of the middle of the face box (skin,
// lit by the screen a few tens of centimetres away) and of the frame
// outside a margin around the face (the room, which the screen barely
// reaches). Camera exposure and white balance move both alike; the
// screen's light moves the face.
type LightSample struct {
	Face, Background [3]float64
}

// SampleLight measures a frame with its face box.
func SampleLight(img *presence.Image, face presence.Box) LightSample {
	var s LightSample
	const n = 16
	inner := presence.Box{X1: face.X1 + 0.25*face.Width(), X2: face.X2 - 0.25*face.Width(), Y1: face.Y1 + 0.3*face.Height(), Y2: face.Y2 - 0.15*face.Height()}
	patch := make([]float32, 3*n*n)
	Warp(img, CropAffine(inner, n, n), n, n, TensorFormat{Channels: RGB, Scale: 1}, 0, patch)
	for c := range 3 {
		for i := range n * n {
			s.Face[c] += float64(patch[c*n*n+i])
		}
		s.Face[c] /= n * n
	}
	// The whole frame at 32x24, less a margin of half a face around it.
	const w, h = 32, 24
	full := presence.Box{X2: float64(img.Width), Y2: float64(img.Height)}
	frame := make([]float32, 3*w*h)
	Warp(img, CropAffine(full, w, h), w, h, TensorFormat{Channels: RGB, Scale: 1}, 0, frame)
	margin := 0.5 * max(face.Width(), face.Height())
	count := 0
	for y := range h {
		for x := range w {
			px, py := (float64(x)+0.5)*float64(img.Width)/w, (float64(y)+0.5)*float64(img.Height)/h
			if px > face.X1-margin && px < face.X2+margin && py > face.Y1-margin && py < face.Y2+margin {
				continue
			}
			for c := range 3 {
				s.Background[c] += float64(frame[c*w*h+y*w+x])
			}
			count++
		}
	}
	for c := range 3 {
		if count > 0 {
			s.Background[c] /= float64(count)
		} else {
			s.Background[c] = s.Face[c]
		}
	}
	return s
}
