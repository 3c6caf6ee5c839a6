package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"presence"
	"presence/clock"
	"presence/httpapi/apitest"
	"presence/liveness"
	"presence/presencetest"
	"presence/session"
)

func policy(timeout time.Duration, min int, steps ...liveness.StepKind) liveness.Policy {
	p := liveness.DefaultPolicy()
	p.Steps, p.MinSteps, p.MaxSteps, p.StepTimeout = steps, min, min, timeout
	return p
}

// createSession starts a session through the API as a relying party does.
func createSession(t *testing.T, e *apitest.Env, body string) (id, token string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.URL+"/v1/sessions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.Key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		ID          string `json:"id"`
		ClientToken string `json:"client_token"`
	}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("create: %d %s", res.StatusCode, raw)
	}
	return out.ID, out.ClientToken
}

func verdict(t *testing.T, e *apitest.Env, id string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+"/v1/sessions/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+e.Key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	json.Unmarshal(raw, &out)
	out["raw"] = string(raw)
	return out
}

// capture opens the SDK's demo page for a session in a fresh browser.
func capture(t *testing.T, e *apitest.Env, cam presencetest.Camera, id, token string, before string) context.Context {
	t.Helper()
	ctx := presencetest.Browser(t, cam)
	if before != "" {
		presencetest.OnNewDocument(t, ctx, before)
	}
	page := fmt.Sprintf("%s/sdk/demo.html?session=%s&token=%s", e.URL, url.QueryEscape(id), url.QueryEscape(token))
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func waitDone(t *testing.T, ctx context.Context, within time.Duration) map[string]any {
	t.Helper()
	if !presencetest.WaitFor(t, ctx, "window.presenceResult !== null", within) {
		states := presencetest.Eval[[]string](t, ctx, "window.presenceStates")
		t.Fatalf("the SDK did not finish; states %v", states)
	}
	return presencetest.Eval[map[string]any](t, ctx, "window.presenceResult")
}

func talkClip(t *testing.T) string {
	return presencetest.Y4M(t, presencetest.DataFile(t, "video_live/blink_talking_1face_720p.mp4"), 640, 15, 0)
}

// TestRealClipPassesBlinkSession: Chromium's camera plays the talking clip;
// the SDK streams it through a two-blink session; the backend reads
// realface.
func TestRealClipPassesBlinkSession(t *testing.T) {
	e := apitest.New(t, apitest.Options{Policy: policy(8*time.Second, 2, liveness.StepBlink), Clock: &clock.Offset{}})
	id, token := createSession(t, e, `{"mode":"active"}`)
	ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, "")
	if presencetest.WaitFor(t, ctx, `document.querySelector('.presence-capture[data-state=step]') !== null`, 20*time.Second) {
		presencetest.Screenshot(t, ctx, "sdk-step-blink")
	}
	r := waitDone(t, ctx, 30*time.Second)
	presencetest.Screenshot(t, ctx, "sdk-done")
	if r["status"] != "succeeded" {
		t.Fatalf("SDK result %v", r)
	}
	v := verdict(t, e, id)
	if v["decision"] != "realface" {
		t.Fatalf("verdict %s", v["raw"])
	}
	if text := presencetest.Eval[string](t, ctx, "document.body.innerText"); strings.Contains(text, "score") || strings.Contains(text, "realface") {
		t.Errorf("the page shows the verdict: %q", text)
	}
}

// TestRealClipFailsStepsItNeverPerforms: the talking head never turns.
func TestRealClipFailsStepsItNeverPerforms(t *testing.T) {
	e := apitest.New(t, apitest.Options{Policy: policy(4*time.Second, 2, liveness.StepTurnLeft, liveness.StepTurnRight), Clock: &clock.Offset{}})
	id, token := createSession(t, e, `{"mode":"active"}`)
	ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, "")
	if presencetest.WaitFor(t, ctx, `document.querySelector('.presence-capture[data-state=step]') !== null`, 20*time.Second) {
		presencetest.Screenshot(t, ctx, "sdk-step-turn")
	}
	r := waitDone(t, ctx, 30*time.Second)
	presencetest.Screenshot(t, ctx, "sdk-try-again")
	v := verdict(t, e, id)
	if v["decision"] == "realface" || !strings.Contains(v["raw"].(string), "challenge_failed") {
		t.Fatalf("verdict %s (SDK %v)", v["raw"], r)
	}
}

