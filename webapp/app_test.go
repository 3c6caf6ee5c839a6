package webapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/httpapi/apitest"
	"presence/liveness"
	"presence/presencetest"
	"presence/session"
	"presence/webapp"
	"presence/webapp/account"
	"presence/webapp/accountsql"
)

// appEnv is the real API (real models, SQLite) with the face-login app
// mounted at /app/, as `presence serve` does.
type appEnv struct {
	*apitest.Env
	app *webapp.App
	// accounts is the app's own store; e.Store is Presence's.
	accounts *accountsql.DB
}

type appOptions struct {
	mode        string
	maxFailures int
	policy      liveness.Policy
	duplicates  string
	// realTime runs the server on the system clock (browser tests).
	realTime bool
	// provider makes the app an OpenID Provider at the server's /app.
	provider bool
}

func newAppEnv(t *testing.T, o appOptions) *appEnv {
	t.Helper()
	var app *webapp.App
	late := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { app.Handler().ServeHTTP(w, r) })
	opts := apitest.Options{Policy: o.policy, Duplicates: o.duplicates, Extra: map[string]http.Handler{"/app/": late}}
	if o.realTime {
		opts.Clock = &clock.Offset{}
	}
	e := apitest.New(t, opts)
	accounts, err := accountsql.Open(context.Background(), filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close() })
	issuer := ""
	if o.provider {
		issuer = e.URL + "/app"
	}
	app, err = webapp.New(webapp.Config{
		APIBase: e.URL, APIKey: e.Key, Store: accounts, Now: e.Clock.Now, Mode: o.mode, Issuer: issuer,
		MaxFailures: o.maxFailures, FailureWindow: 15 * time.Minute, Lockout: 15 * time.Minute,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &appEnv{Env: e, app: app, accounts: accounts}
}

// testWriter sends the app's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// browser is an HTTP client with its own cookies, standing in for a
// browser in the tests that need no camera (passive mode: the frame is
// posted with the client token, as the SDK would).
type browser struct {
	t    *testing.T
	url  string // the server's
	http *http.Client
	csrf string
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func newBrowser(t *testing.T, url string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, url: url, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	status, page, _ := b.get("/app/login")
	m := csrfMeta.FindStringSubmatch(page)
	if status != 200 || m == nil {
		b.t.Fatalf("login page: %d %s", status, page)
	}
	b.csrf = m[1]
	return b
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	res, err := b.http.Get(b.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw), res.Header
}

type apiResult struct {
	status      int
	OK          bool   `json:"ok"`
	Attempt     string `json:"attempt"`
	SessionID   string `json:"session_id"`
	ClientToken string `json:"client_token"`
	Redirect    string `json:"redirect"`
	Screen      *webapp.Screen
	header      http.Header
}

func (b *browser) api(path string, body any, headers ...string) apiResult {
	b.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", b.url+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", b.csrf)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var out apiResult
	data, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		b.t.Fatalf("%s: %d %s", path, res.StatusCode, data)
	}
	var screen struct {
		Screen *webapp.Screen `json:"screen"`
	}
	json.Unmarshal(data, &screen)
	out.Screen, out.status, out.header = screen.Screen, res.StatusCode, res.Header
	return out
}

// faceCheck runs a whole attempt: start, the "device" posts its frame with
// the client token, finish.
func (b *browser) faceCheck(kind, username, photo string) apiResult {
	b.t.Helper()
	start := b.api("/app/api/start", map[string]string{"kind": kind, "username": username})
	if !start.OK {
		return start
	}
	// Each check is a new capture of the photo, as from a camera: the
	// same pixels again would be refused as a replay.
	frame := presencetest.Recapture(b.t, presencetest.ReadFile(b.t, presencetest.DataFile(b.t, "fr_deepface_pairs/"+photo)), int(captures.Add(1)))
	return b.sendFrame(start, frame)
}

// captures numbers the recaptures of test photos.
var captures atomic.Int64

