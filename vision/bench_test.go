package vision_test

import (
	"testing"

	"presence"

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

// BenchmarkWarp samples the real 640x480 camera frame the way the
// pipeline does: the detector's 320x240 letterbox (RGB) and a 128x128
// crop (BGR), plus a 112x112 grey patch.
func BenchmarkWarp(b *testing.B) {
	data := presencetest.ReadFile(b, presencetest.DataFile(b, "pad_silentface_samples/image_T1.jpg"))
	img, _, err := vision.Decode(data, vision.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	full := presence.Box{X2: float64(img.Width), Y2: float64(img.Height)}
	face := presence.Box{X1: 126, Y1: 108, X2: 294, Y2: 351}
	cases := []struct {
		name string
		box  presence.Box
		w, h int
		f    vision.TensorFormat
	}{
		{"letterbox-320x240-rgb", presence.Box{X1: -187, Y1: 0, X2: 667, Y2: 640}, 320, 240, vision.TensorFormat{Channels: vision.RGB, Mean: 127, Scale: 1.0 / 128}},
		{"crop-128-bgr", face, 128, 128, vision.TensorFormat{Channels: vision.BGR, Scale: 1}},
		{"patch-112-gray", face, 112, 112, vision.TensorFormat{Channels: vision.Gray, Scale: 1}},
		{"full-frame-gray", full, 480, 640, vision.TensorFormat{Channels: vision.Gray, Scale: 1}},
	}
	for _, c := range cases {
		dst := make([]float32, c.f.Channels.Planes()*c.w*c.h)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				vision.Warp(img, vision.CropAffine(c.box, c.w, c.h), c.w, c.h, c.f, 127, dst)
			}
		})
	}
}
