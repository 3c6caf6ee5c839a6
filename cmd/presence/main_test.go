package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"presence/presencetest"
)

var binary string

// TestMain builds the real presence binary once; the tests run it the way a
// user does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "presence-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "presence")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building presence: " + err.Error())
	}
	code := m.Run()
	presencetest.StopPostgres()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), "PRESENCE_CACHE_DIR="+presencetest.CacheDir()), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errb.String(), "panic") || strings.Contains(errb.String(), "goroutine ") {
		t.Fatalf("presence %v panicked:\n%s", args, errb.String())
	}
	return result{out.String(), errb.String(), code}
}

func TestCheckLiveSampleHumanReadable(t *testing.T) {
	live := presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	r := run(t, nil, "check", live)
	if r.code != 0 || !strings.Contains(r.stdout, "REALFACE") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestCheckJSONWithReference(t *testing.T) {
	dir := presencetest.DataDir(t, "fr_deepface_pairs")
	// img20/img21 are the same person in master.csv; img1 is another.
	r := run(t, nil, "check", "--json", "--reference", filepath.Join(dir, "img20.jpg"),
		filepath.Join(dir, "img21.jpg"), filepath.Join(dir, "img1.jpg"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var results []struct {
		File     string
		Decision string
		Score    *float64
		Match    *struct {
			Similarity, Threshold float64
			Match                 bool
		}
		Models  []struct{ Name, SHA256 string }
		Timings map[string]float64
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if len(results) != 2 || results[0].Match == nil || results[1].Match == nil {
		t.Fatalf("want two results with matches: %s", r.stdout)
	}
	if !results[0].Match.Match || results[1].Match.Match {
		t.Errorf("same person matched=%v (%.3f), other person matched=%v (%.3f)",
			results[0].Match.Match, results[0].Match.Similarity, results[1].Match.Match, results[1].Match.Similarity)
	}
	if results[0].Score == nil || len(results[0].Models) < 4 || results[0].Timings["total_ms"] <= 0 {
		t.Errorf("missing score, models or timings: %+v", results[0])
	}
}

func TestCheckUnreadableInputs(t *testing.T) {
	dir := t.TempDir()
	live := presencetest.ReadFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg"))
	files := map[string][]byte{
		"empty.jpg":     nil,
		"notes.txt":     []byte("not an image at all\n"),
		"truncated.jpg": live[:len(live)/4],
		"random.png":    bytes.Repeat([]byte{0x13, 0x37, 0xC0, 0xDE}, 500),
	}
	var paths []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	paths = append(paths, filepath.Join(dir, "missing.jpg"), dir)
	for _, p := range paths {
		r := run(t, nil, "check", p)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], filepath.Base(p)) {
			t.Errorf("%s: exit %d, stderr %q; want non-zero and one line naming the file", filepath.Base(p), r.code, r.stderr)
		}
	}
	// A good image next to a bad one: the good one is still reported, and
	// the status says not everything could be analysed.
	good := presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	r := run(t, nil, "check", good, filepath.Join(dir, "empty.jpg"))
	if r.code == 0 || !strings.Contains(r.stdout, "image_T1.jpg") {
		t.Errorf("mixed input: exit %d, stdout %q", r.code, r.stdout)
	}
	r = run(t, nil, "check", "--max-image-bytes", "1000", good)
	if r.code == 0 || !strings.Contains(r.stderr, "too large") {
		t.Errorf("oversized input: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	if r := run(t, nil, "check"); r.code != 2 {
		t.Errorf("check without images: exit %d", r.code)
	}
	if r := run(t, nil, "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("unknown command: exit %d, %q", r.code, r.stderr)
	}
	if r := run(t, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "check") {
		t.Errorf("help: exit %d", r.code)
	}
}

func TestModelsLists(t *testing.T) {
	r := run(t, nil, "models")
	for _, want := range []string{"fr_detect", "fr_liveness", "fr_feature", "onnxruntime", "1.30.0", "6c0256ccd3164f84", "MIT"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("models output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestSetupIsOfflineWhenCached runs setup with no npm on PATH: with a
// complete cache it must verify and succeed without fetching.
func TestSetupIsOfflineWhenCached(t *testing.T) {
	r := run(t, []string{"PATH=/nonexistent"}, "setup")
	if r.code != 0 {
		t.Fatalf("setup with a full cache and no npm: exit %d: %s", r.code, r.stderr)
	}
}