// sendFrame posts one frame as the device of an attempt, and finishes it.
func (b *browser) sendFrame(start apiResult, frame []byte) apiResult {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.url+"/v1/sessions/"+start.SessionID+"/frames", bytes.NewReader(frame))
	req.Header.Set("Authorization", "Bearer "+start.ClientToken)
	req.Header.Set("Content-Type", "image/jpeg")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		b.t.Fatalf("frame: %d", res.StatusCode)
	}
	return b.api("/app/api/attempts/"+start.Attempt+"/finish", nil)
}

func screenCode(r apiResult) string {
	if r.Screen == nil {
		return ""
	}
	return r.Screen.Code
}

// Photos of the deepface pairs: img1, img2, img4 and img5 are one person,
// img13, img14 and img15 another (master.csv); each is judged realface by
// the passive check.
func TestRegisterLoginAndDelete(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive"})
	ctx := context.Background()
	// The relying party enrolled the same person under its own subject,
	// outside the app: no app account, so no duplicate for the app.
	enrolOutsideTheApp(t, e, "crm-7", "img6.jpg")
	alice := newBrowser(t, e.URL)
	r := alice.faceCheck("register", "Alice", "img1.jpg")
	if !r.OK || r.Redirect != "/app/account" {
		t.Fatalf("register: %+v %+v", r, r.Screen)
	}
	// The login cookie: HttpOnly, SameSite, scoped to the app; not Secure
	// over plain HTTP (see TestCookiesBehindTLS).
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"presence_app_login=", "HttpOnly", "SameSite=Lax", "Path=/app/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("login cookie %q lacks %s", cookie, want)
		}
	}
	status, page, _ := alice.get("/app/account")
	if status != 200 || !strings.Contains(page, "Hello, alice") || !strings.Contains(page, "Registration") {
		t.Fatalf("account page: %d %s", status, page)
	}
	u, err := e.accounts.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := e.Store.Subject(ctx, u.SubjectID); err != nil || sub.Templates != 1 {
		t.Fatalf("subject: %+v %v", sub, err)
	}

	// Log in on another browser with another photo of the same person.
	phone := newBrowser(t, e.URL)
	if r := phone.faceCheck("login", "alice", "img2.jpg"); !r.OK {
		t.Fatalf("login: %+v", r.Screen)
	}
	// Someone else's face for alice's account.
	thief := newBrowser(t, e.URL)
	if r := thief.faceCheck("login", "alice", "img13.jpg"); r.OK || screenCode(r) != "no_match" {
		t.Fatalf("another person logged in: %+v %+v", r, r.Screen)
	}
	// Face only: 1:N finds alice; an unknown face finds no one.
	if r := newBrowser(t, e.URL).faceCheck("face_login", "", "img4.jpg"); !r.OK {
		t.Fatalf("face-only login: %+v", r.Screen)
	}
	if r := newBrowser(t, e.URL).faceCheck("face_login", "", "img14.jpg"); r.OK || screenCode(r) != "no_account" {
		t.Fatalf("face-only login of a stranger: %+v %+v", r, r.Screen)
	}
	// The same face cannot open a second account (the server's policy
	// here is warn: the app refuses on its own).
	if r := newBrowser(t, e.URL).faceCheck("register", "alice2", "img5.jpg"); r.OK || screenCode(r) != "duplicate_face" {
		t.Fatalf("second account for one face: %+v %+v", r, r.Screen)
	}
	if _, err := e.accounts.UserByName(ctx, "alice2"); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatalf("duplicate account created: %v", err)
	}
	if subs, _ := e.Store.ListSubjects(ctx, "", 10); len(subs) != 2 {
		t.Fatalf("the refused registration left a subject: %d subjects", len(subs))
	}
	// Every face check is deleted from Presence once read.
	hist, _ := e.accounts.History(ctx, u.ID, 10)
	if len(hist) != 4 { // registration, login, no match, face-only login
		t.Fatalf("history: %d attempts", len(hist))
	}
	for _, a := range hist {
		if _, err := e.Store.Session(ctx, a.SessionID); presence.ErrorCodeOf(err) != presence.ErrNotFound {
			t.Errorf("session %s of a %s outlived its verdict: %v", a.SessionID, a.Kind, err)
		}
	}
	_, page, _ = alice.get("/app/account")
	for _, want := range []string{"Face does not match", "Face-only login", "Succeeded", "Failed", "Go-http-client"} {
		if want == "Go-http-client" {
			want = "Unknown browser" // the device hint of a test client
		}
		if !strings.Contains(page, want) {
			t.Errorf("history lacks %q", want)
		}
	}

	// Delete: the face data goes from Presence, the account from the app.
	status, page, _ = alice.postForm("/app/account/delete")
	if status != 200 || !strings.Contains(page, "Your account is deleted") || !strings.Contains(page, "Face templates erased: 1") {
		t.Fatalf("delete: %d %s", status, page)
	}
	if _, err := e.Store.Subject(ctx, u.SubjectID); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatalf("subject after delete: %v", err)
	}
	if _, err := e.accounts.UserByName(ctx, "alice"); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatalf("user after delete: %v", err)
	}
	if hist, _ := e.accounts.History(ctx, u.ID, 10); len(hist) != 0 {
		t.Fatalf("history after delete: %d", len(hist))
	}
	// The other browser's login is gone with the account.
	if status, _, h := phone.get("/app/account"); status != 303 || !strings.HasPrefix(h.Get("Location"), "/app/login") {
		t.Fatalf("account page after delete: %d", status)
	}
	// And the face no longer logs in.
	if r := newBrowser(t, e.URL).faceCheck("login", "alice", "img2.jpg"); r.OK || screenCode(r) != "unknown_user" {
		t.Fatalf("login after delete: %+v", r.Screen)
	}
}

