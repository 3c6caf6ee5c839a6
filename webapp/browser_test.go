package webapp_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"presence"
	"presence/liveness"
	"presence/presencetest"
)

// The end-to-end test drives the app in Debian's Chromium, whose camera
// plays real clips from ../shared/data. Registrations and logins are
// active checks with one blink: the clips cannot follow random prompts,
// and blinking is what the talking clip does (docs/active.md).
//
// The registration plays seconds 0-5 of the talking clip and the login
// seconds 5-10: Presence refuses frames it has already accepted in
// another session (cross-session replay), and a camera never repeats a
// frame, so one clip must not feed both.

const talkClip = "video_live/blink_talking_1face_720p.mp4"

func blinkPolicy() liveness.Policy {
	p := liveness.DefaultPolicy()
	p.Steps, p.MinSteps, p.MaxSteps, p.StepTimeout = []liveness.StepKind{liveness.StepBlink}, 1, 1, 12*time.Second
	return p
}

type page struct {
	t   *testing.T
	e   *appEnv
	ctx context.Context
}

func openApp(t *testing.T, e *appEnv, cam presencetest.Camera, before string) *page {
	t.Helper()
	ctx := presencetest.Browser(t, cam)
	if before != "" {
		presencetest.OnNewDocument(t, ctx, before)
	}
	return &page{t: t, e: e, ctx: ctx}
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

func (p *page) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.e.URL + path))
	p.fitsThePhone()
}

// fitsThePhone: nothing is wider than the phone-sized window (420 px),
// and every visible control has a name a screen reader can say.
func (p *page) fitsThePhone() {
	p.t.Helper()
	path := presencetest.Eval[string](p.t, p.ctx, "location.pathname")
	if w := presencetest.Eval[int](p.t, p.ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		p.t.Errorf("%s is %d px wider than the phone's screen", path, w)
	}
	unnamed := presencetest.Eval[int](p.t, p.ctx, `[...document.querySelectorAll('a, button, input')].filter(function (e) {
		if (e.offsetParent === null || e.type === 'hidden') return false;
		var name = e.innerText || e.getAttribute('aria-label') || (e.labels && e.labels.length && e.labels[0].innerText) || '';
		return name.trim() === '';
	}).length`)
	if unnamed > 0 {
		p.t.Errorf("%s shows %d controls without a name", path, unnamed)
	}
}

func (p *page) wait(js string, within time.Duration, what string) {
	p.t.Helper()
	if !presencetest.WaitFor(p.t, p.ctx, js, within) {
		p.t.Fatalf("waiting for %s; page at %s in state %s showing %q", what,
			presencetest.Eval[string](p.t, p.ctx, "location.pathname"),
			presencetest.Eval[string](p.t, p.ctx, "window.faceLogin ? window.faceLogin.state + '/' + window.faceLogin.screen : ''"),
			presencetest.Eval[string](p.t, p.ctx, "document.body.innerText"))
	}
}

// faceCheck fills the form and presses a button (register, login or
// face_login), then waits for the flow to end: the account page, or an
// outcome screen whose code it returns.
func (p *page) faceCheck(path, username, button, shot string) string {
	p.t.Helper()
	p.open(path)
	if username != "" {
		p.do(chromedp.SendKeys(chromedp.ID("username"), username))
	}
	p.do(chromedp.Click(chromedp.CSS("button[value=" + button + "]")))
	if shot != "" && presencetest.WaitFor(p.t, p.ctx, `window.faceLogin && window.faceLogin.state === 'capture' && document.querySelector('.presence-capture[data-state=step]') !== null`, 20*time.Second) {
		presencetest.Screenshot(p.t, p.ctx, shot)
	}
	p.wait(`location.pathname === '/app/account' || (window.faceLogin && window.faceLogin.state === 'outcome')`, 60*time.Second, "the end of the face check")
	if presencetest.Eval[string](p.t, p.ctx, "location.pathname") == "/app/account" {
		p.wait(`document.readyState === 'complete'`, 10*time.Second, "the account page")
		p.fitsThePhone()
		return "success"
	}
	p.fitsThePhone()
	// The outcome is announced (role=alert) and focused, in words.
	if focused := presencetest.Eval[string](p.t, p.ctx, "document.activeElement.id"); focused != "outcome-title" {
		p.t.Errorf("focus on %q, not the outcome's title", focused)
	}
	if title := presencetest.Eval[string](p.t, p.ctx, "document.getElementById('outcome-text').textContent"); title == "" {
		p.t.Error("the outcome screen has no title")
	}
	return presencetest.Eval[string](p.t, p.ctx, "window.faceLogin.screen")
}