// TestStillPhotoFailsActiveSessions: a camera showing one photo, through
// the SDK, for a blink and a head turn. Every step kind against a still
// photo is tested on the same state machine without a browser
// (liveness.TestStillPhotoFailsEveryStep); here the point is the path
// from camera to verdict, and each further kind would only add seconds of
// streaming.
func TestStillPhotoFailsActiveSessions(t *testing.T) {
	still := presencetest.Y4M(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg"), 480, 15, 20)
	for _, step := range []liveness.StepKind{liveness.StepBlink, liveness.StepTurnLeft} {
		t.Run(string(step), func(t *testing.T) {
			t.Parallel() // failures: a busy machine cannot turn them into passes
			e := apitest.New(t, apitest.Options{Policy: policy(4*time.Second, 2, step), Clock: &clock.Offset{}})
			id, token := createSession(t, e, `{"mode":"active"}`)
			ctx := capture(t, e, presencetest.Camera{Y4M: still}, id, token, "")
			waitDone(t, ctx, 30*time.Second)
			if step == liveness.StepBlink {
				presencetest.Screenshot(t, ctx, "sdk-still-photo")
			}
			if v := verdict(t, e, id); v["decision"] == "realface" || v["status"] == "in_progress" {
				t.Fatalf("still photo: %s", v["raw"])
			}
			// The device never learns the verdict: its end state must not
			// read as a pass, and no step counter may outlive the check.
			end := presencetest.Eval[string](t, ctx, `document.querySelector('.presence-capture').textContent`)
			progress := presencetest.Eval[string](t, ctx, `document.querySelector('.pc-progress').textContent`)
			if strings.Contains(end, "Completed") || strings.Contains(end, "✓") || progress != "" {
				t.Errorf("end state %q, progress %q: want neutral, no counter", end, progress)
			}
		})
	}
}

func TestPassiveCapture(t *testing.T) {
	e := apitest.New(t, apitest.Options{Clock: &clock.Offset{}})
	id, token := createSession(t, e, `{"mode":"passive"}`)
	ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, "")
	r := waitDone(t, ctx, 30*time.Second)
	presencetest.Screenshot(t, ctx, "sdk-passive-done")
	v := verdict(t, e, id)
	if r["status"] != "succeeded" || v["decision"] == nil {
		t.Fatalf("passive: %v %s", r, v["raw"])
	}
	// The SDK reported the camera; the verdict records it.
	if c, _ := v["capture"].(map[string]any); c == nil || c["device_reported"] != true || c["source"] != "stream" || c["virtual_camera"] != "video file" {
		t.Fatalf("capture record: %s", v["raw"])
	}
}

// TestVirtualCameraRefused: a relying party that refuses virtual cameras
// gets fake (injection_suspected) from Chromium's file-playing camera,
// before any frame is judged.
func TestVirtualCameraRefused(t *testing.T) {
	e := apitest.New(t, apitest.Options{Clock: &clock.Offset{}})
	id, token := createSession(t, e, `{"mode":"passive","capture":{"frames":"stream","refuse_virtual_cameras":true}}`)
	ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, "")
	r := waitDone(t, ctx, 30*time.Second)
	if v := verdict(t, e, id); r["status"] != "succeeded" || v["decision"] != "fake" || !strings.Contains(v["raw"].(string), "injection_suspected") {
		t.Fatalf("virtual camera: %v %s", r, v["raw"])
	}
}

