package webapp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"presence/webapp/account"
)

// A second factor: an authenticator app (TOTP, RFC 6238: HMAC-SHA1, six
// digits, 30-second steps, one step of clock drift either way, each code
// good once), asked after the face check when the account has one, or
// when a client asks for it (acr_values). Ten one-time recovery codes,
// shown once and stored hashed, stand in for it.

const (
	totpPeriod    = 30
	totpDigits    = 6
	recoveryCodes = 10
	pendingCookie = "presence_app_pending"
	nextCookie    = "presence_app_next"
	pendingTTL    = 5 * time.Minute
	// freshLogin is how recent a face login must be to set up or remove a
	// factor, or to delete the account.
	freshLogin = 5 * time.Minute
	// acrFaceOTP is the level of a face login with the second factor.
	acrFaceOTP = "urn:presence:face+otp"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpCode is RFC 6238's code for a time step.
func totpCode(secret []byte, step int64) string {
	mac := hmac.New(sha1.New, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

// matchTOTP finds the time step (now, or one either side) whose code is
// code; -1 when none.
func matchTOTP(secret []byte, code string, now time.Time) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits {
		return -1
	}
	step := now.Unix() / totpPeriod
	for _, s := range []int64{step, step - 1, step + 1} {
		if subtle.ConstantTimeCompare([]byte(totpCode(secret, s)), []byte(code)) == 1 {
			return s
		}
	}
	return -1
}

func otpauthURL(username string, secret []byte) string {
	label := url.PathEscape("Presence face login:" + username)
	q := url.Values{"secret": {b32.EncodeToString(secret)}, "issuer": {"Presence face login"}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// qrImage is the otpauth URL as a QR code, a PNG data URL for an <img>.
func qrImage(u string) (template.URL, error) {
	png, err := qrcode.Encode(u, qrcode.Medium, 256)
	if err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}

// newRecoveryCodes makes recovery codes (xxxxx-xxxxx, 50 bits each) and
// their hashes.
func newRecoveryCodes() ([]string, [][]byte) {
	var codes []string
	var hashes [][]byte
	for range recoveryCodes {
		b := make([]byte, 7)
		rand.Read(b)
		s := strings.ToLower(b32.EncodeToString(b))[:10]
		code := s[:5] + "-" + s[5:]
		codes = append(codes, code)
		hashes = append(hashes, hashRecovery(code))
	}
	return codes, hashes
}

func hashRecovery(code string) []byte {
	return hashToken(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(code)), " ", ""))
}

// hasTOTP says whether the user has a confirmed authenticator.
func (a *App) hasTOTP(ctx context.Context, userID string) (*account.TOTP, bool) {
	t, err := a.cfg.Store.TOTP(ctx, userID)
	return t, err == nil && t.ConfirmedAt != nil
}

// redirectAfterLogin is where a finished login goes: a waiting
// application, a page that asked for a fresh login, or the account.
func (a *App) redirectAfterLogin(w http.ResponseWriter, r *http.Request) string {
	if req, _ := a.pendingRequest(r); req != nil {
		return "/app/oidc/continue?request=" + req.ID
	}
	if c, err := r.Cookie(nextCookie); err == nil && slices.Contains([]string{"/app/account/delete", "/app/account/totp"}, c.Value) {
		http.SetCookie(w, &http.Cookie{Name: nextCookie, Value: "", Path: "/app/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
		return c.Value
	}
	return "/app/account"
}

// requireFresh sends a person whose face login is older than freshLogin
// to log in again, then back to next; it says whether the login is
// fresh.
func (a *App) requireFresh(w http.ResponseWriter, r *http.Request, next string) (*account.User, bool) {
	u, at := a.loginTime(r)
	if u == nil {
		http.Redirect(w, r, "/app/login?done=login", http.StatusSeeOther)
		return nil, false
	}
	if a.cfg.Now().Sub(at) > freshLogin {
		http.SetCookie(w, &http.Cookie{Name: nextCookie, Value: next, Path: "/app/", MaxAge: 600, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/app/login?done=confirm", http.StatusSeeOther)
		return u, false
	}
	return u, true
}

// askSecondFactor holds a face login until its second factor: the
// browser gets a pending-login cookie and the page that asks for a code.
func (a *App) askSecondFactor(w http.ResponseWriter, r *http.Request, u *account.User, authTime time.Time) (string, error) {
	token := newToken()
	p := &account.PendingLogin{TokenHash: hashToken(token), UserID: u.ID, Browser: hashToken(a.csrfToken(w, r)), AuthTime: authTime, ExpiresAt: a.cfg.Now().Add(pendingTTL)}
	if err := a.cfg.Store.CreatePendingLogin(r.Context(), p); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: token, Path: "/app/", MaxAge: int(pendingTTL / time.Second), HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	return "/app/login/second-factor", nil
}

// pendingLogin is this browser's face login waiting for its second factor.
func (a *App) pendingLogin(r *http.Request) (*account.PendingLogin, *account.User) {
	c, err := r.Cookie(pendingCookie)
	if err != nil {
		return nil, nil
	}
	p, err := a.cfg.Store.PendingLogin(r.Context(), hashToken(c.Value))
	csrf, cerr := r.Cookie(csrfCookie)
	if err != nil || cerr != nil || !a.cfg.Now().Before(p.ExpiresAt) || subtle.ConstantTimeCompare(hashToken(csrf.Value), p.Browser) != 1 {
		return nil, nil
	}
	u, err := a.cfg.Store.User(r.Context(), p.UserID)
	if err != nil {
		return nil, nil
	}
	return p, u
}

func (a *App) secondFactorPage(w http.ResponseWriter, r *http.Request) {
	p, u := a.pendingLogin(r)
	if p == nil {
		http.Redirect(w, r, "/app/login", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "secondfactor", pageData{Title: T("Your second factor"), Heading: T("One more step, {name}"), Args: []string{"name", u.Username}})
}

// secondFactor checks the code (or a recovery code) of a pending login.
// Failures count towards the username's lockout like failed face logins.
func (a *App) secondFactor(w http.ResponseWriter, r *http.Request) {
	p, u := a.pendingLogin(r)
	if p == nil {
		http.Redirect(w, r, "/app/login", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	now := a.cfg.Now()
	mu := &a.judging[fnv32(u.Username)%uint32(len(a.judging))]
	mu.Lock()
	defer mu.Unlock()
	until, err := a.lockedUntil(ctx, u.Username, "", a.cfg.MaxFailures)
	if err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	if !until.IsZero() {
		a.render(w, r, http.StatusTooManyRequests, "secondfactor", pageData{Title: T("Your second factor"), Heading: T("One more step, {name}"),
			Message: T("Too many attempts. Try again after {time} UTC."), Args: []string{"name", u.Username, "time", until.UTC().Format("15:04")}})
		return
	}
	ok := false
	code := r.PostFormValue("code")
	if t, has := a.hasTOTP(ctx, u.ID); has {
		if step := matchTOTP(t.Secret, code, now); step >= 0 {
			ok = a.cfg.Store.UseTOTPStep(ctx, u.ID, step) == nil
		}
	}
	if !ok && strings.Contains(code, "-") {
		ok = a.cfg.Store.UseRecoveryCode(ctx, u.ID, hashRecovery(code), now) == nil
	}
	att := &account.Attempt{ID: newID("att_"), Kind: account.KindSecondFactor, Username: u.Username, UserID: u.ID, Client: a.clientAddress(r),
		Browser: p.Browser, Device: deviceHint(r.UserAgent()), CreatedAt: now, ExpiresAt: now, FinishedAt: &now, Outcome: account.OutcomeSuccess}
	if !ok {
		att.Outcome, att.Reason = account.OutcomeFailure, "wrong_code"
	}
	if err := a.cfg.Store.CreateAttempt(ctx, att); err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	if !ok {
		a.render(w, r, http.StatusUnprocessableEntity, "secondfactor", pageData{Title: T("Your second factor"), Heading: T("One more step, {name}"),
			Args: []string{"name", u.Username}, Message: T("That code is not right, or was already used. Type the code your authenticator app shows now.")})
		return
	}
	a.cfg.Store.DeletePendingLogin(ctx, p.TokenHash)
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: "", Path: "/app/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	if err := a.logInAs(w, r, u, p.AuthTime, []string{account.AMRFace, account.AMRLiveness, account.AMROTP, account.AMRMFA}); err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	http.Redirect(w, r, a.redirectAfterLogin(w, r), http.StatusSeeOther)
}

// totpSetupPage shows a new authenticator's QR code (after a fresh face
// login); it serves once the person types a code from it.
func (a *App) totpSetupPage(w http.ResponseWriter, r *http.Request) {
	u, fresh := a.requireFresh(w, r, "/app/account/totp")
	if !fresh {
		return
	}
	if _, has := a.hasTOTP(r.Context(), u.ID); has {
		http.Redirect(w, r, "/app/account", http.StatusSeeOther)
		return
	}
	secret := make([]byte, 20)
	rand.Read(secret)
	if err := a.cfg.Store.SetTOTP(r.Context(), &account.TOTP{UserID: u.ID, Secret: secret, CreatedAt: a.cfg.Now()}); err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	a.renderTOTPSetup(w, r, u, secret, "")
}

func (a *App) renderTOTPSetup(w http.ResponseWriter, r *http.Request, u *account.User, secret []byte, problem string) {
	link := otpauthURL(u.Username, secret)
	img, err := qrImage(link)
	if err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	a.render(w, r, status, "totp", pageData{Title: T("Set up an authenticator app"), User: u, QR: img, Secret: b32.EncodeToString(secret), Message: problem})
}

// totpConfirm turns the authenticator on once a code from it is typed,
// and shows the recovery codes, once.
func (a *App) totpConfirm(w http.ResponseWriter, r *http.Request) {
	u, fresh := a.requireFresh(w, r, "/app/account/totp")
	if !fresh {
		return
	}
	ctx := r.Context()
	t, err := a.cfg.Store.TOTP(ctx, u.ID)
	if err != nil || t.ConfirmedAt != nil {
		http.Redirect(w, r, "/app/account", http.StatusSeeOther)
		return
	}
	now := a.cfg.Now()
	step := matchTOTP(t.Secret, r.PostFormValue("code"), now)
	if step < 0 {
		a.renderTOTPSetup(w, r, u, t.Secret, T("That code is not right. Type the six digits your app shows now."))
		return
	}
	codes, hashes := newRecoveryCodes()
	if err := a.cfg.Store.UseTOTPStep(ctx, u.ID, step); err != nil {
		a.renderTOTPSetup(w, r, u, t.Secret, T("That code was already used. Wait for the next one."))
		return
	}
	if err := a.cfg.Store.ConfirmTOTP(ctx, u.ID, now); err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	if err := a.cfg.Store.SetRecoveryCodes(ctx, u.ID, hashes, now); err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	a.render(w, r, http.StatusOK, "recovery", pageData{Title: T("Your recovery codes"), User: u, Codes: codes})
}

// totpOff removes the second factor (after a fresh face login).
func (a *App) totpOff(w http.ResponseWriter, r *http.Request) {
	u, fresh := a.requireFresh(w, r, "/app/account")
	if !fresh {
		return
	}
	ctx := r.Context()
	if err := a.cfg.Store.DeleteTOTP(ctx, u.ID); err != nil {
		a.message(w, r, http.StatusInternalServerError, T("Something went wrong"), T("Try again in a moment."))
		return
	}
	a.cfg.Store.SetRecoveryCodes(ctx, u.ID, nil, a.cfg.Now())
	http.Redirect(w, r, "/app/account", http.StatusSeeOther)
}

// logInAs starts a browser session for u with its authentication time
// and methods.
func (a *App) logInAs(w http.ResponseWriter, r *http.Request, u *account.User, authTime time.Time, amr []string) error {
	token := newToken()
	ws := &account.BrowserLogin{TokenHash: hashToken(token), UserID: u.ID, Device: deviceHint(r.UserAgent()), CreatedAt: authTime,
		ExpiresAt: a.cfg.Now().Add(a.cfg.LoginTTL), AMR: amr}
	if err := a.cfg.Store.CreateBrowserLogin(r.Context(), ws); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/app/", MaxAge: int(a.cfg.LoginTTL / time.Second),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	return nil
}

// recover enrols the face of a recovery's check under a new subject,
// points the account at it, erases the old face, and logs in: the
// recovery code stood for the second factor, the new face check for the
// face. A face that belongs to another account is refused.
func (a *App) recover(w http.ResponseWriter, r *http.Request, att *account.Attempt) {
	ctx := r.Context()
	u, err := a.cfg.Store.User(ctx, att.UserID)
	if err != nil {
		a.conclude(w, r, att, "", account.OutcomeFailure, screenFor("unknown_user"))
		return
	}
	subject, undo := a.enrolNew(w, r, att, u.SubjectID)
	if subject == "" {
		return
	}
	old := u.SubjectID
	if err := a.cfg.Store.UpdateUserSubject(ctx, u.ID, subject); err != nil {
		undo()
		a.internal(w, "re-enrolling", err)
		return
	}
	if err := a.api.deleteSubject(context.WithoutCancel(ctx), old); err != nil && codeOf(err) != "not_found" {
		a.cfg.Log.Error("face-login app: erasing the old face after a recovery failed", "subject", old, "err", err)
	}
	u.SubjectID = subject
	if err := a.cfg.Store.FinishAttempt(ctx, att.ID, u.ID, account.OutcomeSuccess, "", a.cfg.Now()); err != nil {
		a.fail(w, r, http.StatusConflict, screenFor("session_used"))
		return
	}
	a.forgetSession(ctx, att.SessionID)
	if err := a.logInAs(w, r, u, a.cfg.Now(), []string{account.AMRFace, account.AMRLiveness, account.AMRRecovery}); err != nil {
		a.internal(w, "logging in", err)
		return
	}
	a.cfg.Log.Info("face-login app: account recovered, face enrolled again", "user", u.ID)
	writeJSON(w, http.StatusOK, result{OK: true, Redirect: "/app/account?done=recovered"})
}
