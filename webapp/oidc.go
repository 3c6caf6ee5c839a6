package webapp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"presence"
	"presence/webapp/account"
)

// The app as an OpenID Provider: other applications ("clients") log their
// users in with a face check and liveness, through the authorization code
// flow with PKCE (S256, required of every client). The protocol pieces
// (JOSE: keys, signatures, JWTs) come from go-jose; the flow is here,
// small enough to read whole. Decisions are in docs/app.md.

// Authentication methods and context a face login gives (RFC 8176 "face";
// "liveness" is this provider's own: the face was checked live by
// Presence).
var faceAMR = []string{"face", "liveness"}

const acrFace = "urn:presence:face"

const (
	oidcCookie     = "presence_app_oidc"
	authRequestTTL = 10 * time.Minute
	codeTTL        = time.Minute
	accessTokenTTL = 10 * time.Minute
	idTokenTTL     = 10 * time.Minute
	// retiredKeyShown is how long a retired signing key stays in the JWKS:
	// far longer than any token it signed lives.
	retiredKeyShown = 24 * time.Hour
)

// provider is the OpenID Provider's part of the app.
type provider struct {
	issuer   string
	store    account.ProviderStore
	rotation time.Duration
}

func (a *App) routeProvider(mux *http.ServeMux) {
	mux.HandleFunc("GET /app/.well-known/openid-configuration", a.discovery)
	mux.HandleFunc("GET /app/oidc/jwks", a.jwks)
	mux.HandleFunc("GET /app/oidc/authorize", a.authorize)
	mux.HandleFunc("GET /app/oidc/continue", a.continueAuth)
	mux.HandleFunc("POST /app/oidc/consent", a.consent)
	mux.HandleFunc("POST /app/oidc/token", a.token)
	mux.HandleFunc("GET /app/oidc/userinfo", a.userinfo)
	mux.HandleFunc("GET /app/oidc/logout", a.logoutPage)
	mux.HandleFunc("POST /app/oidc/logout", a.endSession)
}

func (a *App) discovery(w http.ResponseWriter, r *http.Request) {
	iss := a.oidc.issuer
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + "/oidc/authorize",
		"token_endpoint":                                 iss + "/oidc/token",
		"userinfo_endpoint":                              iss + "/oidc/userinfo",
		"jwks_uri":                                       iss + "/oidc/jwks",
		"end_session_endpoint":                           iss + "/oidc/logout",
		"response_types_supported":                       []string{"code"},
		"grant_types_supported":                          []string{"authorization_code"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{"RS256"},
		"scopes_supported":                               []string{"openid", "profile"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":               []string{"S256"},
		"claims_supported":                               []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "preferred_username"},
		"acr_values_supported":                           []string{acrFace},
		"prompt_values_supported":                        []string{"none", "login"},
		"authorization_response_iss_parameter_supported": true,
	})
}

// signingKeys returns the key that signs now and every key still
// published, rotating when the current one is older than the rotation
// period.
func (a *App) signingKeys(ctx context.Context) (*account.SigningKey, []account.SigningKey, error) {
	keys, err := a.oidc.store.SigningKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := a.cfg.Now()
	var current *account.SigningKey
	for i := range keys {
		if keys[i].RetiredAt == nil {
			current = &keys[i]
			break
		}
	}
	if current == nil || now.Sub(current.CreatedAt) >= a.oidc.rotation {
		if _, err := a.RotateSigningKey(ctx); err != nil {
			return nil, nil, err
		}
		return a.signingKeys(ctx)
	}
	var shown []account.SigningKey
	for _, k := range keys {
		if k.RetiredAt == nil || now.Sub(*k.RetiredAt) < retiredKeyShown {
			shown = append(shown, k)
		}
	}
	return current, shown, nil
}

// RotateSigningKey makes a new signing key and retires the others (they
// stay published for a day, so tokens signed just before still verify).
func (a *App) RotateSigningKey(ctx context.Context) (string, error) {
	if a.oidc == nil {
		return "", errors.New("webapp: the OpenID Provider is off")
	}
	id, err := RotateSigningKey(ctx, a.oidc.store, a.cfg.Now())
	if err == nil {
		a.cfg.Log.Info("face-login app: new ID token signing key", "kid", id)
	}
	return id, err
}

