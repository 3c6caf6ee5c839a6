package presencetest

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"testing"

	"presence"
	"presence/vision"
)

// LightUp returns frame with a screen's light simulated on the face: the
// pixels inside the ellipse of the face box are lit by colour (RGB, 0-1)
// at strength (each channel gains strength times the colour's), as a
// screen a forearm away lights a face indoors; the room is left as it is.
func LightUp(tb testing.TB, frame []byte, face presence.Box, colour [3]float64, strength float64) []byte {
	tb.Helper()
	src, _, err := vision.Decode(frame, vision.DefaultLimits)
	if err != nil {
		tb.Fatal(err)
	}
	rgb := vision.ToRGB(src)
	out := image.NewRGBA(image.Rect(0, 0, rgb.Width, rgb.Height))
	cx, cy := (face.X1+face.X2)/2, (face.Y1+face.Y2)/2
	rx, ry := 0.55*face.Width(), 0.6*face.Height()
	for y := range rgb.Height {
		for x := range rgb.Width {
			i := y*rgb.Width + x
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			lit := dx*dx+dy*dy <= 1
			for c := range 3 {
				v := float64(rgb.Pix[3*i+c])
				if lit {
					v = math.Min(255, v*(1+strength*colour[c]))
				}
				out.Pix[4*i+c] = uint8(v + 0.5)
			}
			out.Pix[4*i+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
