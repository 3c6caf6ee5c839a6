package engine

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"presence"
	"presence/presencetest"
	"presence/vision"
)

// newTestEngine builds an engine with real models on the shared runtime.
func newTestEngine(tb testing.TB, workers int) *Engine {
	tb.Helper()
	rt := presencetest.Runtime(tb)
	e, err := New(Config{
		Manifest: presence.DefaultManifest(),
		Dir:      presencetest.CacheDir(),
		Workers:  workers,
		NewModel: func(model []byte, in, out []presence.TensorSpec) (Model, error) {
			return rt.NewModel(model, in, out)
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// benchFace is the live Silent-Face sample: a 640x480 camera JPEG (stored
// sideways with EXIF orientation 6), the size the targets name.
func benchFace(b *testing.B) (data []byte, img *presence.Image) {
	b.Helper()
	data = presencetest.ReadFile(b, presencetest.DataFile(b, "pad_silentface_samples/image_T1.jpg"))
	img, _, err := vision.Decode(data, vision.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	return data, img
}

// primaryFace returns the detection and landmarks of the benchmark face.
func primaryFace(b *testing.B, w *worker, img *presence.Image) (detection, []presence.Point) {
	t := DefaultThresholds()
	dets, err := w.detector.detect(img, t.DetectionConfidence, t.NMSIoU)
	if err != nil || len(dets) == 0 {
		b.Fatalf("no face in benchmark image: %v", err)
	}
	lm, err := w.landmarks.predict(img, dets[0].box)
	if err != nil {
		b.Fatal(err)
	}
	return dets[0], lm
}

func BenchmarkDecodeJPEG640x480(b *testing.B) {
	data, _ := benchFace(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := vision.Decode(data, vision.DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetect(b *testing.B) {
	_, img := benchFace(b)
	w := newTestEngine(b, 1).all[0]
	t := DefaultThresholds()
	for b.Loop() {
		if _, err := w.detector.detect(img, t.DetectionConfidence, t.NMSIoU); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLandmarks(b *testing.B) {
	_, img := benchFace(b)
	w := newTestEngine(b, 1).all[0]
	det, _ := primaryFace(b, w, img)
	for b.Loop() {
		if _, err := w.landmarks.predict(img, det.box); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQuality(b *testing.B) {
	_, img := benchFace(b)
	w := newTestEngine(b, 1).all[0]
	det, lm := primaryFace(b, w, img)
	for b.Loop() {
		measureQuality(img, det.box, lm)
		if _, _, err := w.eyes.openness(img, lm); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLiveness(b *testing.B) {
	_, img := benchFace(b)
	w := newTestEngine(b, 1).all[0]
	det, _ := primaryFace(b, w, img)
	for b.Loop() {
		if _, err := w.liveness[0].score(img, det.box); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmbedding(b *testing.B) {
	_, img := benchFace(b)
	w := newTestEngine(b, 1).all[0]
	_, lm := primaryFace(b, w, img)
	for b.Loop() {
		if _, err := w.embedder.embed(img, lm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeline is one frame end to end (decode included) on one
// worker, one frame at a time: the latency a single request sees. It
// reports the median as p50-ms.
func BenchmarkPipeline(b *testing.B) {
	data, _ := benchFace(b)
	e := newTestEngine(b, 1)
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := e.AnalyzeBytes(context.Background(), data, vision.DefaultLimits, Options{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(percentileMS(lat, 0.5), "p50-ms")
}

// BenchmarkPipelineTwoWorkers keeps two frames in flight on two workers
// (one ORT thread each) and reports frames per second, from JPEG bytes
// (decode included) and from already decoded frames.
func BenchmarkPipelineTwoWorkers(b *testing.B) {
	data, img := benchFace(b)
	e := newTestEngine(b, 2)
	for _, c := range []struct {
		name    string
		analyze func() error
	}{
		{"jpeg", func() error {
			_, err := e.AnalyzeBytes(context.Background(), data, vision.DefaultLimits, Options{})
			return err
		}},
		{"decoded", func() error {
			_, err := e.Analyze(context.Background(), img, Options{})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportMetric(twoAtATime(b, b.N, c.analyze), "frames/s")
		})
	}
}

// twoAtATime runs analyze n times, two calls in flight, and returns the
// calls per second.
func twoAtATime(b *testing.B, n int, analyze func() error) float64 {
	start := time.Now()
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := analyze(); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func percentileMS(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
}

// withoutModels is the default manifest less the named models.
func withoutModels(names ...string) *presence.Manifest {
	m := presence.DefaultManifest()
	var keep []presence.ModelSpec
	for _, s := range m.Models {
		drop := false
		for _, n := range names {
			drop = drop || s.Name == n
		}
		if !drop {
			keep = append(keep, s)
		}
	}
	m.Models = keep
	return m
}

// BenchmarkSecondLivenessModel measures what the Silent-Face pair costs:
// its own time on the benchmark face, and the two-worker throughput of the
// whole pipeline (decoded frames) with and without it, alternated in
// rounds within one run so the machine's drift hits both alike.
func BenchmarkSecondLivenessModel(b *testing.B) {
	_, img := benchFace(b)
	rt := presencetest.Runtime(b)
	build := func(m *presence.Manifest) *Engine {
		e, err := New(Config{Manifest: m, Dir: presencetest.CacheDir(), Workers: 2, NewModel: func(model []byte, in, out []presence.TensorSpec) (Model, error) {
			return rt.NewModel(model, in, out)
		}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { e.Close() })
		return e
	}
	with, without := build(presence.DefaultManifest()), build(withoutModels("silentface_v2", "silentface_v1se"))
	if len(with.all[0].liveness) != 3 || len(without.all[0].liveness) != 1 {
		b.Fatalf("liveness models: %d with, %d without", len(with.all[0].liveness), len(without.all[0].liveness))
	}
	w := with.all[0]
	det, _ := primaryFace(b, w, img)
	throughput := func(e *Engine, n int) float64 {
		return twoAtATime(b, n, func() error {
			_, err := e.Analyze(context.Background(), img, Options{})
			return err
		})
	}
	var pair []time.Duration
	var fpsWith, fpsWithout float64
	rounds := 0
	for b.Loop() {
		start := time.Now()
		for _, s := range w.liveness[1:] {
			if _, err := s.score(img, det.box); err != nil {
				b.Fatal(err)
			}
		}
		pair = append(pair, time.Since(start))
		fpsWithout += throughput(without, 20)
		fpsWith += throughput(with, 20)
		rounds++
	}
	b.ReportMetric(percentileMS(pair, 0.5), "pair-p50-ms")
	b.ReportMetric(fpsWith/float64(rounds), "fps-with")
	b.ReportMetric(fpsWithout/float64(rounds), "fps-without")
	b.ReportMetric(fpsWith/fpsWithout, "ratio")
}