// TestErrorStates drives every failure the person can meet and checks the
// state and its message.
func TestErrorStates(t *testing.T) {
	e := apitest.New(t, apitest.Options{Policy: policy(8*time.Second, 2, liveness.StepTurnLeft), Clock: &clock.Offset{}})
	cases := []struct {
		name   string
		cam    presencetest.Camera
		before string
		state  string
		text   string
	}{
		{"permission-denied", presencetest.Camera{AskPermission: true, Y4M: talkClip(t)}, "", "permission_denied", "Camera access was denied"},
		{"no-camera", presencetest.Camera{NoDevice: true}, "", "no_camera", "No camera was found"},
		{"camera-in-use", presencetest.Camera{Y4M: talkClip(t)},
			`navigator.mediaDevices.getUserMedia = function () { return Promise.reject(new DOMException('Could not start video source', 'NotReadableError')); };`,
			"camera_in_use", "in use by another application"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // after session-expired, the one subtest that moves the clock
			id, token := createSession(t, e, `{"mode":"active"}`)
			ctx := capture(t, e, c.cam, id, token, c.before)
			waitDone(t, ctx, 20*time.Second)
			presencetest.Screenshot(t, ctx, "sdk-"+c.name)
			state := presencetest.Eval[string](t, ctx, `document.querySelector('.presence-capture').getAttribute('data-state')`)
			text := presencetest.Eval[string](t, ctx, `document.querySelector('.pc-step').textContent`)
			if state != c.state || !strings.Contains(text, c.text) {
				t.Fatalf("state %q text %q, want %q with %q", state, text, c.state, c.text)
			}
			// The token was never sent: the session is still waiting.
			if v := verdict(t, e, id); v["status"] != "created" {
				t.Errorf("session after a camera failure: %v", v["status"])
			}
		})
	}
	t.Run("session-expired", func(t *testing.T) {
		id, token := createSession(t, e, `{"mode":"active","ttl_seconds":30}`)
		e.Clock.Advance(time.Minute)
		ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, "")
		waitDone(t, ctx, 20*time.Second)
		presencetest.Screenshot(t, ctx, "sdk-session-expired")
		if text := presencetest.Eval[string](t, ctx, `document.querySelector('.pc-step').textContent`); !strings.Contains(text, "expired") {
			t.Fatalf("text %q", text)
		}
	})
}

func TestNetworkLost(t *testing.T) {
	e := apitest.New(t, apitest.Options{Policy: policy(20*time.Second, 2, liveness.StepTurnLeft), Clock: &clock.Offset{}})
	id, token := createSession(t, e, `{"mode":"active"}`)
	ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, "")
	if !presencetest.WaitFor(t, ctx, `document.querySelector('.presence-capture[data-state=step]') !== null`, 20*time.Second) {
		t.Fatal("never reached the first step")
	}
	// The server drops every stream, as a lost network does.
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.Server.CloseStreams(stopCtx)
	waitDone(t, ctx, 10*time.Second)
	presencetest.Screenshot(t, ctx, "sdk-network-lost")
	if text := presencetest.Eval[string](t, ctx, `document.querySelector('.pc-step').textContent`); !strings.Contains(text, "connection was lost") {
		t.Fatalf("text %q", text)
	}
	if v := verdict(t, e, id); v["status"] != "failed" || !bytes.Contains([]byte(v["raw"].(string)), []byte("connection_lost")) {
		t.Fatalf("session after the drop: %s", v["raw"])
	}
}

// TestLightChallengeWithAFileCamera: Chromium's camera plays a file, which
// no screen can light: the SDK shows the colours, and the session does
// not pass.
func TestLightChallengeWithAFileCamera(t *testing.T) {
	e := apitest.New(t, apitest.Options{Clock: &clock.Offset{}})
	id, token := createSession(t, e, `{"mode":"passive","light_challenge":true}`)
	ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, "")
	if !presencetest.WaitFor(t, ctx, `document.querySelector('.presence-capture').getAttribute('data-light') !== null`, 15*time.Second) {
		t.Fatal("the SDK never showed the light challenge")
	}
	r := waitDone(t, ctx, 30*time.Second)
	v := verdict(t, e, id)
	if r["status"] != "succeeded" || v["decision"] == "realface" || !strings.Contains(v["raw"].(string), `"light":{`) {
		t.Fatalf("a file camera through the light challenge: %v %s", r, v["raw"])
	}
	t.Logf("file camera: %s %v", v["decision"], v["reasons"])
}

// TestDemoPageRecordsWithConsent: with ?record=1 the demo page asks first
// and opens nothing until the person agrees (the session stays created);
// then it records the light-challenge session into the format eval clips
// reads.
func TestDemoPageRecordsWithConsent(t *testing.T) {
	e := apitest.New(t, apitest.Options{Clock: &clock.Offset{}})
	id, token := createSession(t, e, `{"mode":"passive","light_challenge":true}`)
	ctx := presencetest.Browser(t, presencetest.Camera{Y4M: talkClip(t)})
	page := fmt.Sprintf("%s/sdk/demo.html?session=%s&token=%s&record=1", e.URL, url.QueryEscape(id), url.QueryEscape(token))
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible("#consent")); err != nil {
		t.Fatal(err)
	}
	// Start without agreeing: nothing happens.
	if err := chromedp.Do(ctx, chromedp.Click("#start"), chromedp.Sleep(time.Second)); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.Store.Session(context.Background(), id); s.Status != "created" || presencetest.Eval[int](t, ctx, "window.presenceStates.length") != 0 {
		t.Fatalf("the check started without consent: %s", s.Status)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#agree"), chromedp.Click("#start")); err != nil {
		t.Fatal(err)
	}
	waitDone(t, ctx, 30*time.Second)
	if !presencetest.WaitFor(t, ctx, "window.presenceRecording !== null", 10*time.Second) {
		t.Fatal("no recording")
	}
	raw := presencetest.Eval[string](t, ctx, "window.presenceRecording")
	rec, frames, _, err := session.ParseRecording([]byte(raw))
	if err != nil || rec.Light == nil || len(frames) < 5 || rec.Camera == nil {
		t.Fatalf("recording: %v, %d frames, light %v", err, len(frames), rec != nil && rec.Light != nil)
	}
}

