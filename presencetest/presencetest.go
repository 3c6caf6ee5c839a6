// Package presencetest gives tests the real pieces: the repository's model
// cache, the process-wide ONNX Runtime, and the labelled data in
// ../shared/data. Tests that need the data skip, saying why, where that
// folder is absent; a missing model cache is a failure, because `make test`
// always installs it first.
package presencetest

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"presence"
	"presence/engine/onnx"
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// CacheDir is where `make setup` puts ONNX Runtime and the models
// (PRESENCE_CACHE_DIR overrides).
func CacheDir() string {
	if d := os.Getenv("PRESENCE_CACHE_DIR"); d != "" {
		return d
	}
	return filepath.Join(Root(), ".cache")
}

// DataRoot is ../shared/data beside the checkout.
func DataRoot() string { return filepath.Join(Root(), "..", "shared", "data") }

// DataDir returns ../shared/data/sub, skipping the test when absent.
func DataDir(tb testing.TB, sub string) string {
	tb.Helper()
	dir := filepath.Join(DataRoot(), sub)
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("dev data %s not available (%v): this test needs ../shared/data beside the checkout", sub, err)
	}
	return dir
}

// DataFile returns the path of a file under ../shared/data, skipping the
// test when it is absent.
func DataFile(tb testing.TB, rel string) string {
	tb.Helper()
	path := filepath.Join(DataRoot(), rel)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("dev data %s not available: this test needs ../shared/data beside the checkout", rel)
	}
	return path
}

// ReadFile reads a file or fails the test.
func ReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

var (
	runtimeOnce sync.Once
	sharedRT    *onnx.Runtime
	runtimeErr  error
)

// Runtime returns the process-wide ONNX Runtime (ORT allows one
// environment a process), opened from the model cache.
func Runtime(tb testing.TB) *onnx.Runtime {
	tb.Helper()
	runtimeOnce.Do(func() {
		sharedRT, runtimeErr = onnx.Open(filepath.Join(CacheDir(), presence.DefaultManifest().Runtime.File))
	})
	if runtimeErr != nil {
		tb.Fatalf("onnx runtime: %v (run `make setup` first)", runtimeErr)
	}
	return sharedRT
}
