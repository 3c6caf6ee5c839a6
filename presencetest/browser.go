package presencetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Camera says what the browser's camera is.
type Camera struct {
	// Y4M is a video file used as the camera (looped by Chromium).
	Y4M string
	// NoDevice leaves the browser without any camera.
	NoDevice bool
	// AskPermission keeps the permission prompt (headless Chromium
	// refuses it) instead of granting the camera.
	AskPermission bool
}

// Browser starts Debian's Chromium, headless, with a fresh profile and no
// background networking, and returns a chromedp context for one tab.
func Browser(tb testing.TB, cam Camera) context.Context {
	tb.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		tb.Fatalf("chromium is needed for browser tests (make installs Debian's chromium): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(420, 860),
	}
	if !cam.AskPermission {
		opts = append(opts, chromedp.Flag("use-fake-ui-for-media-stream", true))
	}
	if !cam.NoDevice {
		opts = append(opts, chromedp.Flag("use-fake-device-for-media-stream", true))
		if cam.Y4M != "" {
			opts = append(opts, chromedp.Flag("use-file-for-fake-video-capture", cam.Y4M))
		}
	}
	// Chromium now and then dies while starting when several start at
	// once (browser subtests run in parallel): a start is tried three
	// times, each with a fresh profile, before the test fails.
	for range 3 {
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, chromedp.UserDataDir(tb.TempDir()))...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		if err = chromedp.Do(ctx); err == nil {
			tb.Cleanup(func() { cancel(); cancelAlloc() })
			return ctx
		}
		cancel()
		cancelAlloc()
	}
	tb.Fatalf("starting chromium: %v", err)
	return nil
}

// UpdateScreenshots is the environment variable that makes Screenshot
// refresh the committed gallery (`make screenshots` sets it).
const UpdateScreenshots = "PRESENCE_UPDATE_SCREENSHOTS"

// Screenshot takes a PNG of the page. It goes to the test's temporary
// folder, so a plain test run leaves the work tree alone; with
// PRESENCE_UPDATE_SCREENSHOTS=1 it replaces reports/screenshots/NAME.png,
// the gallery kept for review.
func Screenshot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	if err != nil {
		tb.Errorf("screenshot %s: %v", name, err)
		return
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		tb.Errorf("screenshot %s: not a PNG (%d bytes)", name, len(png))
		return
	}
	dir := tb.TempDir()
	if os.Getenv(UpdateScreenshots) == "1" {
		dir = filepath.Join(Root(), "reports", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Error(err)
			return
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.Error(err)
	}
}

// WaitFor polls a JavaScript condition until it is true or the timeout
// passes.
func WaitFor(tb testing.TB, ctx context.Context, js string, timeout time.Duration) bool {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// OnNewDocument runs a script in every page the tab loads, before the
// page's own scripts (e.g. to simulate a browser error).
func OnNewDocument(tb testing.TB, ctx context.Context, js string) {
	tb.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		tb.Fatal(err)
	}
}

// Eval evaluates a JavaScript expression.
func Eval[T any](tb testing.TB, ctx context.Context, js string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}