// TestNoticeInTheBrowser: the SDK shows the relying party's notice before
// it asks for the camera; declining opens no camera and sends no frame
// (the server ends the session declined, with no verdict); agreeing
// opens the camera and the verdict carries the consent.
func TestNoticeInTheBrowser(t *testing.T) {
	e := apitest.New(t, apitest.Options{Clock: &clock.Offset{}})
	notice := `"notice":{"version":"2026-12","policy_url":"https://rp.example/privacy","texts":{"en":{"controller":"Example Bank","purpose":"checks that you are present","kept":"the result, 30 days"}}}`
	countCamera := `window.cameraAsked = 0; (function () { var g = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
		navigator.mediaDevices.getUserMedia = function (c) { window.cameraAsked++; return g(c); }; })();`
	for _, agree := range []bool{false, true} {
		id, token := createSession(t, e, `{"mode":"passive",`+notice+`}`)
		ctx := capture(t, e, presencetest.Camera{Y4M: talkClip(t)}, id, token, countCamera)
		if !presencetest.WaitFor(t, ctx, `document.querySelector('.pc-notice') !== null`, 15*time.Second) {
			t.Fatal("no notice shown")
		}
		if text := presencetest.Eval[string](t, ctx, `document.querySelector('.pc-notice').textContent`); !strings.Contains(text, "Example Bank") || !strings.Contains(text, "30 days") {
			t.Fatalf("notice text: %q", text)
		}
		if asked := presencetest.Eval[int](t, ctx, "window.cameraAsked"); asked != 0 {
			t.Fatal("the camera was asked for before the answer")
		}
		if v := verdict(t, e, id); v["status"] != "created" {
			t.Fatalf("showing the notice spent the session: %v", v["status"])
		}
		button := ".pc-decline"
		if agree {
			presencetest.Screenshot(t, ctx, "sdk-notice")
			button = ".pc-agree"
		}
		if err := chromedp.Do(ctx, chromedp.Click(button)); err != nil {
			t.Fatal(err)
		}
		r := waitDone(t, ctx, 30*time.Second)
		v := verdict(t, e, id)
		consent, _ := v["consent"].(map[string]any)
		if !agree {
			if r["status"] != "declined" || v["status"] != "declined" || v["decision"] != nil || consent == nil || consent["agreed"] != false ||
				presencetest.Eval[int](t, ctx, "window.cameraAsked") != 0 {
				t.Fatalf("declined: %v %s", r, v["raw"])
			}
			continue
		}
		if r["status"] != "succeeded" || v["decision"] == nil || consent == nil || consent["agreed"] != true || consent["notice_version"] != "2026-12" {
			t.Fatalf("agreed: %v %s", r, v["raw"])
		}
	}
}