func (p *page) text() string {
	return presencetest.Eval[string](p.t, p.ctx, "document.body.innerText")
}

func TestFaceLoginInTheBrowser(t *testing.T) {
	e := newAppEnv(t, appOptions{policy: blinkPolicy(), maxFailures: 2, realTime: true})
	clip := presencetest.DataFile(t, talkClip)
	ctx := context.Background()

	// Register with seconds 0-5 of the clip.
	reg := openApp(t, e, presencetest.Camera{Y4M: presencetest.Y4MClip(t, clip, 640, 15, 0, 5)}, "")
	reg.open("/app/")
	presencetest.Screenshot(t, reg.ctx, "app-home")
	reg.open("/app/register")
	presencetest.Screenshot(t, reg.ctx, "app-register")
	if got := reg.faceCheck("/app/register", "alice", "register", "app-register-capture"); got != "success" {
		t.Fatalf("registration ended with %q: %s", got, reg.text())
	}
	presencetest.Screenshot(t, reg.ctx, "app-account")
	user, err := e.accounts.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	reg.do(chromedp.Click(chromedp.CSS("main form[action='/app/logout'] button")))
	reg.wait(`location.pathname === '/app/login' && document.body.innerText.includes('You are logged out')`, 10*time.Second, "the logout")
	presencetest.Screenshot(t, reg.ctx, "app-logged-out")

	// Log in with seconds 5-10.
	login := openApp(t, e, presencetest.Camera{Y4M: presencetest.Y4MClip(t, clip, 640, 15, 5, 5)}, "")
	if got := login.faceCheck("/app/login", "alice", "login", "app-login-capture"); got != "success" {
		t.Fatalf("login ended with %q: %s", got, login.text())
	}
	presencetest.Screenshot(t, login.ctx, "app-login-success")
	if text := login.text(); !strings.Contains(text, "Hello, alice") || strings.Count(text, "Succeeded") != 2 || !strings.Contains(text, "Headless Chrome on Linux") {
		t.Errorf("account page after login: %s", text)
	}

	// The test clock stands still unless moved: the failures come after
	// the success, as they would.
	e.Clock.Advance(time.Minute)

	// Another person's face for alice: a phone selfie clip.
	other := openApp(t, e, presencetest.Camera{Y4M: presencetest.Y4M(t, presencetest.DataFile(t, "video_live/selfie_live_headmove_phone.mp4"), 368, 15, 15)}, "")
	if got := other.faceCheck("/app/login", "alice", "login", ""); got != "no_match" {
		t.Fatalf("another person's login: %q: %s", got, other.text())
	}
	presencetest.Screenshot(t, other.ctx, "app-no-match")

	// A still photo of alice (a frame of the clip) held to the camera.
	photo := presencetest.StillFrame(t, clip, 2.5)
	still := openApp(t, e, presencetest.Camera{Y4M: presencetest.Y4M(t, photo, 640, 15, 20)}, "")
	got := still.faceCheck("/app/login", "alice", "login", "")
	if got != "spoof" && got != "steps" {
		t.Fatalf("still photo: %q: %s", got, still.text())
	}
	t.Logf("the still photo was refused with the %q screen", got)
	presencetest.Screenshot(t, still.ctx, "app-spoof")

	// Two failures: alice's account is locked for a while.
	if got := still.faceCheck("/app/login", "alice", "login", ""); got != "locked" {
		t.Fatalf("third attempt: %q", got)
	}
	presencetest.Screenshot(t, still.ctx, "app-locked")
	if got := still.faceCheck("/app/login", "nobody", "login", ""); got != "unknown_user" {
		t.Fatalf("unknown user: %q", got)
	}
	presencetest.Screenshot(t, still.ctx, "app-unknown-user")

	// The history shows alice what happened to her account.
	login.open("/app/account")
	text := login.text()
	for _, want := range []string{"Face does not match", "Failed", "Registration"} {
		if !strings.Contains(text, want) {
			t.Errorf("history lacks %q: %s", want, text)
		}
	}

	// Delete the account from the logged-in browser.
	login.open("/app/account/delete")
	presencetest.Screenshot(t, login.ctx, "app-delete-confirm")
	login.do(chromedp.Click(chromedp.ID("confirm-delete")))
	login.wait(`document.body.innerText.includes('Your account is deleted')`, 20*time.Second, "the deletion")
	presencetest.Screenshot(t, login.ctx, "app-deleted")
	if _, err := e.Store.Subject(ctx, user.SubjectID); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatalf("subject after deletion: %v", err)
	}
	if _, err := e.accounts.UserByName(ctx, "alice"); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatalf("user after deletion: %v", err)
	}
	if subs, _ := e.Store.ListSubjects(ctx, "", 10); len(subs) != 0 {
		t.Fatalf("subjects left: %d", len(subs))
	}
}