func (b *browser) postForm(path string, fields ...string) (int, string, http.Header) {
	b.t.Helper()
	form := "csrf_token=" + b.csrf
	for i := 0; i+1 < len(fields); i += 2 {
		form += "&" + fields[i] + "=" + fields[i+1]
	}
	res, err := b.http.Post(b.url+path, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw), res.Header
}

func TestLockoutAndItsTimeout(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive", maxFailures: 3})
	b := newBrowser(t, e.URL)
	if r := b.faceCheck("register", "bob", "img13.jpg"); !r.OK {
		t.Fatalf("register: %+v", r.Screen)
	}
	e.Clock.Advance(time.Minute)
	thief := newBrowser(t, e.URL)
	for i := range 3 {
		if r := thief.faceCheck("login", "bob", "img1.jpg"); screenCode(r) != "no_match" {
			t.Fatalf("attempt %d: %+v", i, r.Screen)
		}
		e.Clock.Advance(time.Minute)
	}
	// Locked, for every browser: even the right face waits.
	r := b.faceCheck("login", "bob", "img14.jpg")
	if r.OK || r.status != 429 || screenCode(r) != "locked" || r.Screen.RetryAt == "" {
		t.Fatalf("after 3 failures: %d %+v", r.status, r.Screen)
	}
	retry, _ := time.Parse(time.RFC3339, r.Screen.RetryAt)
	if wait := retry.Sub(e.Clock.Now()); wait <= 0 || wait > 15*time.Minute {
		t.Fatalf("retry at %v, now %v", retry, e.Clock.Now())
	}
	e.Clock.Advance(15 * time.Minute)
	if r := b.faceCheck("login", "bob", "img14.jpg"); !r.OK {
		t.Fatalf("after the lockout: %+v", r.Screen)
	}
	// A success clears the count: one more failure does not lock again.
	thief.faceCheck("login", "bob", "img1.jpg")
	if r := b.faceCheck("login", "bob", "img15.jpg"); !r.OK {
		t.Fatalf("after a success and one failure: %+v", r.Screen)
	}
}

func TestUnknownUsersCountTowardsTheLockout(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive", maxFailures: 2})
	b := newBrowser(t, e.URL)
	for range 2 {
		if r := b.api("/app/api/start", map[string]string{"kind": "login", "username": "nobody"}); r.status != 404 || screenCode(r) != "unknown_user" {
			t.Fatalf("unknown user: %d %+v", r.status, r.Screen)
		}
	}
	if r := b.api("/app/api/start", map[string]string{"kind": "login", "username": "nobody"}); screenCode(r) != "locked" {
		t.Fatalf("third guess: %+v", r.Screen)
	}
}

