// Package engine runs the one-frame pipeline: detect faces, landmarks,
// quality, passive anti-spoofing, alignment and embedding, then the
// decision. It is pure Go over a small Model interface; engine/onnx supplies
// the implementation that runs real models.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"presence"
	"presence/vision"
)

// Model is one loaded network with its own input and output buffers.
type Model interface {
	Input(i int) []float32
	Output(i int) []float32
	Run() error
	Close() error
}

// ModelLoader builds a Model from the bytes of a model file.
type ModelLoader func(model []byte, inputs, outputs []presence.TensorSpec) (Model, error)

// Config wires an Engine.
type Config struct {
	Manifest *presence.Manifest
	// Dir holds the model files named in the manifest.
	Dir string
	// Workers is the number of frames analysed at once; each worker owns
	// one session per model running on one thread. Default: CPU count.
	Workers int
	// NewModel loads a model (engine/onnx in production).
	NewModel   ModelLoader
	Thresholds Thresholds
}

// Engine analyses frames. It is safe for concurrent use; calls beyond the
// number of workers wait their turn (see QueueDepth).
type Engine struct {
	manifest   *presence.Manifest
	thresholds Thresholds
	workers    chan *worker
	all        []*worker
	versions   []presence.ModelVersion
	waiting    atomic.Int64
	closeOnce  sync.Once
	closed     atomic.Bool
}

// worker owns one session of every model, so a frame never waits on a
// session another frame is using.
type worker struct {
	detector  *detector
	landmarks *landmarker
	liveness  []*spoofScorer
	embedder  *embedder
	eyes      *eyeClassifier // nil when the manifest has no eye model
	models    []Model
}

// New loads every model of the manifest, checking each file's SHA-256
// first, and starts the workers.
func New(cfg Config) (*Engine, error) {
	if cfg.Manifest == nil {
		return nil, errors.New("engine: no manifest")
	}
	if err := cfg.Manifest.Validate(); err != nil {
		return nil, err
	}
	if cfg.NewModel == nil {
		return nil, errors.New("engine: no session factory")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Thresholds == (Thresholds{}) {
		cfg.Thresholds = DefaultThresholds()
	}
	files := map[string][]byte{}
	for _, spec := range cfg.Manifest.Models {
		data, err := ReadVerified(filepath.Join(cfg.Dir, spec.File), spec.SHA256)
		if err != nil {
			return nil, fmt.Errorf("engine: model %s: %w", spec.Name, err)
		}
		files[spec.Name] = data
	}
	e := &Engine{
		manifest:   cfg.Manifest,
		thresholds: cfg.Thresholds,
		workers:    make(chan *worker, cfg.Workers),
		versions:   cfg.Manifest.Versions(),
	}
	for i := 0; i < cfg.Workers; i++ {
		w, err := newWorker(cfg, files)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.all = append(e.all, w)
		e.workers <- w
	}
	return e, nil
}

func newWorker(cfg Config, files map[string][]byte) (*worker, error) {
	w := &worker{}
	load := func(spec presence.ModelSpec) (Model, error) {
		m, err := cfg.NewModel(files[spec.Name], spec.Inputs, spec.Outputs)
		if err != nil {
			return nil, fmt.Errorf("engine: load %s: %w", spec.Name, err)
		}
		w.models = append(w.models, m)
		return m, nil
	}
	for _, spec := range cfg.Manifest.Models {
		m, err := load(spec)
		if err != nil {
			w.close()
			return nil, err
		}
		if err := warmUp(m); err != nil {
			w.close()
			return nil, fmt.Errorf("engine: warm up %s: %w", spec.Name, err)
		}
		switch spec.Role {
		case presence.RoleDetector:
			w.detector = newDetector(spec, m)
		case presence.RoleLandmarks:
			w.landmarks = newLandmarker(spec, m)
		case presence.RoleLiveness:
			w.liveness = append(w.liveness, newSpoofScorer(spec, m))
		case presence.RoleEmbedding:
			w.embedder = newEmbedder(spec, m)
		case presence.RoleEyeState:
			w.eyes = newEyeClassifier(spec, m)
		}
	}
	return w, nil
}

// warmUp runs a model once so ORT allocates its buffers at start, not on
// the first person's frame (the first embedding call took ~90 ms, later
// ones ~10 ms).
func warmUp(m Model) error {
	in := m.Input(0)
	seed := uint32(1)
	for i := range in {
		seed = seed*1664525 + 1013904223
		in[i] = float32(seed>>16)/65536 - 0.5
	}
	return m.Run()
}

func (w *worker) close() {
	for _, m := range w.models {
		m.Close()
	}
}

// ReadVerified reads a file and checks its SHA-256, so a truncated download
// or a swapped file is reported instead of silently changing verdicts.
func ReadVerified(path, wantSHA256 string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing (run `make setup`)", path)
		}
		return nil, err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != wantSHA256 {
		return nil, fmt.Errorf("%s: sha256 %s, want %s (corrupt or replaced file; run `make setup` to fetch it again)", path, got[:12], wantSHA256[:12])
	}
	return data, nil
}