// RotateSigningKey makes a new signing key in store and retires the
// others; every node signs with it from its next token.
func RotateSigningKey(ctx context.Context, store account.ProviderStore, now time.Time) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	k := &account.SigningKey{ID: newID("key_"), PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), CreatedAt: now}
	old, err := store.SigningKeys(ctx)
	if err != nil {
		return "", err
	}
	if err := store.AddSigningKey(ctx, k); err != nil {
		return "", err
	}
	for _, o := range old {
		if o.RetiredAt == nil {
			if err := store.RetireSigningKey(ctx, o.ID, now); err != nil {
				return "", err
			}
		}
	}
	return k.ID, nil
}

func parseKey(k account.SigningKey) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(k.PrivatePEM)
	if block == nil {
		return nil, errors.New("signing key " + k.ID + " is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("signing key " + k.ID + " is not RSA")
	}
	return rk, nil
}

func (a *App) jwks(w http.ResponseWriter, r *http.Request) {
	_, keys, err := a.signingKeys(r.Context())
	if err != nil {
		a.oidcInternal(w, "reading signing keys", err)
		return
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		priv, err := parseKey(k)
		if err != nil {
			a.oidcInternal(w, "reading signing keys", err)
			return
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: k.ID, Algorithm: string(jose.RS256), Use: "sig"})
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, set)
}

