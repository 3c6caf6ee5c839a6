package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"presence"
	"presence/engine"
	"presence/engine/onnx"
	"presence/modelcache"
)

// models is the opened ONNX Runtime with the manifest it serves; several
// engines (e.g. two configurations compared by `presence bench`) can be
// built on it.
type models struct {
	rt       *onnx.Runtime
	manifest *presence.Manifest
	dir      string
}

// openModels verifies the cache and opens ONNX Runtime.
func openModels(cfg Config) (*models, error) {
	m, err := cfg.LoadManifest()
	if err != nil {
		return nil, err
	}
	if err := modelcache.Verify(m, cfg.CacheDir); err != nil && cfg.Manifest == "" {
		return nil, err
	}
	rt, err := onnx.Open(filepath.Join(cfg.CacheDir, m.Runtime.File))
	if err != nil {
		return nil, err
	}
	return &models{rt: rt, manifest: m, dir: cfg.CacheDir}, nil
}

// engine loads every model of the manifest with the given workers and
// thresholds.
func (ms *models) engine(workers int, t engine.Thresholds) (*engine.Engine, error) {
	return engine.New(engine.Config{
		Manifest:   ms.manifest,
		Dir:        ms.dir,
		Workers:    workers,
		Thresholds: t,
		NewModel: func(model []byte, in, out []presence.TensorSpec) (engine.Model, error) {
			return ms.rt.NewModel(model, in, out)
		},
	})
}

func (ms *models) close() { ms.rt.Close() }

// openEngine opens ONNX Runtime and loads every model of the configured
// manifest. The caller calls the returned func to release both.
func openEngine(cfg Config) (*engine.Engine, func(), error) {
	ms, err := openModels(cfg)
	if err != nil {
		return nil, nil, err
	}
	eng, err := ms.engine(cfg.Workers, cfg.Thresholds)
	if err != nil {
		ms.close()
		return nil, nil, err
	}
	return eng, func() { eng.Close(); ms.close() }, nil
}

func ensureModels(ctx context.Context, cfg Config, log *slog.Logger) error {
	m, err := cfg.LoadManifest()
	if err != nil {
		return err
	}
	if err := modelcache.Ensure(ctx, m, cfg.CacheDir, log); err != nil {
		return err
	}
	abs, _ := filepath.Abs(cfg.CacheDir)
	log.Info("runtime and models verified", "dir", abs, "files", fmt.Sprint(len(m.Models)+1))
	return nil
}
