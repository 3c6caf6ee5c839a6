package vision_test

import (
	"bytes"
	"image/jpeg"
	"image/png"
	"testing"

	"presence"
	"presence/vision"
)

// fuzzLimits keep fuzzing fast while still exercising the limit checks.
var fuzzLimits = vision.Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}

func FuzzDecode(f *testing.F) {
	var j, p bytes.Buffer
	jpeg.Encode(&j, pattern(16, 12), nil)
	png.Encode(&p, pattern(16, 12))
	f.Add(j.Bytes())
	f.Add(p.Bytes())
	f.Add(jpegWithOrientation(f, pattern(8, 8), 6))
	f.Add(pngWithOrientation(f, pattern(8, 8), 3))
	f.Add([]byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, info, err := vision.Decode(data, fuzzLimits)
		if err != nil {
			return
		}
		if !vision.Valid(img) || info.Width != img.Width || info.Height != img.Height {
			t.Fatalf("decoded an inconsistent image: %+v", info)
		}
		// Sampling every decoded image must stay in bounds.
		vision.GrayPatch(img, vision.SquareBox(img2box(img.Width, img.Height)), 8)
	})
}

func FuzzOrientation(f *testing.F) {
	f.Add(jpegWithOrientation(f, pattern(8, 8), 6))
	f.Add(pngWithOrientation(f, pattern(8, 8), 8))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPEXIF\x08\x00\x00\x00II*\x00\x08\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := vision.Orientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d out of 1..8", o)
		}
	})
}

func img2box(w, h int) presence.Box { return presence.Box{X2: float64(w), Y2: float64(h)} }