// Close releases every session. It waits for analyses in flight.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		for range e.all {
			w := <-e.workers
			w.close()
		}
	})
	return nil
}

// Closed says whether Close was called.
func (e *Engine) Closed() bool { return e.closed.Load() }

// Thresholds in use.
func (e *Engine) Thresholds() Thresholds { return e.thresholds }

// Manifest the engine was built from.
func (e *Engine) Manifest() *presence.Manifest { return e.manifest }

// Workers is the number of frames analysed at once.
func (e *Engine) Workers() int { return len(e.all) }

// QueueDepth is the number of calls waiting for a free worker.
func (e *Engine) QueueDepth() int { return int(e.waiting.Load()) }

// Options select optional output.
type Options struct {
	// Landmarks adds the 68 landmarks of the primary face to the result.
	Landmarks bool
	// SkipEmbedding saves the embedding model's time when no match is
	// needed (e.g. evaluation of liveness alone).
	SkipEmbedding bool
	// SkipLiveness measures geometry and quality only (detection,
	// landmarks, pose, eyes): the light analysis of most frames of an
	// active stream. The result has no score, and its decision is
	// inconclusive when a quality gate fails, empty otherwise.
	SkipLiveness bool
}

// AnalyzeBytes decodes an image (within lim) and analyses it.
func (e *Engine) AnalyzeBytes(ctx context.Context, data []byte, lim vision.Limits, opts Options) (*presence.Analysis, error) {
	start := time.Now()
	img, info, err := vision.Decode(data, lim)
	if err != nil {
		return nil, err
	}
	decode := time.Since(start)
	a, err := e.Analyze(ctx, img, opts)
	if err != nil {
		return nil, err
	}
	a.Image.Format = string(info.Format)
	a.Image.Orientation = info.Orientation
	a.Timings.Decode = ms(decode)
	a.Timings.Total += a.Timings.Decode
	return a, nil
}

// Analyze runs the pipeline on a decoded frame.
func (e *Engine) Analyze(ctx context.Context, img *presence.Image, opts Options) (*presence.Analysis, error) {
	if !vision.Valid(img) {
		return nil, presence.Errorf(presence.ErrInvalid, "invalid image buffer")
	}
	if e.closed.Load() {
		// Waiting would wait forever: the closed engine's workers are gone.
		return nil, presence.Errorf(presence.ErrUnavailable, "the engine is closed")
	}
	start := time.Now()
	e.waiting.Add(1)
	var w *worker
	select {
	case w = <-e.workers:
		e.waiting.Add(-1)
	case <-ctx.Done():
		e.waiting.Add(-1)
		return nil, ctx.Err()
	}
	defer func() { e.workers <- w }()
	a, err := e.run(w, img, opts)
	if err != nil {
		return nil, err
	}
	a.Timings.Queue = ms(time.Since(start)) - a.Timings.Total
	a.Timings.Total = ms(time.Since(start))
	return a, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
