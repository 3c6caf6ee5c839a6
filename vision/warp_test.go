package vision_test

import (
	"image"
	"math"
	"testing"

	"presence"
	"presence/vision"
)

// ycbcrPattern builds a 4:4:4 YCbCr picture and the same picture as RGB
// using the JFIF conversion, so the two sampling paths can be compared.
func ycbcrPattern(w, h int) (*image.YCbCr, *presence.Image) {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
	rgb := presence.NewImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Kept inside the RGB gamut, where luma and RGB-derived grey
			// agree exactly.
			yy := uint8(70 + (x*90)/w + (y*30)/h)
			cb := uint8(110 + (y*35)/h)
			cr := uint8(145 - (x*30)/w)
			m.Y[y*m.YStride+x], m.Cb[y*m.CStride+x], m.Cr[y*m.CStride+x] = yy, cb, cr
			fy, fcb, fcr := float64(yy), float64(cb)-128, float64(cr)-128
			i := 3 * (y*w + x)
			rgb.Pix[i] = clampByte(fy + 1.402*fcr)
			rgb.Pix[i+1] = clampByte(fy - 0.344136*fcb - 0.714136*fcr)
			rgb.Pix[i+2] = clampByte(fy + 1.772*fcb)
		}
	}
	return m, rgb
}

func clampByte(v float64) uint8 { return uint8(math.Max(0, math.Min(255, math.Round(v)))) }

// TestWarpYCbCrMatchesRGB checks that sampling the decoder's planes in place
// (every orientation, every kind of map) gives what sampling the converted,
// rotated RGB picture gives.
func TestWarpYCbCrMatchesRGB(t *testing.T) {
	ycc, rgb := ycbcrPattern(60, 44)
	rotate := vision.Similarity(
		[]presence.Point{{X: 10, Y: 10}, {X: 30, Y: 12}, {X: 20, Y: 30}},
		[]presence.Point{{X: 4, Y: 6}, {X: 26, Y: 2}, {X: 19, Y: 22}},
	)
	inv, _ := rotate.Invert()
	maps := map[string]vision.Affine{
		"crop":      vision.CropAffine(presence.Box{X1: 5, Y1: 7, X2: 41, Y2: 35}, 24, 24),
		"letterbox": vision.CropAffine(presence.Box{X1: -20, Y1: 0, X2: 80, Y2: 75}, 32, 24),
		"rotated":   inv,
	}
	for o := 1; o <= 8; o++ {
		// The stored planes for orientation o are the RGB picture's
		// pixels moved; build them by sampling the RGB through the
		// orientation's inverse, pixel by pixel.
		img := &presence.Image{YCbCr: orientedPlanes(ycc, o), Orientation: o, Width: 60, Height: 44}
		if !vision.Valid(img) {
			t.Fatalf("orientation %d: invalid image", o)
		}
		for name, m := range maps {
			for _, f := range []vision.TensorFormat{{Channels: vision.RGB, Scale: 1}, {Channels: vision.BGR, Scale: 1}, {Channels: vision.Gray, Scale: 1}} {
				n := f.Channels.Planes() * 24 * 24
				if name == "letterbox" {
					n = f.Channels.Planes() * 32 * 24
				}
				w, h := 24, 24
				if name == "letterbox" {
					w = 32
				}
				a, b := make([]float32, n), make([]float32, n)
				vision.Warp(img, m, w, h, f, 9, a)
				vision.Warp(rgb, m, w, h, f, 9, b)
				var worst float64
				for i := range a {
					worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
				}
				if worst > 1.5 {
					t.Errorf("orientation %d, %s, channels %d: YCbCr and RGB sampling differ by %.2f", o, name, f.Channels, worst)
				}
			}
		}
	}
}

// orientedPlanes stores the upright 4:4:4 planes as a camera would for
// orientation o.
func orientedPlanes(u *image.YCbCr, o int) *image.YCbCr {
	uw, uh := u.Rect.Dx(), u.Rect.Dy()
	sw, sh := uw, uh
	if o >= 5 {
		sw, sh = uh, uw
	}
	s := image.NewYCbCr(image.Rect(0, 0, sw, sh), image.YCbCrSubsampleRatio444)
	for dy := 0; dy < uh; dy++ {
		for dx := 0; dx < uw; dx++ {
			sx, sy := storedAt(o, dx, dy, sw, sh)
			s.Y[sy*s.YStride+sx] = u.Y[dy*u.YStride+dx]
			s.Cb[sy*s.CStride+sx] = u.Cb[dy*u.CStride+dx]
			s.Cr[sy*s.CStride+sx] = u.Cr[dy*u.CStride+dx]
		}
	}
	return s
}

func TestWarpFillsOutside(t *testing.T) {
	_, rgb := ycbcrPattern(10, 10)
	out := make([]float32, 3*20*20)
	// The left half of the output lies far outside the image.
	vision.Warp(rgb, vision.CropAffine(presence.Box{X1: -10, Y1: 0, X2: 10, Y2: 10}, 20, 20), 20, 20,
		vision.TensorFormat{Channels: vision.RGB, Mean: 127, Scale: 1.0 / 128}, 127, out)
	if out[0] != 0 || out[400+5] != 0 {
		t.Errorf("fill normalises to %v, want 0", out[0])
	}
	if out[19] == 0 {
		t.Error("inside pixel was filled")
	}
}

