package webapp_test

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"presence/presencetest"
	"presence/webapp"
)

// sampleClient is a tiny relying party, written the way an application
// would use the provider: golang.org/x/oauth2 for the code flow with
// PKCE, and go-oidc (an implementation independent of the provider's) to
// verify the ID token.
type sampleClient struct {
	t   *testing.T
	srv *httptest.Server
	// url is the client's own address: localhost, another site than the
	// app's 127.0.0.1, so the browser applies its cross-site rules
	// (SameSite cookies) as between two real domains.
	url      string
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier

	mu      sync.Mutex
	pending map[string][2]string // state -> nonce, PKCE verifier
}

func newSampleClient(t *testing.T, e *appEnv) *sampleClient {
	t.Helper()
	c := &sampleClient{t: t, pending: map[string][2]string{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	c.url = strings.Replace(c.srv.URL, "127.0.0.1", "localhost", 1)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, e.URL+"/app")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := webapp.RegisterClient(ctx, e.accounts, "Sample shop", []string{c.url + "/callback"}, nil, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.conf = oauth2.Config{ClientID: reg.ID, ClientSecret: reg.Secret, Endpoint: provider.Endpoint(), RedirectURL: c.url + "/callback",
		Scopes: []string{oidc.ScopeOpenID, "profile"}}
	c.verifier = provider.Verifier(&oidc.Config{ClientID: reg.ID})
	return c
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *sampleClient) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
		c.mu.Lock()
		c.pending[state] = [2]string{nonce, verifier}
		c.mu.Unlock()
		http.Redirect(w, r, c.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	case "/callback":
		c.mu.Lock()
		p, ok := c.pending[r.URL.Query().Get("state")]
		delete(c.pending, r.URL.Query().Get("state"))
		c.mu.Unlock()
		if !ok {
			http.Error(w, "unknown state", http.StatusBadRequest)
			return
		}
		tok, err := c.conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(p[1]))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := c.verifier.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != p[0] {
			http.Error(w, fmt.Sprintf("ID token refused: %v", err), http.StatusUnauthorized)
			return
		}
		var claims struct {
			AMR      []string `json:"amr"`
			Username string   `json:"preferred_username"`
		}
		idt.Claims(&claims)
		fmt.Fprintf(w, "<!doctype html><title>Sample shop</title><h1>Welcome %s</h1><p id=sub>%s</p><p id=amr>%s</p>",
			claims.Username, idt.Subject, strings.Join(claims.AMR, " "))
	default:
		http.NotFound(w, r)
	}
}

// TestLogIntoAnotherApplicationInTheBrowser: a person goes to another
// application, which sends them to the face-login app; they create an
// account there with their face (a real camera stream, judged live),
// allow the application, and come back logged in, the application having
// checked the ID token itself.
func TestLogIntoAnotherApplicationInTheBrowser(t *testing.T) {
	for _, lang := range []string{"en", "fr"} {
		t.Run(lang, func(t *testing.T) { logIntoAnotherApplication(t, lang) })
	}
}

// uiText is a sentence of the app's screens in lang (the tests check the
// French pages read French).
func uiText(lang, en, fr string) string {
	if lang == "fr" {
		return fr
	}
	return en
}

// shot names a screenshot: the English one plainly, others with their
// language.
func shot(name, lang string) string {
	if lang == "en" {
		return name
	}
	return name + "-" + lang
}

func logIntoAnotherApplication(t *testing.T, lang string) {
	e := newAppEnv(t, appOptions{policy: blinkPolicy(), realTime: true, provider: true})
	rp := newSampleClient(t, e)
	clip := presencetest.DataFile(t, talkClip)
	p := openApp(t, e, presencetest.Camera{Y4M: presencetest.Y4MClip(t, clip, 640, 15, 0, 5)}, "")
	p.open("/app/?lang=" + lang) // the switch: remembered for the next pages
	p.do(chromedp.Navigate(rp.url + "/login"))
	p.wait(`location.pathname === '/app/login' && document.body.innerText.includes('`+uiText(lang, "to continue to Sample shop", "pour continuer vers Sample shop")+`')`, 10*time.Second, "the provider's login page")
	p.fitsThePhone()
	presencetest.Screenshot(t, p.ctx, shot("app-oidc-login", lang))
	if got := p.faceCheckTo("/app/register", "erin", "register", "/app/oidc/continue"); got != "" {
		t.Fatalf("registration through the provider ended with %q: %s", got, p.text())
	}
	p.wait(`document.body.innerText.includes('`+uiText(lang, "Allow Sample shop?", "Autoriser Sample shop ?")+`')`, 10*time.Second, "the consent page")
	p.fitsThePhone()
	presencetest.Screenshot(t, p.ctx, shot("app-oidc-consent", lang))
	p.do(chromedp.Click(chromedp.ID("consent-allow")))
	p.wait(`location.pathname === '/callback' && document.body.innerText.includes('Welcome')`, 20*time.Second, "the application's welcome")
	user, err := e.accounts.UserByName(context.Background(), "erin")
	if err != nil {
		t.Fatal(err)
	}
	if text := p.text(); !strings.Contains(text, "Welcome erin") || !strings.Contains(text, user.ID) || !strings.Contains(text, "face liveness") {
		t.Fatalf("the application says: %s", text)
	}
	if lang == "en" {
		presencetest.Screenshot(t, p.ctx, "app-oidc-done")
	}
	// Already logged in and consented: the application's next login goes
	// straight through, the browser crossing from the application's site
	// to the app's and back in one chain of redirects.
	p.do(chromedp.Navigate(rp.url + "/login"))
	p.wait(`location.pathname === '/callback' && document.body.innerText.includes('Welcome erin')`, 20*time.Second, "a second login without a page")
}

