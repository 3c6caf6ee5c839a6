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

// openEngine opens ONNX Runtime and loads every model of the configured
// manifest. The caller closes the returned func.
func openEngine(cfg Config) (*engine.Engine, func(), error) {
	m, err := cfg.LoadManifest()
	if err != nil {
		return nil, nil, err
	}
	if err := modelcache.Verify(m, cfg.CacheDir); err != nil && cfg.Manifest == "" {
		return nil, nil, err
	}
	rt, err := onnx.Open(filepath.Join(cfg.CacheDir, m.Runtime.File))
	if err != nil {
		return nil, nil, err
	}
	eng, err := engine.New(engine.Config{
		Manifest:   m,
		Dir:        cfg.CacheDir,
		Workers:    cfg.Workers,
		Thresholds: cfg.Thresholds,
		NewSession: func(model []byte, in, out []presence.TensorSpec) (engine.Model, error) {
			return rt.NewSession(model, in, out)
		},
	})
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	return eng, func() { eng.Close(); rt.Close() }, nil
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