func TestSimilarityRecoversTransform(t *testing.T) {
	angle, scale := 0.3, 1.7
	c, s := scale*math.Cos(angle), scale*math.Sin(angle)
	src := []presence.Point{{X: 10, Y: 20}, {X: 50, Y: 22}, {X: 30, Y: 45}, {X: 15, Y: 70}, {X: 48, Y: 68}}
	var dst []presence.Point
	for _, p := range src {
		dst = append(dst, presence.Point{X: c*p.X - s*p.Y + 7, Y: s*p.X + c*p.Y - 3})
	}
	m := vision.Similarity(src, dst)
	want := vision.Affine{c, -s, 7, s, c, -3}
	for i := range m {
		if math.Abs(m[i]-want[i]) > 1e-9 {
			t.Fatalf("got %v, want %v", m, want)
		}
	}
	inv, ok := m.Invert()
	if !ok {
		t.Fatal("not invertible")
	}
	back := inv.Apply(m.Apply(src[2]))
	if math.Abs(back.X-src[2].X) > 1e-9 || math.Abs(back.Y-src[2].Y) > 1e-9 {
		t.Errorf("inverse does not undo: %v", back)
	}
}

// TestHeadPoseRecoversAngles projects a 3-D head with known angles under
// weak perspective and checks the fit returns them, signs included.
func TestHeadPoseRecoversAngles(t *testing.T) {
	head := map[int][3]float64{
		30: {0, 0, 0}, 8: {0, -330, -65}, 36: {-225, 170, -135},
		45: {225, 170, -135}, 48: {-150, -150, -125}, 54: {150, -150, -125},
	}
	for _, want := range []vision.Pose{{}, {Yaw: 25}, {Yaw: -30}, {Pitch: 15}, {Pitch: -20}, {Roll: 12}, {Yaw: 20, Pitch: -10, Roll: 5}} {
		r := rotation(want)
		lm := make([]presence.Point, 68)
		for i, p := range head {
			x := r[0][0]*p[0] + r[0][1]*p[1] + r[0][2]*p[2]
			y := r[1][0]*p[0] + r[1][1]*p[1] + r[1][2]*p[2]
			lm[i] = presence.Point{X: 300 + 0.4*x, Y: 240 - 0.4*y} // image y points down
		}
		got := vision.HeadPose(lm)
		if math.Abs(got.Yaw-want.Yaw) > 1 || math.Abs(got.Pitch-want.Pitch) > 1 || math.Abs(got.Roll-want.Roll) > 1 {
			t.Errorf("pose %+v: fitted %+v", want, got)
		}
	}
}

// rotation builds Rz(roll) Ry(yaw) Rx(-pitch), the convention of
// vision.Pose (pitch > 0 looks up).
func rotation(p vision.Pose) [3][3]float64 {
	rad := math.Pi / 180
	y, x, z := p.Yaw*rad, -p.Pitch*rad, p.Roll*rad
	rx := [3][3]float64{{1, 0, 0}, {0, math.Cos(x), -math.Sin(x)}, {0, math.Sin(x), math.Cos(x)}}
	ry := [3][3]float64{{math.Cos(y), 0, math.Sin(y)}, {0, 1, 0}, {-math.Sin(y), 0, math.Cos(y)}}
	rz := [3][3]float64{{math.Cos(z), -math.Sin(z), 0}, {math.Sin(z), math.Cos(z), 0}, {0, 0, 1}}
	return mul3(rz, mul3(ry, rx))
}

func mul3(a, b [3][3]float64) [3][3]float64 {
	var r [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				r[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return r
}

func TestQualityMeasures(t *testing.T) {
	flat := make([]float32, 64*64)
	for i := range flat {
		flat[i] = 100
	}
	if s := vision.Sharpness(flat, 64); s != 0 {
		t.Errorf("flat patch sharpness %v, want 0", s)
	}
	checker := make([]float32, 64*64)
	for i := range checker {
		if (i%64+i/64)%2 == 0 {
			checker[i] = 255
		}
	}
	if s := vision.Sharpness(checker, 64); s < 1e4 {
		t.Errorf("checkerboard sharpness %v, want large", s)
	}
	e := vision.MeasureExposure([]float32{0, 10, 250, 100})
	if e.Dark != 0.5 || e.Bright != 0.25 || e.Mean != 90 {
		t.Errorf("exposure %+v", e)
	}
	crop := vision.ScaledCrop(presence.Box{X1: 10, Y1: 10, X2: 30, Y2: 30}, 2.7, 100, 100)
	if crop.X1 != 0 || crop.Y1 != 0 || crop.Width() != 55 {
		t.Errorf("crop near the corner must shift inside the image: %+v", crop)
	}
}
