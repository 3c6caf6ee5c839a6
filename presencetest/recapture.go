package presencetest

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"

	"presence/vision"
)

// Recapture returns the picture in data as another capture of the same
// scene would be: the same view with new sensor noise (a pseudo-random
// ±1 on every 7th byte, seeded by n), encoded again. A camera never
// delivers the same pixels twice, and Presence refuses a frame it has
// seen before as a replay, so tests that show one photo in several
// sessions recapture it for each.
func Recapture(tb testing.TB, data []byte, n int) []byte {
	tb.Helper()
	img, _, err := vision.Decode(data, vision.DefaultLimits)
	if err != nil {
		tb.Fatalf("recapture: %v", err)
	}
	img = vision.ToRGB(img) // upright: the EXIF orientation is applied
	rgba := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i := 0; i < img.Width*img.Height; i++ {
		copy(rgba.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	state := uint32(n)*2654435761 + 1
	for i := 0; i < len(rgba.Pix); i += 7 {
		if i%4 == 3 {
			continue // alpha
		}
		state ^= state << 13
		state ^= state >> 17
		state ^= state << 5
		v := int(rgba.Pix[i]) + int(state%3) - 1
		rgba.Pix[i] = uint8(min(max(v, 0), 255))
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, rgba, &jpeg.Options{Quality: 95}); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}
