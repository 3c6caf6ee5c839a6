package webapp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"presence/webapp"
)

// rp is a client application registered with the provider.
type rp struct {
	id, secret, redirect string
}

func registerClient(t *testing.T, e *appEnv, public bool) rp {
	t.Helper()
	c, err := webapp.RegisterClient(context.Background(), e.accounts, "Sample shop", []string{"http://127.0.0.1:9/callback"}, []string{"http://127.0.0.1:9/bye"}, public, e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rp{id: c.ID, secret: c.Secret, redirect: "http://127.0.0.1:9/callback"}
}

const verifier = "a-very-long-pkce-code-verifier-of-forty-three-or-more-chars-0123"

func challengeOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize sends the browser through the authorization request and
// returns where it ended: the client's redirect (with code or error), or
// a page of the app.
func (b *browser) authorize(c rp, extra string) (int, string, http.Header) {
	b.t.Helper()
	q := "response_type=code&scope=openid+profile&state=st-1&nonce=n-1&code_challenge_method=S256&code_challenge=" + challengeOf(verifier) +
		"&client_id=" + url.QueryEscape(c.id) + "&redirect_uri=" + url.QueryEscape(c.redirect) + extra
	return b.get("/app/oidc/authorize?" + q)
}

// follow follows the app's own redirects (the client's are returned).
func (b *browser) follow(status int, body string, h http.Header) (int, string, http.Header) {
	for status == http.StatusSeeOther || status == http.StatusFound {
		loc := h.Get("Location")
		if !strings.HasPrefix(loc, "/app/") {
			break
		}
		status, body, h = b.get(loc)
	}
	return status, body, h
}

func codeFrom(t *testing.T, h http.Header) url.Values {
	t.Helper()
	u, err := url.Parse(h.Get("Location"))
	if err != nil || !strings.HasPrefix(h.Get("Location"), "http://127.0.0.1:9/callback") {
		t.Fatalf("not sent back to the client: %q", h.Get("Location"))
	}
	return u.Query()
}

func exchange(t *testing.T, e *appEnv, c rp, code, codeVerifier string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirect}, "code_verifier": {codeVerifier}}
	req, _ := http.NewRequest("POST", e.URL+"/app/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.secret != "" {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	} else {
		form.Set("client_id", c.id)
		req, _ = http.NewRequest("POST", e.URL+"/app/oidc/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func userinfo(t *testing.T, e *appEnv, token string) (int, map[string]any) {
	req, _ := http.NewRequest("GET", e.URL+"/app/oidc/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// The code flow with PKCE, consent and an ID token checked by an
// independent verifier (go-oidc: discovery, JWKS, signature, issuer,
// audience, expiry, nonce); then the refusals: a replayed code (whose
// first tokens are revoked), a wrong PKCE verifier, an expired code.
func TestOpenIDProviderCodeFlow(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive", provider: true})
	ctx := context.Background()
	c := registerClient(t, e, false)
	b := newBrowser(t, e.URL)

	// Not logged in: the login page, naming the application.
	status, page, _ := b.follow(b.authorize(c, ""))
	if status != 200 || !strings.Contains(page, "to continue to Sample shop") {
		t.Fatalf("authorize without a login: %d %s", status, page)
	}
	r := b.faceCheck("register", "carol", "img20.jpg")
	if !r.OK || !strings.HasPrefix(r.Redirect, "/app/oidc/continue?request=") {
		t.Fatalf("the face login did not lead back to the request: %+v", r)
	}
	loggedInAt := e.Clock.Now()
	status, page, _ = b.get(r.Redirect)
	if status != 200 || !strings.Contains(page, "Allow Sample shop?") || !strings.Contains(page, "Your username") {
		t.Fatalf("consent page: %d %s", status, page)
	}
	request := regexpFind(page, `name="request" value="([^"]+)"`)
	_, _, h := b.postForm("/app/oidc/consent", "request", request, "decision", "allow")
	q := codeFrom(t, h)
	if q.Get("state") != "st-1" || q.Get("iss") != e.URL+"/app" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	status, tok := exchange(t, e, c, q.Get("code"), verifier)
	if status != 200 || tok["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", status, tok)
	}

	provider, err := oidc.NewProvider(ctx, e.URL+"/app")
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: c.id}).Verify(ctx, tok["id_token"].(string))
	if err != nil {
		t.Fatalf("the independent verifier refused the ID token: %v", err)
	}
	var claims struct {
		AuthTime int64    `json:"auth_time"`
		AMR      []string `json:"amr"`
		ACR      string   `json:"acr"`
		Username string   `json:"preferred_username"`
	}
	idt.Claims(&claims)
	user, _ := e.accounts.UserByName(ctx, "carol")
	if idt.Subject != user.ID || idt.Nonce != "n-1" || claims.Username != "carol" || !slices.Equal(claims.AMR, []string{"face", "liveness"}) ||
		claims.ACR != "urn:presence:face" || claims.AuthTime != loggedInAt.Unix() {
		t.Fatalf("ID token: sub %s nonce %s claims %+v (user %s, login %d)", idt.Subject, idt.Nonce, claims, user.ID, loggedInAt.Unix())
	}
	if status, info := userinfo(t, e, tok["access_token"].(string)); status != 200 || info["sub"] != user.ID || info["preferred_username"] != "carol" {
		t.Fatalf("userinfo: %d %v", status, info)
	}

	// The same code again: refused, and the tokens it gave revoked.
	if status, out := exchange(t, e, c, q.Get("code"), verifier); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("replayed code: %d %v", status, out)
	}
	if status, _ := userinfo(t, e, tok["access_token"].(string)); status != 401 {
		t.Fatalf("the replayed code's access token still works: %d", status)
	}

	// Consent is remembered: straight back with a code. A wrong verifier
	// burns the code.
	_, _, h = b.follow(b.authorize(c, ""))
	q = codeFrom(t, h)
	if status, out := exchange(t, e, c, q.Get("code"), strings.Repeat("x", 43)); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("wrong PKCE verifier: %d %v", status, out)
	}
	if status, _ := exchange(t, e, c, q.Get("code"), verifier); status != 400 {
		t.Fatal("a code survived a wrong verifier")
	}
	// A code not used within its minute.
	_, _, h = b.follow(b.authorize(c, ""))
	q = codeFrom(t, h)
	e.Clock.Advance(61 * time.Second)
	if status, out := exchange(t, e, c, q.Get("code"), verifier); status != 400 || !strings.Contains(out["error_description"].(string), "expired") {
		t.Fatalf("expired code: %d %v", status, out)
	}
	// Another client's secret, or none, for a confidential client.
	_, _, h = b.follow(b.authorize(c, ""))
	q = codeFrom(t, h)
	if status, out := exchange(t, e, rp{id: c.id, secret: "wrong", redirect: c.redirect}, q.Get("code"), verifier); status != 401 || out["error"] != "invalid_client" {
		t.Fatalf("wrong client secret: %d %v", status, out)
	}
}