func TestBadRequestsGetClearAnswers(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive"})
	b := newBrowser(t, e.URL)
	for _, c := range []struct {
		body   any
		status int
		screen string
	}{
		{map[string]string{"kind": "register", "username": "a"}, 400, "invalid_username"},
		{map[string]string{"kind": "register", "username": "bad name"}, 400, "invalid_username"},
		{map[string]string{"kind": "register", "username": strings.Repeat("x", 40)}, 400, "invalid_username"},
		{map[string]string{"kind": "sudo", "username": "alice"}, 400, "error"},
		{"not an object", 400, "error"},
	} {
		if r := b.api("/app/api/start", c.body); r.status != c.status || screenCode(r) != c.screen {
			t.Errorf("%v: %d %+v", c.body, r.status, r.Screen)
		}
	}
	if r := b.api("/app/api/attempts/att_nope/finish", nil); r.status != 404 || screenCode(r) != "expired" {
		t.Errorf("unknown attempt: %d %+v", r.status, r.Screen)
	}
	if status, page, _ := b.get("/app/nope"); status != 404 || !strings.Contains(page, "Page not found") {
		t.Errorf("unknown page: %d", status)
	}
	if status, _, h := b.get("/app/account"); status != 303 || h.Get("Location") != "/app/login?done=login" {
		t.Errorf("account page logged out: %d %v", status, h)
	}
}

func TestForgeryIsRefused(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive"})
	b := newBrowser(t, e.URL)
	start := map[string]string{"kind": "register", "username": "carol"}
	// No token, a wrong token, a cross-site request with the right one.
	for _, headers := range [][]string{
		{"X-CSRF-Token", ""},
		{"X-CSRF-Token", strings.Repeat("A", 52)},
		{"Sec-Fetch-Site", "cross-site"},
	} {
		if r := b.api("/app/api/start", start, headers...); r.status != 403 || screenCode(r) != "forbidden" {
			t.Errorf("%v: %d %+v", headers, r.status, r.Screen)
		}
	}
	saved := b.csrf
	b.csrf = "wrong"
	if status, page, _ := b.postForm("/app/logout"); status != 403 || !strings.Contains(page, "This form has expired") {
		t.Errorf("logout without the token: %d", status)
	}
	b.csrf = saved

	// An attempt belongs to the browser that started it.
	r := b.api("/app/api/start", start)
	other := newBrowser(t, e.URL)
	if r2 := other.api("/app/api/attempts/"+r.Attempt+"/finish", nil); r2.status != 404 {
		t.Errorf("another browser finished the attempt: %d %+v", r2.status, r2.Screen)
	}
}

func TestExpiredAndReusedAttempts(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive"})
	b := newBrowser(t, e.URL)
	r := b.api("/app/api/start", map[string]string{"kind": "register", "username": "dave"})
	e.Clock.Advance(3 * time.Minute)
	if f := b.api("/app/api/attempts/"+r.Attempt+"/finish", nil); f.status != 410 || screenCode(f) != "expired" {
		t.Fatalf("expired: %d %+v", f.status, f.Screen)
	}
	if f := b.api("/app/api/attempts/"+r.Attempt+"/finish", nil); f.status != 409 || screenCode(f) != "session_used" {
		t.Fatalf("finished twice: %d %+v", f.status, f.Screen)
	}
	// A camera problem is recorded as not completed, not as a failure.
	r = b.api("/app/api/start", map[string]string{"kind": "register", "username": "dave"})
	if f := b.api("/app/api/attempts/"+r.Attempt+"/abandon", map[string]string{"state": "permission_denied"}); screenCode(f) != "permission_denied" {
		t.Fatalf("abandon: %+v", f.Screen)
	}
	a, _ := e.accounts.Attempt(context.Background(), r.Attempt)
	if a.Outcome != account.OutcomeAbandoned || a.Reason != "permission_denied" {
		t.Fatalf("abandoned attempt: %+v", a)
	}
}

