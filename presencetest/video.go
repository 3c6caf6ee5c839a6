package presencetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// Frames extracts the frames of a clip under ../shared/data with ffmpeg
// (at the clip's own frame rate when fps is 0, scaled to width when it is
// not 0) into the git-ignored cache, once, and returns their paths in order.
func Frames(tb testing.TB, clip string, fps, width int) []string {
	tb.Helper()
	src := DataFile(tb, clip)
	name := strings.TrimSuffix(filepath.Base(clip), filepath.Ext(clip))
	dir := filepath.Join(CacheDir(), "frames", fmt.Sprintf("%s-%dfps-%dw", name, fps, width))
	if files := jpegs(dir); len(files) > 0 {
		return files
	}
	ffmpeg := needFFmpeg(tb)
	// A folder of its own: test packages run in parallel and may extract
	// the same clip at once; the first rename wins, the others use it.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		tb.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	args := []string{"-v", "error", "-i", src}
	var filters []string
	if fps > 0 {
		filters = append(filters, fmt.Sprintf("fps=%d", fps))
	}
	if width > 0 {
		filters = append(filters, fmt.Sprintf("scale=%d:-2", width))
	}
	if len(filters) > 0 {
		args = append(args, "-vf", strings.Join(filters, ","))
	}
	if fps == 0 {
		args = append(args, "-fps_mode", "passthrough")
	}
	args = append(args, "-q:v", "2", filepath.Join(tmp, "f_%05d.jpg"))
	if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v: %s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if files := jpegs(dir); len(files) > 0 {
			return files
		}
		tb.Fatal(err)
	}
	return jpegs(dir)
}

var tempSeq atomic.Int64

// tempName is a file beside out that no other test process writes (test
// packages run in parallel), ending in ext so ffmpeg picks the format.
func tempName(out, ext string) string {
	return fmt.Sprintf("%s.tmp-%d-%d%s", out, os.Getpid(), tempSeq.Add(1), ext)
}

func jpegs(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "f_*.jpg"))
	sort.Strings(files)
	return files
}

func needFFmpeg(tb testing.TB) string {
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		tb.Fatalf("ffmpeg is needed to extract video frames (make installs Debian's ffmpeg): %v", err)
	}
	return p
}

// Y4M converts a clip (or a still image, repeated for seconds) to a .y4m
// file Chromium can use as a fake camera, scaled to width, at fps; cached.
func Y4M(tb testing.TB, src string, width, fps int, seconds float64) string {
	return Y4MClip(tb, src, width, fps, 0, seconds)
}

// Y4MClip is Y4M of the part of a clip that starts at start seconds (a
// camera loops its file: a login and a registration fed from disjoint parts
// of one clip never show the same frame twice).
func Y4MClip(tb testing.TB, src string, width, fps int, start, seconds float64) string {
	tb.Helper()
	name := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	if start > 0 {
		name += fmt.Sprintf("-from%gs", start)
	}
	out := filepath.Join(CacheDir(), "y4m", fmt.Sprintf("%s-%dw-%dfps-%gs.y4m", name, width, fps, seconds))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	ffmpeg := needFFmpeg(tb)
	os.MkdirAll(filepath.Dir(out), 0o755)
	args := []string{"-v", "error", "-y"}
	if ext := strings.ToLower(filepath.Ext(src)); ext == ".jpg" || ext == ".png" {
		args = append(args, "-loop", "1", "-t", fmt.Sprint(seconds))
	}
	if start > 0 {
		args = append(args, "-ss", fmt.Sprint(start))
	}
	args = append(args, "-i", src, "-vf", fmt.Sprintf("scale=%d:-2,fps=%d", width, fps), "-pix_fmt", "yuv420p")
	if seconds > 0 {
		args = append(args, "-t", fmt.Sprint(seconds))
	}
	tmp := tempName(out, ".y4m")
	args = append(args, tmp)
	if o, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v: %s", err, o)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// StillFrame saves the frame of a clip at the given second as a JPEG (a
// photo of the person in the clip); cached.
func StillFrame(tb testing.TB, src string, at float64) string {
	tb.Helper()
	name := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	out := filepath.Join(CacheDir(), "y4m", fmt.Sprintf("%s-still-%gs.jpg", name, at))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	os.MkdirAll(filepath.Dir(out), 0o755)
	tmp := tempName(out, ".jpg")
	if o, err := exec.Command(needFFmpeg(tb), "-v", "error", "-y", "-ss", fmt.Sprint(at), "-i", src, "-frames:v", "1", "-q:v", "2", tmp).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v: %s", err, o)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}
