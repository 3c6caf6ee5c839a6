package turbojpeg_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"path/filepath"
	"testing"

	"presence/presencetest"
	"presence/vision"
	"presence/vision/turbojpeg"
)

func open(t testing.TB) *turbojpeg.Decoder {
	d, err := turbojpeg.Open()
	if err != nil {
		t.Skip(err) // scripts/deps.sh installs it; a machine without it uses Go's decoder
	}
	return d
}

// TestMatchesGosDecoder: at full size the planes are Go's within rounding
// (two IDCTs); scaled, they are the full picture's size divided, rounded
// up, and still the same picture.
func TestMatchesGosDecoder(t *testing.T) {
	d := open(t)
	for _, rel := range []string{"fr_deepface_pairs/img1.jpg", "pad_silentface_samples/image_T1.jpg", "pad_nuaa_webcam_dev/ClientRaw/0002/0002_01_00_01_100.jpg"} {
		data := presencetest.ReadFile(t, presencetest.DataFile(t, rel))
		ref, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		goY, ok := ref.(*image.YCbCr)
		if !ok {
			t.Fatalf("%s: Go decoded %T", rel, ref)
		}
		for _, denom := range []int{1, 2, 4, 8} {
			img, err := d.Decode(data, denom)
			if err != nil {
				t.Fatalf("%s 1/%d: %v", rel, denom, err)
			}
			w, h := goY.Rect.Dx(), goY.Rect.Dy()
			if img.Rect.Dx() != (w+denom-1)/denom || img.Rect.Dy() != (h+denom-1)/denom || img.SubsampleRatio != goY.SubsampleRatio {
				t.Fatalf("%s 1/%d: %v %v, Go %v %v", rel, denom, img.Rect, img.SubsampleRatio, goY.Rect, goY.SubsampleRatio)
			}
			// Mean luma difference against Go's picture sampled at the
			// same places (block averages would be fairer; the bound
			// allows for it).
			var sum float64
			n := 0
			for y := 0; y < img.Rect.Dy(); y += 3 {
				for x := 0; x < img.Rect.Dx(); x += 3 {
					var ref float64
					for dy := range denom {
						for dx := range denom {
							sx, sy := min(x*denom+dx, w-1), min(y*denom+dy, h-1)
							ref += float64(goY.Y[goY.YOffset(sx, sy)])
						}
					}
					ref /= float64(denom * denom)
					sum += math.Abs(float64(img.Y[img.YOffset(x, y)]) - ref)
					n++
				}
			}
			limit := 1.0
			if denom > 1 {
				limit = 4 // a DCT-scaled pixel is not exactly a box average
			}
			if mean := sum / float64(n); mean > limit {
				t.Errorf("%s 1/%d: mean luma difference %.2f", rel, denom, mean)
			}
		}
	}
}

// TestOddSizesAndDamage: odd sizes at every scale stay inside their
// planes; damaged or foreign data is an error, never a crash.
func TestOddSizesAndDamage(t *testing.T) {
	d := open(t)
	for _, size := range [][2]int{{1, 1}, {33, 17}, {17, 33}, {641, 479}} {
		src := image.NewRGBA(image.Rect(0, 0, size[0], size[1]))
		for i := range src.Pix {
			src.Pix[i] = uint8(i * 7)
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, src, nil); err != nil {
			t.Fatal(err)
		}
		for _, denom := range []int{1, 2, 4, 8} {
			img, err := d.Decode(buf.Bytes(), denom)
			if err != nil {
				t.Fatalf("%v 1/%d: %v", size, denom, err)
			}
			_ = img.YCbCrAt(img.Rect.Dx()-1, img.Rect.Dy()-1)
		}
	}
	gray := image.NewGray(image.Rect(0, 0, 8, 8))
	gray.Set(1, 1, color.Gray{200})
	var g bytes.Buffer
	jpeg.Encode(&g, gray, nil)
	if _, err := d.Decode(g.Bytes(), 1); err != turbojpeg.ErrUnsupported {
		t.Errorf("greyscale JPEG: %v, want ErrUnsupported (Go's decoder takes it)", err)
	}
	good := presencetest.ReadFile(t, filepath.Join(presencetest.DataRoot(), "fr_deepface_pairs", "img1.jpg"))
	for name, data := range map[string][]byte{
		"truncated": good[:len(good)/3], "header only": good[:200], "not a JPEG": []byte("GIF89a........"), "empty": nil,
	} {
		if _, err := d.Decode(data, 2); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := d.Decode(good, 3); err == nil {
		t.Error("scale 1/3 accepted")
	}
}

func FuzzDecode(f *testing.F) {
	d, err := turbojpeg.Open()
	if err != nil {
		f.Skip(err)
	}
	src := image.NewRGBA(image.Rect(0, 0, 23, 9))
	var buf bytes.Buffer
	jpeg.Encode(&buf, src, nil)
	f.Add(buf.Bytes(), uint8(1))
	f.Add(buf.Bytes()[:40], uint8(2))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xFF, 0xFF, 0xFF, 0xFF, 3}, uint8(8))
	f.Fuzz(func(t *testing.T, data []byte, scale uint8) {
		denom := []int{1, 2, 4, 8}[scale%4]
		// The header bounds the allocation; refuse what the service's
		// limits would (vision.DecodeConfig runs first there).
		if w, h, err := d.Header(data); err != nil || int64(w)*int64(h) > 4<<20 {
			return
		}
		img, err := d.Decode(data, denom)
		if err != nil {
			return
		}
		if img.Rect.Dx() <= 0 || img.Rect.Dy() <= 0 || len(img.Y) < img.YStride*(img.Rect.Dy()-1)+img.Rect.Dx() {
			t.Fatalf("inconsistent picture %v", img.Rect)
		}
	})
}

// TestScaledDecodeKeepsOrientation: a phone photo stored sideways (EXIF
// orientation 6) comes out of vision.DecodeScaled upright, at the scale
// asked, as Go's decoder gives it at full size.
func TestScaledDecodeKeepsOrientation(t *testing.T) {
	d := open(t)
	data := presencetest.ReadFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg"))
	full, info, err := vision.Decode(data, vision.DefaultLimits)
	if err != nil || info.Orientation != 6 {
		t.Fatalf("the sample: %v, orientation %d", err, info.Orientation)
	}
	img, sinfo, err := vision.DecodeScaled(data, vision.DefaultLimits, d, 2)
	if err != nil || sinfo.Scale != 2 || img.Orientation != 6 {
		t.Fatalf("scaled: %v %+v", err, sinfo)
	}
	if img.Width != (full.Width+1)/2 || img.Height != (full.Height+1)/2 {
		t.Fatalf("scaled %dx%d, full %dx%d", img.Width, img.Height, full.Width, full.Height)
	}
	// Without the library, or for PNG, it is Go's decode at full size.
	png := presencetest.PNGHeader(4, 4, 8, 2)
	if _, _, err := vision.DecodeScaled(png, vision.DefaultLimits, d, 2); err == nil {
		t.Fatal("a header-only PNG decoded")
	}
	if img, info, err := vision.DecodeScaled(data, vision.DefaultLimits, nil, 4); err != nil || info.Scale != 1 || img.Width != full.Width {
		t.Fatalf("no decoder: %v %+v", err, info)
	}
}