// TestFailureScreensInTheBrowser: what the camera and the check can go
// wrong with, each on its own screen.
func TestFailureScreensInTheBrowser(t *testing.T) {
	e := newAppEnv(t, appOptions{policy: blinkPolicy(), realTime: true})
	// The two-person clip opens on 3.5 s of one repeated frame (a still
	// picture to any camera check), so its camera starts at 4 s.
	for _, c := range []struct {
		name   string
		cam    presencetest.Camera
		before string
		want   []string
	}{
		{"no-camera", presencetest.Camera{NoDevice: true}, "", []string{"no_camera"}},
		{"permission-denied", presencetest.Camera{AskPermission: true, Y4M: noFaceVideo(t)}, "", []string{"permission_denied"}},
		{"no-face", presencetest.Camera{Y4M: noFaceVideo(t)}, "", []string{"no_face"}},
		{"several-faces", presencetest.Camera{Y4M: presencetest.Y4MClip(t, presencetest.DataFile(t, "video_live/blink_talking_2faces_1080p.mp4"), 640, 15, 4, 6)}, "", []string{"several_faces"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each its own browser and username; failures only
			p := openApp(t, e, c.cam, c.before)
			got := p.faceCheck("/app/register", "user-"+c.name, "register", "")
			presencetest.Screenshot(t, p.ctx, "app-"+c.name)
			if !containsString(c.want, got) {
				t.Fatalf("screen %q, want %v: %s", got, c.want, p.text())
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		// The camera starts only when the test says so, after the check's
		// time is up.
		hold := `(function () {
			var original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
			navigator.mediaDevices.getUserMedia = function (c) {
				return new Promise(function (resolve, reject) {
					var wait = setInterval(function () {
						if (window.releaseCamera) { clearInterval(wait); original(c).then(resolve, reject); }
					}, 50);
				});
			};
		})();`
		p := openApp(t, e, presencetest.Camera{Y4M: noFaceVideo(t)}, hold)
		p.open("/app/register")
		p.do(chromedp.SendKeys(chromedp.ID("username"), "late"))
		p.do(chromedp.Click(chromedp.CSS("button[value=register]")))
		p.wait(`window.faceLogin.state === 'capture'`, 10*time.Second, "the capture")
		e.Clock.Advance(10 * time.Minute)
		presencetest.Eval[bool](t, p.ctx, "window.releaseCamera = true")
		p.wait(`window.faceLogin.state === 'outcome'`, 20*time.Second, "the outcome")
		presencetest.Screenshot(t, p.ctx, "app-expired")
		if got := presencetest.Eval[string](t, p.ctx, "window.faceLogin.screen"); got != "expired" {
			t.Fatalf("screen %q: %s", got, p.text())
		}
	})
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// noFaceVideo is a moving test pattern: a camera that sees no face.
func noFaceVideo(t *testing.T) string {
	t.Helper()
	out := filepath.Join(presencetest.CacheDir(), "y4m", "no-face-640x480-15fps-10s.y4m")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	os.MkdirAll(filepath.Dir(out), 0o755)
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg is needed (make installs it): %v", err)
	}
	if o, err := exec.Command(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=640x480:r=15:d=10", "-pix_fmt", "yuv420p", out+".tmp.y4m").CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, o)
	}
	if err := os.Rename(out+".tmp.y4m", out); err != nil {
		t.Fatal(err)
	}
	return out
}