func (a *App) oidcInternal(w http.ResponseWriter, what string, err error) {
	a.cfg.Log.Error("face-login app: OpenID Provider: "+what+" failed", "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
}

// pkceChallenge and pkceVerifier are RFC 7636's forms.
var (
	pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	pkceVerifier  = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// loginTime is when the browser's current login was made (zero when
// there is none).
func (a *App) loginTime(r *http.Request) (*account.User, time.Time) {
	u, bl := a.browserLogin(r)
	if u == nil {
		return nil, time.Time{}
	}
	return u, bl.CreatedAt
}

// browserLogin is the browser's current login, with how it was made.
func (a *App) browserLogin(r *http.Request) (*account.User, *account.BrowserLogin) {
	u, h := a.currentUser(r)
	if u == nil {
		return nil, nil
	}
	bl, err := a.cfg.Store.BrowserLogin(r.Context(), h)
	if err != nil {
		return nil, nil
	}
	return u, bl
}

// redirectError sends an error back to a client's verified redirect URI.
func (a *App) redirectError(w http.ResponseWriter, r *http.Request, redirect, state, code, desc string) {
	q := url.Values{"error": {code}, "error_description": {desc}, "iss": {a.oidc.issuer}}
	if state != "" {
		q.Set("state", state)
	}
	http.Redirect(w, r, withQuery(redirect, q), http.StatusSeeOther)
}

func withQuery(base string, q url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q.Encode()
}

// authorize starts the authorization code flow. Nothing is sent back to
// a redirect URI the client did not register: those errors are shown here.
func (a *App) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ctx := r.Context()
	client, err := a.oidc.store.Client(ctx, q.Get("client_id"))
	if err != nil {
		a.message(w, r, http.StatusBadRequest, T("Unknown application"), T("The application that sent you here is not registered with this login service."))
		return
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirect) {
		a.message(w, r, http.StatusBadRequest, T("Wrong return address"), T("The application asked to return you to an address it has not registered. You were not sent there."))
		return
	}
	state := q.Get("state")
	switch {
	case q.Get("response_type") != "code":
		a.redirectError(w, r, redirect, state, "unsupported_response_type", "only the authorization code flow (response_type=code)")
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		a.redirectError(w, r, redirect, state, "invalid_scope", "the scope must include openid")
		return
	case q.Get("code_challenge_method") != "S256" || !pkceChallenge.MatchString(q.Get("code_challenge")):
		a.redirectError(w, r, redirect, state, "invalid_request", "PKCE is required: code_challenge (S256) and code_challenge_method=S256")
		return
	case len(state) > 500 || len(q.Get("nonce")) > 500:
		a.redirectError(w, r, redirect, state, "invalid_request", "state and nonce: at most 500 characters")
		return
	}
	now := a.cfg.Now()
	var fresh time.Time
	if v := q.Get("max_age"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 {
			a.redirectError(w, r, redirect, state, "invalid_request", "max_age: a number of seconds")
			return
		}
		fresh = now.Add(-time.Duration(secs) * time.Second)
	}
	prompt := strings.Fields(q.Get("prompt"))
	if slices.Contains(prompt, "login") {
		fresh = now
	}
	u, authTime := a.loginTime(r)
	needLogin := u == nil || authTime.Before(fresh)
	if needLogin && slices.Contains(prompt, "none") {
		a.redirectError(w, r, redirect, state, "login_required", "a face login is needed")
		return
	}
	req := &account.AuthRequest{ID: newID("req_"), Browser: hashToken(a.bindingToken(w, r)), ClientID: client.ID, RedirectURI: redirect,
		Scope: q.Get("scope"), State: state, Nonce: q.Get("nonce"), Challenge: q.Get("code_challenge"), FreshAfter: fresh,
		CreatedAt: now, ExpiresAt: now.Add(authRequestTTL)}
	if slices.Contains(strings.Fields(q.Get("acr_values")), acrFaceOTP) {
		req.ACR = acrFaceOTP
	}
	if err := a.oidc.store.CreateAuthRequest(ctx, req); err != nil {
		a.cfg.Log.Error("face-login app: storing an authorization request failed", "err", err)
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	if needLogin {
		a.sendToLogin(w, r, req.ID)
		return
	}
	http.Redirect(w, r, "/app/oidc/continue?request="+req.ID, http.StatusSeeOther)
}

// bindCookie binds authorization requests to the browser that made them.
// It is SameSite=Lax, not Strict like the anti-forgery cookie: a browser
// arriving from the client's site, and redirected on to the consent or
// straight back, must send it.
const bindCookie = "presence_app_oidc_bind"

// bindingToken is the browser's binding secret, set when it has none.
func (a *App) bindingToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(bindCookie); err == nil && len(c.Value) == 52 {
		return c.Value
	}
	t := newToken()
	http.SetCookie(w, &http.Cookie{Name: bindCookie, Value: t, Path: "/app/", HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	return t
}

// sendToLogin remembers the request in a cookie (the face login sends
// the browser back to it) and opens the login page.
func (a *App) sendToLogin(w http.ResponseWriter, r *http.Request, requestID string) {
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: requestID, Path: "/app/", MaxAge: int(authRequestTTL / time.Second),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/app/login?done=continue", http.StatusSeeOther)
}

// pendingRequest is the browser's authorization request waiting for its
// login, if any and if it is this browser's.
func (a *App) pendingRequest(r *http.Request) (*account.AuthRequest, *account.Client) {
	if a.oidc == nil {
		return nil, nil
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return nil, nil
	}
	return a.ownRequest(r, c.Value)
}

func (a *App) ownRequest(r *http.Request, id string) (*account.AuthRequest, *account.Client) {
	req, err := a.oidc.store.AuthRequest(r.Context(), id)
	if err != nil || !a.cfg.Now().Before(req.ExpiresAt) {
		return nil, nil
	}
	bind, err := r.Cookie(bindCookie)
	if err != nil || subtle.ConstantTimeCompare(hashToken(bind.Value), req.Browser) != 1 {
		return nil, nil
	}
	client, err := a.oidc.store.Client(r.Context(), req.ClientID)
	if err != nil {
		return nil, nil
	}
	return req, client
}

// continueAuth runs once the browser is logged in: consent, then the code.
func (a *App) continueAuth(w http.ResponseWriter, r *http.Request) {
	req, client := a.ownRequest(r, r.URL.Query().Get("request"))
	if req == nil {
		a.message(w, r, http.StatusBadRequest, T("This login has expired"), T("Go back to the application and start again."))
		return
	}
	u, bl := a.browserLogin(r)
	if u == nil || bl.CreatedAt.Before(req.FreshAfter) {
		a.sendToLogin(w, r, req.ID)
		return
	}
	if req.ACR == acrFaceOTP && !slices.Contains(bl.AMR, account.AMROTP) {
		// Step up to the second factor: the face login stands, the code
		// is asked now.
		if _, has := a.hasTOTP(r.Context(), u.ID); !has {
			a.oidc.store.DeleteAuthRequest(r.Context(), req.ID)
			a.redirectError(w, r, req.RedirectURI, req.State, "unmet_authentication_requirements", "the account has no second factor")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: req.ID, Path: "/app/", MaxAge: int(authRequestTTL / time.Second),
			HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
		next, err := a.askSecondFactor(w, r, u, bl.CreatedAt)
		if err != nil {
			a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
			return
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	granted, err := a.oidc.store.Consent(r.Context(), u.ID, client.ID)
	if err != nil {
		a.cfg.Log.Error("face-login app: reading consent failed", "err", err)
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	if !coversScope(granted, req.Scope) {
		a.allowFormTo(w, req.RedirectURI)
		a.render(w, r, http.StatusOK, "consent", pageData{Title: T("Allow {client}?"), Args: []string{"client", client.Name}, User: u,
			Client: client.Name, Request: req.ID, Scopes: scopeTexts(req.Scope)})
		return
	}
	a.issueCode(w, r, req, u, bl)
}

// allowFormTo lets a form on this page lead, through redirects, to the
// origin of uri (browsers apply form-action to the redirects after a
// form is sent).
func (a *App) allowFormTo(w http.ResponseWriter, uri string) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, " ;'\"") {
		return
	}
	csp := w.Header().Get("Content-Security-Policy")
	w.Header().Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' "+u.Scheme+"://"+u.Host, 1))
}

func coversScope(granted, asked string) bool {
	have := strings.Fields(granted)
	for _, s := range strings.Fields(asked) {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return granted != ""
}

// scopeTexts says in words what each scope shares.
func scopeTexts(scope string) []string {
	out := []string{T("That it is you: an identifier of your account, and that you logged in with your face, checked live")}
	if slices.Contains(strings.Fields(scope), "profile") {
		out = append(out, T("Your username"))
	}
	return out
}

func (a *App) consent(w http.ResponseWriter, r *http.Request) {
	req, client := a.ownRequest(r, r.PostFormValue("request"))
	if req == nil {
		a.message(w, r, http.StatusBadRequest, T("This login has expired"), T("Go back to the application and start again."))
		return
	}
	u, bl := a.browserLogin(r)
	if u == nil || bl.CreatedAt.Before(req.FreshAfter) || (req.ACR == acrFaceOTP && !slices.Contains(bl.AMR, account.AMROTP)) {
		a.sendToLogin(w, r, req.ID)
		return
	}
	if r.PostFormValue("decision") != "allow" {
		a.oidc.store.DeleteAuthRequest(r.Context(), req.ID)
		a.redirectError(w, r, req.RedirectURI, req.State, "access_denied", "the person did not allow it")
		return
	}
	if err := a.oidc.store.SaveConsent(r.Context(), u.ID, client.ID, req.Scope, a.cfg.Now()); err != nil {
		a.cfg.Log.Error("face-login app: saving consent failed", "err", err)
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	a.issueCode(w, r, req, u, bl)
}

// issueCode sends the browser back to the client with a single-use code.
func (a *App) issueCode(w http.ResponseWriter, r *http.Request, req *account.AuthRequest, u *account.User, bl *account.BrowserLogin) {
	code := newToken()
	now := a.cfg.Now()
	c := &account.AuthCode{Hash: hashToken(code), ClientID: req.ClientID, UserID: u.ID, RedirectURI: req.RedirectURI, Challenge: req.Challenge,
		Nonce: req.Nonce, Scope: req.Scope, AuthTime: bl.CreatedAt, AMR: bl.AMR, ExpiresAt: now.Add(codeTTL)}
	if err := a.oidc.store.CreateAuthCode(r.Context(), c); err != nil {
		a.cfg.Log.Error("face-login app: storing a code failed", "err", err)
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	a.oidc.store.DeleteAuthRequest(r.Context(), req.ID)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/app/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	q := url.Values{"code": {code}, "iss": {a.oidc.issuer}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	http.Redirect(w, r, withQuery(req.RedirectURI, q), http.StatusSeeOther)
}

// tokenError answers the token endpoint's errors (RFC 6749 5.2).
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token exchanges a code for an ID token and an access token.
func (a *App) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "a form body")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	ctx := r.Context()
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	client, err := a.oidc.store.Client(ctx, id)
	if err != nil || (client.SecretHash != nil && subtle.ConstantTimeCompare(hashToken(secret), client.SecretHash) != 1) {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	now := a.cfg.Now()
	code, err := a.oidc.store.RedeemAuthCode(ctx, hashToken(r.PostForm.Get("code")), now)
	switch {
	case presence.ErrorCodeOf(err) == presence.ErrConflict:
		// A code used twice was stolen or replayed: what its first use
		// gave is revoked too (RFC 6749 4.1.2).
		n, _ := a.oidc.store.RevokeTokensOfCode(ctx, code.Hash)
		a.cfg.Log.Warn("face-login app: an authorization code was used twice; its tokens are revoked", "client", code.ClientID, "revoked", n)
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code was already used")
		return
	case err != nil:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown code")
		return
	case code.ClientID != client.ID:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code belongs to another client")
		return
	case !now.Before(code.ExpiresAt):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code has expired")
		return
	case r.PostForm.Get("redirect_uri") != code.RedirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	}
	verifier := r.PostForm.Get("code_verifier")
	if !pkceVerifier.MatchString(verifier) || subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(code.Challenge)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	u, err := a.cfg.Store.User(ctx, code.UserID)
	if err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the account no longer exists")
		return
	}
	idToken, err := a.signIDToken(ctx, client, u, code, now)
	if err != nil {
		a.oidcInternal(w, "signing an ID token", err)
		return
	}
	access := newToken()
	if err := a.oidc.store.CreateAccessToken(ctx, &account.AccessToken{Hash: hashToken(access), CodeHash: code.Hash, ClientID: client.ID, UserID: u.ID,
		Scope: code.Scope, ExpiresAt: now.Add(accessTokenTTL)}); err != nil {
		a.oidcInternal(w, "storing an access token", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(accessTokenTTL / time.Second),
		"id_token": idToken, "scope": code.Scope})
}

// idClaims are an ID token's claims.
type idClaims struct {
	jwt.Claims
	AuthTime          int64    `json:"auth_time"`
	Nonce             string   `json:"nonce,omitempty"`
	AMR               []string `json:"amr"`
	ACR               string   `json:"acr"`
	AZP               string   `json:"azp"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
}

func (a *App) signIDToken(ctx context.Context, client *account.Client, u *account.User, code *account.AuthCode, now time.Time) (string, error) {
	current, _, err := a.signingKeys(ctx)
	if err != nil {
		return "", err
	}
	priv, err := parseKey(*current)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: current.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	c := idClaims{
		Claims: jwt.Claims{Issuer: a.oidc.issuer, Subject: u.ID, Audience: jwt.Audience{client.ID},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(idTokenTTL))},
		AuthTime: code.AuthTime.Unix(), Nonce: code.Nonce, AMR: code.AMR, ACR: acrFace, AZP: client.ID,
	}
	if len(c.AMR) == 0 {
		c.AMR = faceAMR
	}
	if slices.Contains(c.AMR, account.AMROTP) {
		c.ACR = acrFaceOTP
	}
	if slices.Contains(strings.Fields(code.Scope), "profile") {
		c.PreferredUsername = u.Username
	}
	return jwt.Signed(signer).Claims(c).Serialize()
}

// userinfo answers a client's access token with the user's claims.
func (a *App) userinfo(w http.ResponseWriter, r *http.Request) {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	t, err := a.oidc.store.AccessToken(r.Context(), hashToken(strings.TrimSpace(bearer)))
	if !ok || err != nil || !a.cfg.Now().Before(t.ExpiresAt) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	u, err := a.cfg.Store.User(r.Context(), t.UserID)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	out := map[string]any{"sub": u.ID}
	if slices.Contains(strings.Fields(t.Scope), "profile") {
		out["preferred_username"] = u.Username
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// logoutTarget is where a client asked to send the browser after logout,
// if that client registered it.
func (a *App) logoutTarget(r *http.Request, clientID, uri string) string {
	if uri == "" || clientID == "" {
		return ""
	}
	c, err := a.oidc.store.Client(r.Context(), clientID)
	if err != nil || !slices.Contains(c.PostLogoutURIs, uri) {
		return ""
	}
	return uri
}

// hintedClient reads the client of an ID token this provider signed (its
// expiry does not matter here).
func (a *App) hintedClient(r *http.Request, hint string) string {
	if hint == "" {
		return ""
	}
	tok, err := jwt.ParseSigned(hint, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return ""
	}
	_, keys, err := a.signingKeys(r.Context())
	if err != nil {
		return ""
	}
	for _, k := range keys {
		priv, err := parseKey(k)
		if err != nil {
			continue
		}
		var c idClaims
		if tok.Claims(&priv.PublicKey, &c) == nil && c.Issuer == a.oidc.issuer && len(c.Audience) == 1 {
			return c.Audience[0]
		}
	}
	return ""
}

// logoutPage asks before logging out (a link alone must not log anyone
// out), then sends the browser where the client asked.
func (a *App) logoutPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID := q.Get("client_id")
	if clientID == "" {
		clientID = a.hintedClient(r, q.Get("id_token_hint"))
	}
	target := a.logoutTarget(r, clientID, q.Get("post_logout_redirect_uri"))
	d := pageData{Title: T("Log out")}
	if c, err := a.oidc.store.Client(r.Context(), clientID); err == nil {
		d.Title, d.Args = T("Log out of {client}?"), []string{"client", c.Name}
	}
	d.User, _ = a.currentUser(r)
	if c, err := a.oidc.store.Client(r.Context(), clientID); err == nil {
		d.Client = c.Name
	}
	d.ClientID, d.Target, d.State = clientID, target, q.Get("state")
	if target != "" {
		a.allowFormTo(w, target)
	}
	a.render(w, r, http.StatusOK, "oidclogout", d)
}

func (a *App) endSession(w http.ResponseWriter, r *http.Request) {
	a.endLogin(w, r)
	if target := a.logoutTarget(r, r.PostFormValue("client_id"), r.PostFormValue("target")); target != "" {
		q := url.Values{}
		if s := r.PostFormValue("state"); s != "" {
			q.Set("state", s)
		}
		if len(q) > 0 {
			target = withQuery(target, q)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/app/login?done=logout", http.StatusSeeOther)
}

// ClientCreated is a newly registered client with its secret, shown once.
type ClientCreated struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret,omitempty"`
}

// RegisterClient registers a client application; public clients (no
// secret) rely on PKCE alone.
func RegisterClient(ctx context.Context, store account.ProviderStore, name string, redirects, postLogout []string, public bool, now time.Time) (*ClientCreated, error) {
	if name == "" || len(redirects) == 0 {
		return nil, presence.Errorf(presence.ErrInvalid, "a client needs a name and at least one redirect URI")
	}
	for _, uri := range append(slices.Clone(redirects), postLogout...) {
		u, err := url.Parse(uri)
		if err != nil || u.Fragment != "" || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			return nil, presence.Errorf(presence.ErrInvalid, "redirect URI %q: https, or http on loopback, absolute, without a fragment", uri)
		}
	}
	c := &account.Client{ID: newID("cli_"), Name: name, RedirectURIs: redirects, PostLogoutURIs: postLogout, CreatedAt: now}
	out := &ClientCreated{ID: c.ID}
	if !public {
		out.Secret = newToken()
		c.SecretHash = hashToken(out.Secret)
	}
	return out, store.CreateClient(ctx, c)
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
