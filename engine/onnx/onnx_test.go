package onnx_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"presence"
	"presence/engine/onnx"
	"presence/presencetest"
)

func TestSessionLifecycle(t *testing.T) {
	rt := presencetest.Runtime(t)
	if _, err := onnx.Open(filepath.Join(presencetest.CacheDir(), "libonnxruntime.so.1")); !errors.Is(err, onnx.ErrRuntimeOpen) {
		t.Fatalf("second Open: %v, want ErrRuntimeOpen", err)
	}
	spec := presence.DefaultManifest().ByRole(presence.RoleEyeState)[0]
	model, err := os.ReadFile(filepath.Join(presencetest.CacheDir(), spec.File))
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewModel(model, spec.Inputs, spec.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Input(0)); got != spec.Inputs[0].Size() {
		t.Fatalf("input buffer %d values, want %d", got, spec.Inputs[0].Size())
	}
	for i := range s.Input(0) {
		s.Input(0)[i] = 0.5
	}
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	out := s.Output(0)
	if len(out) != 2 || out[0] == out[1] {
		t.Fatalf("output %v", out)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Run(); err == nil {
		t.Fatal("Run after Close succeeded")
	}
	if rt.Provider() != "CPUExecutionProvider" || rt.Version() == "" {
		t.Errorf("provider %q version %q", rt.Provider(), rt.Version())
	}
}

func TestBadModelBytes(t *testing.T) {
	rt := presencetest.Runtime(t)
	spec := presence.DefaultManifest().ByRole(presence.RoleEyeState)[0]
	if _, err := rt.NewModel([]byte("not an onnx model"), spec.Inputs, spec.Outputs); err == nil {
		t.Fatal("garbage loaded as a model")
	}
	if _, err := onnx.Open("/nonexistent/libonnxruntime.so.1"); err == nil {
		t.Fatal("opened a missing library")
	}
}
