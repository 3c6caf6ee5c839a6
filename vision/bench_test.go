package vision_test

import (
	"testing"

	"presence/presencetest"
	"presence/vision"
)

// BenchmarkDecode decodes real camera and photo files: the 640x480 live
// Silent-Face sample (EXIF-rotated) and a 1.5 MP deepface portrait.
func BenchmarkDecode(b *testing.B) {
	for _, f := range []string{"pad_silentface_samples/image_T1.jpg", "fr_deepface_pairs/img1.jpg"} {
		data := presencetest.ReadFile(b, presencetest.DataFile(b, f))
		b.Run(f, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := vision.Decode(data, vision.DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
