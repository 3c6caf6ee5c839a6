package webapp_test

import (
	"context"
	"encoding/base32"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"presence/presencetest"
	"presence/webapp"
)

// RFC 6238's SHA-1 vectors, six digits of the eight given.
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for at, want := range map[int64]string{59: "287082", 1111111109: "081804", 1111111111: "050471", 1234567890: "005924", 2000000000: "279037", 20000000000: "353130"} {
		if got := webapp.TOTPCode(secret, at/30); got != want {
			t.Errorf("T=%d: %s, want %s", at, got, want)
		}
	}
}

var (
	secretShown = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	codesShown  = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// The second factor end to end over HTTP with real face checks: set up
// (a fresh face login first), the recovery codes shown once, a login that
// then asks for the code (a wrong code, a replayed code and a spent
// recovery code refused, failures locking the username like failed face
// logins), an OpenID client asking for the second factor (acr_values)
// getting amr with otp, and deleting the account asking for a fresh face.
func TestSecondFactor(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive", provider: true, maxFailures: 3})
	ctx := context.Background()
	b := newBrowser(t, e.URL)
	if r := b.faceCheck("register", "frank", "img20.jpg"); !r.OK {
		t.Fatalf("register: %+v", r.Screen)
	}
	// A login older than five minutes must be renewed first.
	e.Clock.Advance(6 * time.Minute)
	if _, _, h := b.get("/app/account/totp"); h.Get("Location") != "/app/login?done=confirm" {
		t.Fatalf("set-up without a fresh login: %q", h.Get("Location"))
	}
	if r := b.faceCheck("login", "frank", "img21.jpg"); !r.OK || r.Redirect != "/app/account/totp" {
		t.Fatalf("fresh login: %+v", r)
	}
	status, page, _ := b.get("/app/account/totp")
	m := secretShown.FindStringSubmatch(page)
	if status != 200 || m == nil || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatalf("set-up page: %d", status)
	}
	secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(m[1])
	code := func() string { return webapp.TOTPCode(secret, e.Clock.Now().Unix()/30) }
	if status, page, _ := b.postForm("/app/account/totp", "code", "000000"); status != 422 || !strings.Contains(page, "not right") {
		t.Fatalf("a wrong first code: %d", status)
	}
	status, page, _ = b.postForm("/app/account/totp", "code", code())
	codes := codesShown.FindAllStringSubmatch(page, -1)
	if status != 200 || len(codes) != 10 {
		t.Fatalf("recovery codes: %d, %d codes", status, len(codes))
	}
	if _, page, _ := b.get("/app/account"); !strings.Contains(page, "10 recovery codes left") {
		t.Fatal("the account page does not show the factor")
	}

	// A new browser: the face, then the code.
	e.Clock.Advance(time.Minute)
	b2 := newBrowser(t, e.URL)
	r := b2.faceCheck("login", "frank", "img21.jpg")
	if !r.OK || r.Redirect != "/app/login/second-factor" {
		t.Fatalf("login with a second factor: %+v", r)
	}
	if _, _, h := b2.get("/app/account"); h.Get("Location") == "" {
		t.Fatal("logged in before the second factor")
	}
	if status, _, _ := b2.postForm("/app/login/second-factor", "code", "123456"); status != 422 {
		t.Fatalf("wrong code: %d", status)
	}
	if _, _, h := b2.postForm("/app/login/second-factor", "code", code()); h.Get("Location") != "/app/account" {
		t.Fatalf("right code: %q", h.Get("Location"))
	}
	// The same code again, in another browser: refused (once per code).
	b3 := newBrowser(t, e.URL)
	b3.faceCheck("login", "frank", "img21.jpg")
	if status, _, _ := b3.postForm("/app/login/second-factor", "code", code()); status != 422 {
		t.Fatalf("a replayed code: %d", status)
	}
	// A recovery code works once.
	if _, _, h := b3.postForm("/app/login/second-factor", "code", codes[0][1]); h.Get("Location") != "/app/account" {
		t.Fatalf("recovery code: %q", h.Get("Location"))
	}
	e.Clock.Advance(time.Second)
	b4 := newBrowser(t, e.URL)
	if r := b4.faceCheck("login", "frank", "img21.jpg"); !r.OK {
		t.Fatalf("b4 login: %+v", r.Screen)
	}
	if status, _, _ := b4.postForm("/app/login/second-factor", "code", codes[0][1]); status != 422 {
		t.Fatalf("a spent recovery code: %d", status)
	}
	// Three failures since the last success: the username is locked,
	// even with the right code.
	for _, wrong := range []string{"999999", "999998"} {
		if status, _, _ := b4.postForm("/app/login/second-factor", "code", wrong); status != 422 {
			t.Fatalf("wrong code %s: %d", wrong, status)
		}
	}
	e.Clock.Advance(31 * time.Second)
	if status, page, h := b4.postForm("/app/login/second-factor", "code", code()); status != 429 || !strings.Contains(page, "Too many attempts") {
		t.Fatalf("locked: %d %q", status, h.Get("Location"))
	}

	// A client asking for the second factor gets it in amr and acr.
	e.Clock.Advance(16 * time.Minute)
	c := registerClient(t, e, false)
	// Logged in with the face only: the code is asked now, then consent.
	status, page, _ = b.follow(b.authorize(c, "&acr_values="+url.QueryEscape("urn:presence:face+otp")))
	if status != 200 || !strings.Contains(page, "One more step") {
		t.Fatalf("step-up to the second factor: %d %s", status, page)
	}
	e.Clock.Advance(30 * time.Second) // a new code
	status, page, _ = b.follow(b.postForm("/app/login/second-factor", "code", code()))
	request := regexpFind(page, `name="request" value="([^"]+)"`)
	if status != 200 || request == "" {
		t.Fatalf("consent page after the second factor: %d %s", status, page)
	}
	_, _, h := b.postForm("/app/oidc/consent", "request", request, "decision", "allow")
	q := codeFrom(t, h)
	status, tok := exchange(t, e, c, q.Get("code"), verifier)
	if status != 200 {
		t.Fatalf("token: %d %v", status, tok)
	}
	provider, _ := oidc.NewProvider(ctx, e.URL+"/app")
	idt, err := provider.Verifier(&oidc.Config{ClientID: c.id}).Verify(ctx, tok["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	idt.Claims(&claims)
	if strings.Join(claims.AMR, " ") != "face liveness otp mfa" || claims.ACR != "urn:presence:face+otp" {
		t.Fatalf("claims after the second factor: %+v", claims)
	}

	// Deleting the account asks for a fresh face.
	e.Clock.Advance(10 * time.Minute)
	if _, _, h := b.postForm("/app/account/delete"); h.Get("Location") != "/app/login?done=confirm" {
		t.Fatalf("deletion without a fresh login: %q", h.Get("Location"))
	}
	if _, err := e.accounts.UserByName(ctx, "frank"); err != nil {
		t.Fatal("deleted without a fresh face")
	}
}

// setUpTOTP turns the second factor on for b's fresh login.
func setUpTOTP(t *testing.T, e *appEnv, b *browser) ([]byte, []string) {
	t.Helper()
	_, page, _ := b.get("/app/account/totp")
	m := secretShown.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no set-up page: %s", page)
	}
	secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(m[1])
	_, page, _ = b.postForm("/app/account/totp", "code", webapp.TOTPCode(secret, e.Clock.Now().Unix()/30))
	var codes []string
	for _, c := range codesShown.FindAllStringSubmatch(page, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	return secret, codes
}

// Recovery: a recovery code and a new live face check enrol the new face
// in place of the old one, which is erased; a wrong or spent code starts
// nothing.
func TestRecoveryReenrolsTheFace(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive"})
	ctx := context.Background()
	b := newBrowser(t, e.URL)
	if r := b.faceCheck("register", "gina", "img1.jpg"); !r.OK {
		t.Fatalf("register: %+v", r.Screen)
	}
	_, codes := setUpTOTP(t, e, b)
	before, _ := e.accounts.UserByName(ctx, "gina")

	other := newBrowser(t, e.URL)
	if r := other.recovery("gina", "aaaaa-bbbbb", "img13.jpg"); r.OK || screenCode(r) != "wrong_recovery_code" {
		t.Fatalf("a wrong recovery code: %+v", r)
	}
	e.Clock.Advance(time.Second)
	r := other.recovery("gina", codes[3], "img13.jpg")
	if !r.OK || r.Redirect != "/app/account?done=recovered" {
		t.Fatalf("recovery: %+v %+v", r, r.Screen)
	}
	after, _ := e.accounts.UserByName(ctx, "gina")
	if after.SubjectID == before.SubjectID {
		t.Fatal("the face was not enrolled again")
	}
	if _, err := e.Store.Subject(ctx, before.SubjectID); err == nil {
		t.Fatal("the old face was not erased")
	}
	if _, page, _ := other.get("/app/account?done=recovered"); !strings.Contains(page, "Your face is enrolled again") || !strings.Contains(page, "9 recovery codes left") {
		t.Fatalf("account after recovery: %s", page)
	}
	if r := newBrowser(t, e.URL).recovery("gina", codes[3], "img14.jpg"); r.OK || screenCode(r) != "wrong_recovery_code" {
		t.Fatalf("a spent recovery code: %+v", r)
	}
	// The new face logs in (then the second factor); the old one no longer.
	e.Clock.Advance(time.Second)
	if r := newBrowser(t, e.URL).faceCheck("login", "gina", "img14.jpg"); !r.OK || r.Redirect != "/app/login/second-factor" {
		t.Fatalf("login with the new face: %+v %+v", r, r.Screen)
	}
	if r := newBrowser(t, e.URL).faceCheck("login", "gina", "img2.jpg"); r.OK || screenCode(r) != "no_match" {
		t.Fatalf("login with the old face: %+v", r)
	}
}

// recovery runs a recovery: username and code, then the face check.
func (b *browser) recovery(username, code, photo string) apiResult {
	b.t.Helper()
	start := b.api("/app/api/start", map[string]string{"kind": "recovery", "username": username, "recovery_code": code})
	if !start.OK {
		return start
	}
	frame := presencetest.Recapture(b.t, presencetest.ReadFile(b.t, presencetest.DataFile(b.t, "fr_deepface_pairs/"+photo)), int(captures.Add(1)))
	return b.sendFrame(start, frame)
}

// The app speaks the browser's language, or the one chosen with the
// switch (remembered), in its pages and its screens.
func TestPagesAndScreensInFrench(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive"})
	b := newBrowser(t, e.URL)
	if _, page, _ := b.get("/app/?lang=fr"); !strings.Contains(page, `<html lang="fr">`) || !strings.Contains(page, "Connectez-vous avec votre visage") {
		t.Fatalf("home in French: %s", page)
	}
	// Remembered for the next page, screens included.
	if _, page, _ := b.get("/app/login"); !strings.Contains(page, "Me connecter avec mon visage") || !strings.Contains(page, `"Username needed":"Nom d'utilisateur requis"`) && !strings.Contains(page, `Nom d\u0027utilisateur requis`) {
		t.Fatalf("login page in French: %s", page)
	}
	r := b.api("/app/api/start", map[string]string{"kind": "login", "username": "nobody-here"})
	if r.OK || r.Screen == nil || r.Screen.Title != "Utilisateur inconnu" || r.Screen.LinkText != "Créer un compte" {
		t.Fatalf("screen in French: %+v", r.Screen)
	}
	// A browser that asks for French in its header, and one for German.
	req, _ := http.NewRequest("GET", e.URL+"/app/register", nil)
	req.Header.Set("Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(raw), "Créer un compte") {
		t.Fatal("Accept-Language fr not honoured")
	}
	req.Header.Set("Accept-Language", "de-DE")
	res, _ = http.DefaultClient.Do(req)
	raw, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(raw), "Create an account") {
		t.Fatal("an unknown language did not fall back to English")
	}
}