// TestOperatorConsole: the console lists sessions of every key behind the
// operator credential and shows one session's audit trail and its kept
// audit image; an API key does not open it.
func TestOperatorConsole(t *testing.T) {
	const operator = "op-credential-0123456789abcdef"
	e := apitest.New(t, apitest.Options{Clock: &clock.Offset{}, OperatorToken: operator})
	id, token := createSession(t, e, `{"mode":"passive","audit_images":1,"correlation_id":"console-1"}`)
	photo := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img1.jpg"))
	req, _ := http.NewRequest("POST", e.URL+"/v1/sessions/"+id+"/frames", bytes.NewReader(photo))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "image/jpeg")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("upload: %v %v", res, err)
	}
	createSession(t, e, `{"mode":"active"}`)
	// A relying party's key is not the operator's credential.
	req, _ = http.NewRequest("GET", e.URL+"/v1/operator/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+e.Key)
	if res, _ := http.DefaultClient.Do(req); res.StatusCode != 401 {
		t.Fatalf("an API key opened the operator API: %d", res.StatusCode)
	}
	ctx := presencetest.Browser(t, presencetest.Camera{NoDevice: true})
	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/console/")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys("#token", operator)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#login button")); err != nil {
		t.Fatal(err)
	}
	if !presencetest.WaitFor(t, ctx, `document.querySelectorAll("#list tbody tr").length === 2`, 10*time.Second) {
		t.Fatalf("rows: %s", presencetest.Eval[string](t, ctx, "location.href + ' | ' + document.getElementById('error').textContent + ' | ' + document.getElementById('filters').hidden"))
	}
	if err := chromedp.Do(ctx, chromedp.Click(`tr[data-id="`+id+`"]`)); err != nil {
		t.Fatal(err)
	}
	if !presencetest.WaitFor(t, ctx, `document.querySelector('#detail img') !== null && document.querySelectorAll('#detail .audit tbody tr').length >= 1`, 10*time.Second) {
		t.Fatalf("detail: %s", presencetest.Eval[string](t, ctx, "document.querySelector('#detail').innerText"))
	}
	text := presencetest.Eval[string](t, ctx, "document.querySelector('#detail').innerText")
	if !strings.Contains(text, id) || !strings.Contains(text, "verdict") {
		t.Fatalf("detail text: %s", text)
	}
	presencetest.Screenshot(t, ctx, "console")
}

// TestSDKInFrench: the SDK's catalogues cover every reason code and
// step in every language, and a French page shows the relying party's
// French notice and the SDK's own French sentences.
func TestSDKInFrench(t *testing.T) {
	e := apitest.New(t, apitest.Options{Clock: &clock.Offset{}})
	notice := `"notice":{"version":"2026-12","texts":{"en":{"controller":"Example Bank","purpose":"checks that you are present","kept":"the result, 30 days"},` +
		`"fr":{"controller":"Banque Exemple","purpose":"vérifie que vous êtes présent","kept":"le résultat, 30 jours"}}}`
	id, token := createSession(t, e, `{"mode":"passive",`+notice+`}`)
	ctx := presencetest.Browser(t, presencetest.Camera{Y4M: talkClip(t)})
	page := fmt.Sprintf("%s/sdk/demo.html?lang=fr&session=%s&token=%s", e.URL, url.QueryEscape(id), url.QueryEscape(token))
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	catalogues := presencetest.Eval[map[string]map[string]string](t, ctx, "Presence.messages")
	for lang, m := range catalogues {
		for key := range catalogues["en"] {
			if m[key] == "" {
				t.Errorf("%s: no %s", lang, key)
			}
		}
		for key := range m {
			if catalogues["en"][key] == "" {
				t.Errorf("%s: %s is not in English", lang, key)
			}
		}
		for _, c := range presence.ReasonCodes() {
			if m["reason_"+string(c)] == "" {
				t.Errorf("%s: no guidance for %s", lang, c)
			}
		}
		for _, s := range liveness.AllSteps {
			if m["step_"+string(s)] == "" {
				t.Errorf("%s: no prompt for step %s", lang, s)
			}
		}
	}
	if len(catalogues) < 2 {
		t.Fatalf("languages %v", catalogues)
	}
	if !presencetest.WaitFor(t, ctx, `document.querySelector('.pc-notice') !== null`, 15*time.Second) {
		t.Fatal("no notice shown")
	}
	text := presencetest.Eval[string](t, ctx, `document.querySelector('.presence-capture').innerText`)
	for _, want := range []string{"Avant l’ouverture de la caméra", "Qui le demande\u00a0: Banque Exemple", "J’accepte, ouvrir la caméra"} {
		if !strings.Contains(text, want) {
			t.Errorf("the French notice lacks %q: %q", want, text)
		}
	}
	if strings.Contains(text, "Example Bank") {
		t.Error("the English notice was shown on a French page")
	}
	if h := presencetest.Eval[string](t, ctx, `document.querySelector('h1').textContent`); h != "Vérification du visage" {
		t.Errorf("demo page heading %q", h)
	}
	presencetest.Screenshot(t, ctx, "sdk-notice-fr")
	if err := chromedp.Do(ctx, chromedp.Click(".pc-agree")); err != nil {
		t.Fatal(err)
	}
	waitDone(t, ctx, 30*time.Second)
	if v := verdict(t, e, id); v["consent"].(map[string]any)["language"] != "fr" {
		t.Fatalf("consent language %v", v["consent"])
	}
}