// Requests the provider must not honour, and step-up: max_age and
// prompt=login ask for a fresh face check even when logged in.
func TestOpenIDProviderRefusals(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive", provider: true})
	c := registerClient(t, e, true)
	b := newBrowser(t, e.URL)

	// Unknown client or unregistered redirect: shown here, never sent on.
	if status, page, h := b.authorize(rp{id: "cli_nobody", redirect: c.redirect}, ""); status != 400 || h.Get("Location") != "" || !strings.Contains(page, "Unknown application") {
		t.Fatalf("unknown client: %d %s", status, h.Get("Location"))
	}
	if status, page, h := b.authorize(rp{id: c.id, redirect: "https://evil.example/cb"}, ""); status != 400 || h.Get("Location") != "" || !strings.Contains(page, "Wrong return address") {
		t.Fatalf("unregistered redirect: %d %s", status, h.Get("Location"))
	}
	// No PKCE: an error sent back to the client.
	_, _, h := b.get("/app/oidc/authorize?response_type=code&scope=openid&state=s&client_id=" + c.id + "&redirect_uri=" + url.QueryEscape(c.redirect))
	if q := codeFrom(t, h); q.Get("error") != "invalid_request" || q.Get("state") != "s" {
		t.Fatalf("without PKCE: %v", q)
	}
	// prompt=none without a login.
	_, _, h = b.authorize(c, "&prompt=none")
	if q := codeFrom(t, h); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none: %v", q)
	}

	b.follow(b.authorize(c, ""))
	r := b.faceCheck("register", "dave", "img20.jpg")
	if !r.OK {
		t.Fatalf("register: %+v", r.Screen)
	}
	status, page, _ := b.get(r.Redirect)
	request := regexpFind(page, `name="request" value="([^"]+)"`)
	// Denied consent.
	_, _, h = b.postForm("/app/oidc/consent", "request", request, "decision", "deny")
	if q := codeFrom(t, h); q.Get("error") != "access_denied" || status != 200 {
		t.Fatalf("denied: %v", q)
	}
	// Another browser cannot continue dave's request.
	status, page, _ = b.follow(b.authorize(c, ""))
	request = regexpFind(page, `name="request" value="([^"]+)"`)
	if status != 200 || request == "" {
		t.Fatalf("consent page again: %d %s", status, page)
	}
	other := newBrowser(t, e.URL)
	if status, page, _ := other.get("/app/oidc/continue?request=" + request); status != 400 || !strings.Contains(page, "expired") {
		t.Fatalf("another browser continued the request: %d", status)
	}
	if status, _, _ := other.postForm("/app/oidc/consent", "request", request, "decision", "allow"); status != 400 {
		t.Fatalf("another browser consented: %d", status)
	}
	_, _, h = b.postForm("/app/oidc/consent", "request", request, "decision", "allow")
	codeFrom(t, h)

	// Step-up: a login 10 minutes old does not satisfy max_age=300.
	e.Clock.Advance(10 * time.Minute)
	status, page, _ = b.follow(b.authorize(c, "&max_age=300"))
	if status != 200 || !strings.Contains(page, "Log in with your face to continue") {
		t.Fatalf("max_age with an old login: %d %s", status, page)
	}
	// prompt=login too, however fresh.
	if r = b.faceCheck("login", "dave", "img21.jpg"); !r.OK {
		t.Fatalf("login: %+v", r.Screen)
	}
	_, _, h = b.get(r.Redirect)
	if q := codeFrom(t, h); q.Get("code") == "" {
		t.Fatalf("after the fresh login: %v", q)
	}
	status, page, _ = b.follow(b.authorize(c, "&prompt=login"))
	if status != 200 || !strings.Contains(page, "Log in with your face to continue") {
		t.Fatalf("prompt=login: %d", status)
	}

	// A client asking for a second factor the account does not have.
	_, _, h = b.follow(b.authorize(c, "&acr_values="+url.QueryEscape("urn:presence:face+otp")))
	if q := codeFrom(t, h); q.Get("error") != "unmet_authentication_requirements" {
		t.Fatalf("acr_values without a second factor: %v", q)
	}

	// RP-initiated logout: asks first, then returns to a registered address.
	status, page, _ = b.get("/app/oidc/logout?client_id=" + c.id + "&post_logout_redirect_uri=" + url.QueryEscape("http://127.0.0.1:9/bye") + "&state=z")
	if status != 200 || !strings.Contains(page, "Log out of Sample shop?") {
		t.Fatalf("logout page: %d", status)
	}
	target := regexpFind(page, `name="target" value="([^"]+)"`)
	_, _, h = b.postForm("/app/oidc/logout", "client_id", c.id, "target", url.QueryEscape(target), "state", "z")
	if h.Get("Location") != "http://127.0.0.1:9/bye?state=z" {
		t.Fatalf("after logout: %q", h.Get("Location"))
	}
	if _, page, _ := b.get("/app/account"); strings.Contains(page, "Hello, dave") {
		t.Fatal("still logged in after logout")
	}
	// An unregistered return address is not honoured.
	_, _, h = b.postForm("/app/oidc/logout", "client_id", c.id, "target", url.QueryEscape("https://evil.example/"))
	if h.Get("Location") != "/app/login?done=logout" {
		t.Fatalf("logout to an unregistered address: %q", h.Get("Location"))
	}
}

