// Package enginetest builds real engines (real models, default manifest)
// for the tests of packages above the engine.
package enginetest

import (
	"sync"
	"testing"

	"presence"
	"presence/engine"
	"presence/presencetest"
)

var (
	once   sync.Once
	shared *engine.Engine
	err    error
)

// Engine returns one engine shared by the whole test binary, with the
// default thresholds and one worker per CPU.
func Engine(tb testing.TB) *engine.Engine {
	tb.Helper()
	presencetest.Runtime(tb)
	once.Do(func() { shared, err = Open(tb, engine.DefaultThresholds(), 0) })
	if err != nil {
		tb.Fatalf("engine: %v", err)
	}
	return shared
}

// Open builds a new engine on the shared runtime; the caller closes it.
func Open(tb testing.TB, t engine.Thresholds, workers int) (*engine.Engine, error) {
	rt := presencetest.Runtime(tb)
	return engine.New(engine.Config{
		Manifest:   presence.DefaultManifest(),
		Dir:        presencetest.CacheDir(),
		Workers:    workers,
		Thresholds: t,
		NewModel: func(model []byte, in, out []presence.TensorSpec) (engine.Model, error) {
			return rt.NewModel(model, in, out)
		},
	})
}

// OpenManifest builds an engine for another manifest, its files in the
// test cache, on the shared runtime; the caller closes it.
func OpenManifest(tb testing.TB, m *presence.Manifest, workers int) (*engine.Engine, error) {
	rt := presencetest.Runtime(tb)
	return engine.New(engine.Config{
		Manifest:   m,
		Dir:        presencetest.CacheDir(),
		Workers:    workers,
		Thresholds: engine.DefaultThresholds(),
		NewModel: func(model []byte, in, out []presence.TensorSpec) (engine.Model, error) {
			return rt.NewModel(model, in, out)
		},
	})
}
