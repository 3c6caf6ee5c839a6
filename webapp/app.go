// Package webapp is the face-login web application: register with a
// username and a face checked for liveness, log in with the face (by
// username, or by face alone through 1:N search), see your login history,
// delete your account and face data.
//
// It is a relying party of Presence like any other: it calls the public
// API over HTTP with its own API key and uses the capture SDK in the
// browser. Its own records (users, attempts, logged-in browsers) are typed
// in package account and kept by accountsql in a database of the app's
// own, never in Presence's.
package webapp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base32"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"presence/webapp/account"
)

//go:embed templates static
var assets embed.FS

// Config wires the app.
type Config struct {
	// APIBase is the Presence API's URL (http://127.0.0.1:8080) and
	// APIKey the app's own key.
	APIBase string
	APIKey  string
	// HTTP calls the API (http.DefaultClient when nil).
	HTTP  *http.Client
	Store account.Store
	Now   func() time.Time
	Log   *slog.Logger

	// Mode is the liveness check of every registration and login:
	// active (default: server-chosen steps) or passive.
	Mode string
	// CheckTTL is how long a face check may take (default 2 minutes).
	CheckTTL time.Duration
	// LoginTTL is how long a login lasts (default 12 hours).
	LoginTTL time.Duration
	// MaxFailures failed logins of one username within FailureWindow lock
	// it for Lockout; MaxClientFailures do the same for one address
	// (registrations, face-only logins and unknown usernames count there).
	MaxFailures       int
	MaxClientFailures int
	// MaxStartsPerMinute bounds the checks one address may start a
	// minute, so no one address can spend the app's API quota.
	MaxStartsPerMinute int
	FailureWindow      time.Duration
	Lockout            time.Duration
	// TrustProxy takes the client address from X-Forwarded-For (set it
	// only behind a proxy that overwrites that header).
	TrustProxy bool
	// Issuer, when set, makes the app an OpenID Provider with this
	// issuer URL (the app's external address ending in /app, e.g.
	// https://login.example.com/app); Store must keep its records
	// (account.ProviderStore).
	Issuer string
	// KeyRotation is how long an ID token signing key signs (90 days).
	KeyRotation time.Duration
}