// The signing key rotates: both keys are published for a day, tokens
// signed with the new one verify, the old one leaves the JWKS.
func TestSigningKeyRotation(t *testing.T) {
	e := newAppEnv(t, appOptions{mode: "passive", provider: true})
	keys := func() []string {
		_, body, _ := newBrowser(t, e.URL).get("/app/oidc/jwks")
		var set struct {
			Keys []struct {
				KID string `json:"kid"`
				Alg string `json:"alg"`
				Use string `json:"use"`
			} `json:"keys"`
		}
		json.Unmarshal([]byte(body), &set)
		var out []string
		for _, k := range set.Keys {
			if k.Alg != "RS256" || k.Use != "sig" {
				t.Fatalf("key %+v", k)
			}
			out = append(out, k.KID)
		}
		return out
	}
	first := keys()
	if len(first) != 1 {
		t.Fatalf("first JWKS: %v", first)
	}
	e.Clock.Advance(time.Second)
	second, err := e.app.RotateSigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(); len(got) != 2 || got[0] != second || got[1] != first[0] {
		t.Fatalf("after rotation: %v", got)
	}
	e.Clock.Advance(25 * time.Hour)
	if got := keys(); len(got) != 1 || got[0] != second {
		t.Fatalf("a day later: %v", got)
	}
	// Automatic rotation after 90 days.
	e.Clock.Advance(90 * 24 * time.Hour)
	if got := keys(); len(got) != 2 || got[1] != second {
		t.Fatalf("after 90 days: %v", got)
	}
}

func regexpFind(s, pattern string) string {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}