func TestCookiesBehindTLS(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive"})
	req, _ := http.NewRequest("GET", e.URL+"/app/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := res.Header.Get("Set-Cookie")
	if !strings.Contains(c, "Secure") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("anti-forgery cookie behind TLS: %q", c)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
}

// enrolOutsideTheApp enrols a photo under a subject through the API, as
// the relying party's own backend would.
func enrolOutsideTheApp(t *testing.T, e *appEnv, subject, photo string) {
	t.Helper()
	call := func(method, path, body string) map[string]any {
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.Key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, out)
		}
		return out
	}
	created := call("POST", "/v1/sessions", `{"mode":"passive","enrolable":true}`)
	frame := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/"+photo))
	req, _ := http.NewRequest("POST", e.URL+"/v1/sessions/"+created["id"].(string)+"/frames", bytes.NewReader(frame))
	req.Header.Set("Authorization", "Bearer "+created["client_token"].(string))
	req.Header.Set("Content-Type", "image/jpeg")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("frame: %v", err)
	}
	call("POST", "/v1/subjects", `{"id":"`+subject+`"}`)
	call("POST", "/v1/subjects/"+subject+"/enrol", `{"session_id":"`+created["id"].(string)+`"}`)
}

// The attack of issue 15: the frames a person registered with, replayed
// byte for byte from another browser after the app deleted their session,
// log in neither by username nor by face; the same person with a new
// capture does.
func TestRegistrationReplayedIntoBothLogins(t *testing.T) {
	t.Run("upload", func(t *testing.T) {
		e := newAppEnv(t, appOptions{mode: "passive"})
		recorded := presencetest.Recapture(t, presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img1.jpg")), int(captures.Add(1)))
		alice := newBrowser(t, e.URL)
		start := alice.api("/app/api/start", map[string]string{"kind": "register", "username": "alice"})
		if r := alice.sendFrame(start, recorded); !r.OK {
			t.Fatalf("register: %+v", r.Screen)
		}
		if _, err := e.Store.Session(context.Background(), start.SessionID); presence.ErrorCodeOf(err) != presence.ErrNotFound {
			t.Fatalf("the app kept the registration session: %v", err)
		}
		for _, login := range []map[string]string{{"kind": "login", "username": "alice"}, {"kind": "face_login"}} {
			thief := newBrowser(t, e.URL)
			start := thief.api("/app/api/start", login)
			if r := thief.sendFrame(start, recorded); r.OK || screenCode(r) != "spoof" {
				t.Fatalf("%s with the registration frame: %+v %+v", login["kind"], r, r.Screen)
			}
		}
		if r := newBrowser(t, e.URL).faceCheck("login", "alice", "img1.jpg"); !r.OK {
			t.Fatalf("alice again, a new capture: %+v", r.Screen)
		}
	})
	t.Run("stream", func(t *testing.T) {
		e := newAppEnv(t, appOptions{mode: "passive"})
		var frames []session.RecordedFrame
		for i, f := range presencetest.Frames(t, "video_live/blink_talking_1face_720p.mp4", 10, 640) {
			frames = append(frames, session.RecordedFrame{At: time.Duration(i) * 100 * time.Millisecond, Data: presencetest.ReadFile(t, f)})
		}
		stream := func(b *browser, start apiResult, frames []session.RecordedFrame) apiResult {
			t.Helper()
			e.Sessions.Stream(context.Background(), start.SessionID, &session.Playback{Clock: e.Clock.(*clock.Virtual), Token: start.ClientToken, Frames: frames})
			return b.api("/app/api/attempts/"+start.Attempt+"/finish", nil)
		}
		talker := newBrowser(t, e.URL)
		recording := frames[10:40]
		if r := stream(talker, talker.api("/app/api/start", map[string]string{"kind": "register", "username": "talker"}), recording); !r.OK {
			t.Fatalf("register: %+v", r.Screen)
		}
		for _, login := range []map[string]string{{"kind": "login", "username": "talker"}, {"kind": "face_login"}} {
			thief := newBrowser(t, e.URL)
			if r := stream(thief, thief.api("/app/api/start", login), recording); r.OK || screenCode(r) != "spoof" {
				t.Fatalf("%s with the registration recording: %+v %+v", login["kind"], r, r.Screen)
			}
		}
		if r := stream(talker, talker.api("/app/api/start", map[string]string{"kind": "login", "username": "talker"}), frames[60:90]); !r.OK {
			t.Fatalf("the talker again, later: %+v", r.Screen)
		}
	})
}