// faceCheckTo is faceCheck for a flow that ends elsewhere than the
// account page: it returns "" when the browser reached path.
func (p *page) faceCheckTo(path, username, button, until string) string {
	p.t.Helper()
	p.open(path)
	p.do(chromedp.SendKeys(chromedp.ID("username"), username))
	p.do(chromedp.Click(chromedp.CSS("button[value=" + button + "]")))
	p.wait(`location.pathname === '`+until+`' || (window.faceLogin && window.faceLogin.state === 'outcome')`, 60*time.Second, "the end of the face check")
	if presencetest.Eval[string](p.t, p.ctx, "location.pathname") == until {
		return ""
	}
	return presencetest.Eval[string](p.t, p.ctx, "window.faceLogin.screen")
}

// TestSecondFactorScreensInTheBrowser: the second factor's screens in
// Chromium, each fitting a phone with every control named: set-up with
// its QR code, the recovery codes, the code asked after the face check,
// and the recovery page.
func TestSecondFactorScreensInTheBrowser(t *testing.T) {
	for _, lang := range []string{"en", "fr"} {
		t.Run(lang, func(t *testing.T) { secondFactorScreens(t, lang) })
	}
}

func secondFactorScreens(t *testing.T, lang string) {
	e := newAppEnv(t, appOptions{policy: blinkPolicy(), realTime: true})
	clip := presencetest.DataFile(t, talkClip)
	p := openApp(t, e, presencetest.Camera{Y4M: presencetest.Y4MClip(t, clip, 640, 15, 0, 5)}, "")
	p.open("/app/?lang=" + lang)
	if got := p.faceCheck("/app/register", "hana", "register", ""); got != "success" {
		t.Fatalf("registration: %q: %s", got, p.text())
	}
	p.do(chromedp.Click(chromedp.ID("totp-setup")))
	p.wait(`location.pathname === '/app/account/totp' && document.getElementById('totp-secret') !== null`, 10*time.Second, "the set-up page")
	p.fitsThePhone()
	if presencetest.Eval[bool](t, p.ctx, `document.querySelector('img').naturalWidth > 0`) != true {
		t.Error("the QR code does not render")
	}
	presencetest.Screenshot(t, p.ctx, shot("app-totp-setup", lang))
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(presencetest.Eval[string](t, p.ctx, `document.getElementById('totp-secret').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.SendKeys(chromedp.ID("code"), webapp.TOTPCode(secret, time.Now().Unix()/30)))
	p.do(chromedp.Click(chromedp.ID("totp-confirm")))
	p.wait(`document.querySelectorAll('#recovery-codes li').length === 10`, 10*time.Second, "the recovery codes")
	p.fitsThePhone()
	presencetest.Screenshot(t, p.ctx, shot("app-recovery-codes", lang))

	// Log in on another browser: the face, then the code.
	login := openApp(t, e, presencetest.Camera{Y4M: presencetest.Y4MClip(t, clip, 640, 15, 5, 5)}, "")
	login.open("/app/login?lang=" + lang)
	login.do(chromedp.SendKeys(chromedp.ID("username"), "hana"))
	login.do(chromedp.Click(chromedp.CSS("button[value=login]")))
	login.wait(`location.pathname === '/app/login/second-factor'`, 60*time.Second, "the second factor page")
	login.fitsThePhone()
	presencetest.Screenshot(t, login.ctx, shot("app-second-factor", lang))
	// The set-up spent this step's code; the next step's is accepted too
	// (one step of clock drift), as a phone slightly ahead would show.
	login.do(chromedp.SendKeys(chromedp.ID("code"), webapp.TOTPCode(secret, time.Now().Unix()/30+1)))
	login.do(chromedp.Click(chromedp.ID("second-submit")))
	login.wait(`location.pathname === '/app/account' && document.body.innerText.includes('`+uiText(lang, "Hello, hana", "Bonjour, hana")+`')`, 10*time.Second, "the account page")
	if text := login.text(); !strings.Contains(text, uiText(lang, "Second factor", "Second facteur")) || !strings.Contains(text, uiText(lang, "10 recovery codes left", "Codes de secours restants : 10")) {
		t.Errorf("account page: %s", text)
	}
	presencetest.Screenshot(t, login.ctx, shot("app-account-factor", lang))
	login.open("/app/recover")
	presencetest.Screenshot(t, login.ctx, shot("app-recover", lang))
}