func (c *Config) defaults() {
	if c.HTTP == nil {
		c.HTTP = http.DefaultClient
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Mode == "" {
		c.Mode = "active"
	}
	if c.CheckTTL <= 0 {
		c.CheckTTL = 2 * time.Minute
	}
	if c.LoginTTL <= 0 {
		c.LoginTTL = 12 * time.Hour
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.MaxClientFailures <= 0 {
		c.MaxClientFailures = 20
	}
	if c.MaxStartsPerMinute <= 0 {
		c.MaxStartsPerMinute = 30
	}
	if c.FailureWindow <= 0 {
		c.FailureWindow = 15 * time.Minute
	}
	if c.Lockout <= 0 {
		c.Lockout = 15 * time.Minute
	}
	if c.KeyRotation <= 0 {
		c.KeyRotation = 90 * 24 * time.Hour
	}
}

// presenceAPI is what the app asks of Presence, through its public HTTP
// API (client); the app's rule tests use a fake of it.
type presenceAPI interface {
	createSession(ctx context.Context, mode, subjectID string, ttl time.Duration, correlation string) (*createdSession, error)
	session(ctx context.Context, id string) (*verdict, error)
	deleteSession(ctx context.Context, id string) error
	createSubject(ctx context.Context, id string) error
	enrol(ctx context.Context, subjectID, sessionID string) (*enrolment, error)
	identify(ctx context.Context, sessionID string) ([]candidate, error)
	deleteSubject(ctx context.Context, id string) error
	deleteSubjectCounts(ctx context.Context, id string) (erased, error)
}

var _ presenceAPI = (*apiClient)(nil)

// App serves the face-login app under /app/.
type App struct {
	cfg Config
	// judging serialises the judging of one username's (or address's)
	// attempts on this node, so a lockout reached by one attempt stops the
	// attempts finished after it.
	judging [64]sync.Mutex
	api     presenceAPI
	pages   map[string]*template.Template
	mux     *http.ServeMux
	handler http.Handler
	// oidc is the OpenID Provider (nil: off).
	oidc *provider
}

// New builds the app.
func New(cfg Config) (*App, error) {
	cfg.defaults()
	if cfg.APIBase == "" || cfg.APIKey == "" {
		return nil, errors.New("webapp: APIBase and APIKey are required")
	}
	return newApp(cfg, newAPIClient(cfg.APIBase, cfg.APIKey, cfg.HTTP))
}

func newApp(cfg Config, api presenceAPI) (*App, error) {
	cfg.defaults()
	if cfg.Store == nil {
		return nil, errors.New("webapp: Store is required")
	}
	if cfg.Mode != "active" && cfg.Mode != "passive" {
		return nil, errors.New("webapp: mode must be active or passive")
	}
	a := &App{cfg: cfg, api: api, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{"t": tr, "device": deviceText}
	if cfg.Issuer != "" {
		ps, ok := cfg.Store.(account.ProviderStore)
		if !ok {
			return nil, errors.New("webapp: an OpenID Provider needs a store of its records")
		}
		if u, err := url.Parse(cfg.Issuer); err != nil || u.Host == "" || u.RawQuery != "" || !strings.HasSuffix(u.Path, "/app") {
			return nil, errors.New("webapp: the issuer is the app's external URL ending in /app (https://host/app)")
		}
		a.oidc = &provider{issuer: cfg.Issuer, store: ps, rotation: cfg.KeyRotation}
	}
	for _, page := range []string{"home", "register", "login", "account", "delete", "deleted", "message", "consent", "oidclogout", "totp", "recovery", "secondfactor", "recover"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		a.pages[page] = t
	}
	static, _ := fs.Sub(assets, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /app/static/", http.StripPrefix("/app/static/", http.FileServer(http.FS(static))))
	mux.HandleFunc("GET /app/{$}", a.home)
	mux.HandleFunc("GET /app/register", a.registerPage)
	mux.HandleFunc("GET /app/login", a.loginPage)
	mux.HandleFunc("GET /app/recover", a.recoverPage)
	mux.HandleFunc("GET /app/account", a.accountPage)
	mux.HandleFunc("GET /app/account/delete", a.deletePage)
	mux.HandleFunc("POST /app/account/delete", a.deleteAccount)
	mux.HandleFunc("POST /app/logout", a.logout)
	mux.HandleFunc("GET /app/login/second-factor", a.secondFactorPage)
	mux.HandleFunc("POST /app/login/second-factor", a.secondFactor)
	mux.HandleFunc("GET /app/account/totp", a.totpSetupPage)
	mux.HandleFunc("POST /app/account/totp", a.totpConfirm)
	mux.HandleFunc("POST /app/account/totp/off", a.totpOff)
	mux.HandleFunc("POST /app/api/start", a.start)
	mux.HandleFunc("POST /app/api/attempts/{id}/finish", a.finish)
	mux.HandleFunc("POST /app/api/attempts/{id}/abandon", a.abandon)
	if a.oidc != nil {
		a.routeProvider(mux)
	}
	mux.HandleFunc("/app/", func(w http.ResponseWriter, r *http.Request) {
		a.message(w, r, http.StatusNotFound, T("Page not found"), T("There is no such page."))
	})
	a.mux = mux
	a.handler = a.protect()
	return a, nil
}

// Handler serves /app/.
func (a *App) Handler() http.Handler { return a.handler }

// protect wraps the routes in the app's protections: security headers,
// cross-origin refusal and the anti-forgery token on every POST.
func (a *App) protect() http.Handler {
	cop := http.NewCrossOriginProtection()
	// The token endpoint is called by client servers, with their own
	// credentials, never by a browser with the app's cookies.
	cop.AddInsecureBypassPattern("POST /app/oidc/token")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.forbidden(w, r)
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self' "+wsOrigins(r)+"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=()")
		h.Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost && r.URL.Path != "/app/oidc/token" && !a.validCSRF(w, r) {
			a.forbidden(w, r)
			return
		}
		a.mux.ServeHTTP(w, r)
	}))
}

// wsOrigins names the page's own host for WebSockets (older browsers do
// not let 'self' cover ws: and wss:).
func wsOrigins(r *http.Request) string {
	host := r.Host
	if strings.ContainsAny(host, " ;'\"") {
		return ""
	}
	return "ws://" + host + " wss://" + host
}

func (a *App) forbidden(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/app/api/") {
		a.fail(w, r, http.StatusForbidden, screenFor("forbidden"))
		return
	}
	a.message(w, r, http.StatusForbidden, T("This form has expired"), T("The page was open too long or came from another site. Reload the page and try again."))
}

// Cookies. The anti-forgery cookie is per browser and never expires with
// a login; the login cookie holds a random token stored hashed.
const (
	csrfCookie  = "presence_app_csrf"
	loginCookie = "presence_app_login"
)

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// newID is a random id with a prefix (130 bits).
func newID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// secure says whether cookies get the Secure flag: the request came over
// TLS, directly or through a proxy that says so. A forged header only
// makes the sender's own cookie unusable over plain HTTP.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// csrfToken returns the browser's anti-forgery token, setting the cookie
// when the browser has none yet.
func (a *App) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 52 {
		return c.Value
	}
	t := newToken()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: t, Path: "/app/", HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	return t
}

// validCSRF: the token sent with the form or request header equals the
// browser's cookie. A cross-site page can make the browser send the
// cookie but cannot read it to send it back.
func (a *App) validCSRF(w http.ResponseWriter, r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	sent := r.Header.Get("X-CSRF-Token")
	if sent == "" {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		sent = r.PostFormValue("csrf_token")
	}
	return subtle.ConstantTimeCompare([]byte(sent), []byte(c.Value)) == 1
}

// clientAddress is the address lockouts count by.
func (a *App) clientAddress(r *http.Request) string {
	if a.cfg.TrustProxy {
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			first, _, _ := strings.Cut(fwd, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// currentUser returns the logged-in user, or nil.
func (a *App) currentUser(r *http.Request) (*account.User, []byte) {
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	h := hashToken(c.Value)
	ws, err := a.cfg.Store.BrowserLogin(r.Context(), h)
	if err != nil || !a.cfg.Now().Before(ws.ExpiresAt) {
		return nil, nil
	}
	u, err := a.cfg.Store.User(r.Context(), ws.UserID)
	if err != nil {
		return nil, nil
	}
	return u, h
}

// logIn starts a browser session for u, logged in with the face now.
func (a *App) logIn(w http.ResponseWriter, r *http.Request, u *account.User) error {
	return a.logInAs(w, r, u, a.cfg.Now(), faceAMR)
}

func clearLogin(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/app/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}
