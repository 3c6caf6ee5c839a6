package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"hash/crc32"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"presence"
	"presence/presencetest"
	"presence/vision"
)

var (
	sharedOnce sync.Once
	shared     *Engine
)

// testEngine is one real engine (default manifest and thresholds, two
// workers) shared by the tests of this package.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	sharedOnce.Do(func() {
		rt := presencetest.Runtime(t)
		var err error
		shared, err = New(Config{
			Manifest: presence.DefaultManifest(),
			Dir:      presencetest.CacheDir(),
			Workers:  2,
			NewModel: func(model []byte, in, out []presence.TensorSpec) (Model, error) {
				return rt.NewModel(model, in, out)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if shared == nil {
		t.Fatal("engine failed to load earlier")
	}
	return shared
}

func analyzeFile(t *testing.T, path string) *presence.Analysis {
	t.Helper()
	a, err := testEngine(t).AnalyzeBytes(context.Background(), presencetest.ReadFile(t, path), vision.DefaultLimits, Options{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func decodeFile(t *testing.T, path string) *presence.Image {
	t.Helper()
	img, _, err := vision.Decode(presencetest.ReadFile(t, path), vision.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return vision.ToRGB(img)
}

func TestFacesFoundInEveryDevPhoto(t *testing.T) {
	for _, sub := range []string{"pad_silentface_samples", "fr_deepface_pairs"} {
		dir := presencetest.DataDir(t, sub)
		files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		if len(files) == 0 {
			t.Fatalf("no images in %s", dir)
		}
		for _, f := range files {
			if a := analyzeFile(t, f); a.Face == nil || a.HasReason(presence.ReasonNoFace) {
				t.Errorf("%s/%s: no face found", sub, filepath.Base(f))
			}
		}
	}
}

func TestSilentFaceLiveScoresAboveSpoofs(t *testing.T) {
	dir := presencetest.DataDir(t, "pad_silentface_samples")
	live := analyzeFile(t, filepath.Join(dir, "image_T1.jpg"))
	for _, spoof := range []string{"image_F1.jpg", "image_F2.jpg"} {
		s := analyzeFile(t, filepath.Join(dir, spoof))
		if live.Score == nil || s.Score == nil || *live.Score <= *s.Score {
			t.Errorf("live T1 scored %v, not above %s's %v", deref(live.Score), spoof, deref(s.Score))
		}
	}
	if live.Decision != presence.DecisionRealFace {
		t.Errorf("live sample: %s %v", live.Decision, live.Reasons)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// TestSamePersonAboveDifferentPerson checks every same-person pair of the
// deepface set scores above every different-person pair.
func TestSamePersonAboveDifferentPerson(t *testing.T) {
	dir := presencetest.DataDir(t, "fr_deepface_pairs")
	f, err := os.Open(filepath.Join(dir, "master.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	emb := map[string]presence.Embedding{}
	get := func(name string) presence.Embedding {
		if e, ok := emb[name]; ok {
			return e
		}
		a := analyzeFile(t, filepath.Join(dir, name))
		if a.Face == nil {
			t.Fatalf("%s: no face", name)
		}
		emb[name] = a.Face.Embedding
		return a.Face.Embedding
	}
	minSame, maxDiff := 2.0, -2.0
	var nSame, nDiff int
	for _, r := range rows[1:] {
		s := get(r[0]).Similarity(get(r[1]))
		if r[2] == "Yes" {
			minSame, nSame = min(minSame, s), nSame+1
		} else {
			maxDiff, nDiff = max(maxDiff, s), nDiff+1
		}
	}
	t.Logf("%d same-person pairs, lowest %.3f; %d different-person pairs, highest %.3f", nSame, minSame, nDiff, maxDiff)
	if nSame == 0 || nDiff == 0 || minSame <= maxDiff {
		t.Errorf("same-person pairs do not all score above different-person pairs: lowest same %.3f, highest different %.3f", minSame, maxDiff)
	}
}

// pngHeaderBomb is a PNG whose header claims 100000x100000 pixels.
func pngHeaderBomb() []byte {
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(append(c, typ...), data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2
	out := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
	return append(out, chunk("IEND", nil)...)
}

func encodePNG(t *testing.T, img *presence.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, toNRGBA(img)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sideBySide puts two pictures next to each other on one canvas, scaled
// to the same height: a real two-face photo made from real faces.
func sideBySide(a, b *presence.Image, height int) *presence.Image {
	wa := a.Width * height / a.Height
	wb := b.Width * height / b.Height
	out := presence.NewImage(wa+wb, height)
	paste := func(src *presence.Image, x0, w int) {
		buf := make([]float32, 3*w*height)
		vision.Warp(src, vision.CropAffine(presence.Box{X2: float64(src.Width), Y2: float64(src.Height)}, w, height), w, height,
			vision.TensorFormat{Channels: vision.RGB, Scale: 1}, 0, buf)
		for y := 0; y < height; y++ {
			for x := 0; x < w; x++ {
				for c := 0; c < 3; c++ {
					out.Pix[3*(y*(wa+wb)+x0+x)+c] = uint8(buf[c*w*height+y*w+x] + 0.5)
				}
			}
		}
	}
	paste(a, 0, wa)
	paste(b, wa, wb)
	return out
}

// TestBadInputTable: every kind of bad input gets its specific error or
// reason, never a panic.
func TestBadInputTable(t *testing.T) {
	silent := presencetest.DataDir(t, "pad_silentface_samples")
	deepface := presencetest.DataDir(t, "fr_deepface_pairs")
	live := presencetest.ReadFile(t, filepath.Join(silent, "image_T1.jpg"))
	random := make([]byte, 10000)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	// The bottom of the live sample is her red shirt: a real photo region
	// with no face in it.
	liveRGB := decodeFile(t, filepath.Join(silent, "image_T1.jpg"))
	shirt := crop(liveRGB, 0, 420, liveRGB.Width, liveRGB.Height)
	twoFaces := sideBySide(decodeFile(t, filepath.Join(deepface, "img1.jpg")), decodeFile(t, filepath.Join(deepface, "img17.jpg")), 600)

	cases := []struct {
		name    string
		data    []byte
		errCode presence.ErrorCode
		reason  presence.ReasonCode
	}{
		{name: "empty file", data: nil, errCode: presence.ErrEmptyInput},
		{name: "random bytes", data: random, errCode: presence.ErrUnsupportedFormat},
		{name: "truncated jpeg", data: live[:len(live)/3], errCode: presence.ErrCorruptImage},
		{name: "png claiming 100000x100000", data: pngHeaderBomb(), errCode: presence.ErrImageTooLarge},
		{name: "text file", data: []byte("this is not an image\n"), errCode: presence.ErrUnsupportedFormat},
		{name: "image with no face", data: encodePNG(t, shirt), reason: presence.ReasonNoFace},
		{name: "image with two faces", data: encodePNG(t, twoFaces), reason: presence.ReasonMultipleFaces},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := testEngine(t).AnalyzeBytes(context.Background(), c.data, vision.DefaultLimits, Options{})
			if c.errCode != "" {
				if err == nil {
					t.Fatalf("analysed (%s), want error %s", a.Decision, c.errCode)
				}
				if got := presence.ErrorCodeOf(err); got != c.errCode {
					t.Fatalf("error %s (%v), want %s", got, err, c.errCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Decision != presence.DecisionInconclusive || !a.HasReason(c.reason) {
				t.Fatalf("got %s %v, want inconclusive with %s", a.Decision, a.Reasons, c.reason)
			}
		})
	}
}

func crop(img *presence.Image, x0, y0, x1, y1 int) *presence.Image {
	out := presence.NewImage(x1-x0, y1-y0)
	for y := y0; y < y1; y++ {
		copy(out.Pix[3*(y-y0)*out.Width:], img.Pix[3*(y*img.Width+x0):3*(y*img.Width+x1)])
	}
	return out
}

// TestQualityGatesOnRealFace degrades the live sample the way bad capture
// does and expects an inconclusive verdict with the matching guidance,
// never fake.
func TestQualityGatesOnRealFace(t *testing.T) {
	base := decodeFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg"))
	dark := scalePixels(base, 0.15)
	blurred := boxBlur(base, 6, 3)
	small := resize(base, base.Width/5, base.Height/5)
	for _, c := range []struct {
		name string
		img  *presence.Image
		want presence.ReasonCode
	}{
		{"dark room", dark, presence.ReasonTooDark},
		{"motion blur", blurred, presence.ReasonTooBlurry},
		{"far from the camera", small, presence.ReasonFaceTooSmall},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := testEngine(t).Analyze(context.Background(), c.img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Decision != presence.DecisionInconclusive || !a.HasReason(c.want) {
				q := presence.Quality{}
				if a.Face != nil {
					q = a.Face.Quality
				}
				t.Fatalf("got %s %v (quality %+v), want inconclusive with %s", a.Decision, a.Reasons, q, c.want)
			}
		})
	}
	a, err := testEngine(t).Analyze(context.Background(), base, Options{})
	if err != nil || a.Decision != presence.DecisionRealFace {
		t.Fatalf("control: the undegraded sample gave %v %v", a, err)
	}
}

func scalePixels(img *presence.Image, f float64) *presence.Image {
	out := presence.NewImage(img.Width, img.Height)
	for i, v := range img.Pix {
		out.Pix[i] = uint8(float64(v) * f)
	}
	return out
}

// boxBlur applies a box blur of the given radius passes times (three passes
// approximate a Gaussian).
func boxBlur(img *presence.Image, radius, passes int) *presence.Image {
	cur := img
	for p := 0; p < passes; p++ {
		for _, horizontal := range []bool{true, false} {
			next := presence.NewImage(cur.Width, cur.Height)
			for y := 0; y < cur.Height; y++ {
				for x := 0; x < cur.Width; x++ {
					var sum [3]int
					n := 0
					for k := -radius; k <= radius; k++ {
						xx, yy := x, y
						if horizontal {
							xx += k
						} else {
							yy += k
						}
						if xx < 0 || yy < 0 || xx >= cur.Width || yy >= cur.Height {
							continue
						}
						for c := 0; c < 3; c++ {
							sum[c] += int(cur.Pix[3*(yy*cur.Width+xx)+c])
						}
						n++
					}
					for c := 0; c < 3; c++ {
						next.Pix[3*(y*cur.Width+x)+c] = uint8(sum[c] / n)
					}
				}
			}
			cur = next
		}
	}
	return cur
}

func resize(img *presence.Image, w, h int) *presence.Image {
	buf := make([]float32, 3*w*h)
	vision.Warp(img, vision.CropAffine(presence.Box{X2: float64(img.Width), Y2: float64(img.Height)}, w, h), w, h,
		vision.TensorFormat{Channels: vision.RGB, Scale: 1}, 0, buf)
	out := presence.NewImage(w, h)
	for i := 0; i < w*h; i++ {
		for c := 0; c < 3; c++ {
			out.Pix[3*i+c] = uint8(buf[c*w*h+i] + 0.5)
		}
	}
	return out
}

// TestConcurrentAnalysesAgree runs many analyses at once on two workers and
// checks each equals the sequential result: workers share nothing.
func TestConcurrentAnalysesAgree(t *testing.T) {
	dir := presencetest.DataDir(t, "pad_silentface_samples")
	files := []string{"image_T1.jpg", "image_F1.jpg", "image_F2.jpg"}
	want := map[string]float64{}
	for _, f := range files {
		want[f] = deref(analyzeFile(t, filepath.Join(dir, f)).Score)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 30)
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func(f string) {
			defer wg.Done()
			a, err := testEngine(t).AnalyzeBytes(context.Background(), presencetest.ReadFile(t, filepath.Join(dir, f)), vision.DefaultLimits, Options{})
			if err != nil {
				errs <- err.Error()
				return
			}
			if got := deref(a.Score); got != want[f] {
				errs <- f + ": concurrent score differs from sequential"
			}
		}(files[i%3])
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestCanceledContextDoesNotWaitForever(t *testing.T) {
	e := testEngine(t)
	// Hold every worker, then ask with a cancelled context.
	held := make([]*worker, 0, e.Workers())
	for range e.Workers() {
		held = append(held, <-e.workers)
	}
	defer func() {
		for _, w := range held {
			e.workers <- w
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Analyze(ctx, presence.NewImage(8, 8), Options{}); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if e.QueueDepth() != 0 {
		t.Fatalf("queue depth %d after a cancelled call", e.QueueDepth())
	}
}

func TestReadVerifiedReportsCorruptAndMissingFiles(t *testing.T) {
	spec := presence.DefaultManifest().ByRole(presence.RoleEyeState)[0]
	data := presencetest.ReadFile(t, filepath.Join(presencetest.CacheDir(), spec.File))
	if _, err := ReadVerified(filepath.Join(presencetest.CacheDir(), spec.File), spec.SHA256); err != nil {
		t.Fatalf("control: %v", err)
	}
	dir := t.TempDir()
	data[len(data)/2] ^= 0xFF
	corrupt := filepath.Join(dir, spec.File)
	if err := os.WriteFile(corrupt, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVerified(corrupt, spec.SHA256); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt model: %v", err)
	}
	if _, err := ReadVerified(filepath.Join(dir, "absent.onnx"), spec.SHA256); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing model: %v", err)
	}
}

func toNRGBA(img *presence.Image) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i := 0; i < img.Width*img.Height; i++ {
		copy(m.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3])
		m.Pix[4*i+3] = 255
	}
	return m
}
