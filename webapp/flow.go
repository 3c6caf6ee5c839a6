package webapp

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"presence"
	"presence/webapp/account"
)

// result is the answer of every /app/api/ call.
type result struct {
	OK bool `json:"ok"`
	// Start: the face check to run in the browser.
	Attempt     string `json:"attempt,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
	ClientToken string `json:"client_token,omitempty"`
	// Finish: where to go on success.
	Redirect string  `json:"redirect,omitempty"`
	Screen   *Screen `json:"screen,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers an API call with a screen, in the person's language.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, s Screen) {
	s = translateScreen(a.lang(nil, r), s, s.args...)
	writeJSON(w, status, result{Screen: &s})
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,31}$`)

// parseStart reads the body of /app/api/start: the kind of attempt and,
// for registrations and logins, the username (lowercased). bad names the
// screen for a body that will not do.
func parseStart(body io.Reader) (kind, username, recovery, bad string) {
	var req struct {
		Kind         string `json:"kind"`
		Username     string `json:"username"`
		RecoveryCode string `json:"recovery_code"`
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		return "", "", "", "error"
	}
	switch req.Kind {
	case account.KindRecovery:
		if len(req.RecoveryCode) > 20 || strings.TrimSpace(req.RecoveryCode) == "" {
			return "", "", "", "wrong_recovery_code"
		}
		recovery = req.RecoveryCode
		fallthrough
	case account.KindRegister, account.KindLogin:
		username = strings.ToLower(strings.TrimSpace(req.Username))
		if !usernamePattern.MatchString(username) {
			return "", "", "", "invalid_username"
		}
	case account.KindFaceLogin:
	default:
		return "", "", "", "error"
	}
	return req.Kind, username, recovery, ""
}

// lockedUntil says until when a username (or, with username "", a client
// address) is locked out, or the zero time.
func (a *App) lockedUntil(ctx context.Context, username, client string, max int) (time.Time, error) {
	now := a.cfg.Now()
	fails, err := a.cfg.Store.RecentFailures(ctx, username, client, now.Add(-a.cfg.FailureWindow), max)
	if err != nil || len(fails) < max {
		return time.Time{}, err
	}
	if until := fails[0].Add(a.cfg.Lockout); now.Before(until) {
		return until, nil
	}
	return time.Time{}, nil
}

func lockedScreen(until time.Time) Screen {
	s := screenFor("locked")
	s.RetryAt = until.UTC().Format(time.RFC3339)
	s.Message = T("For your security, logging in is paused after several failed attempts. Try again after {time} UTC.")
	s.args = []string{"time", until.UTC().Format("15:04")}
	return s
}

// start begins a registration or login: it checks the username and the
// lockouts, starts a Presence session and returns its client token for
// the capture SDK.
func (a *App) start(w http.ResponseWriter, r *http.Request) {
	kind, username, recovery, bad := parseStart(http.MaxBytesReader(w, r.Body, 4<<10))
	if bad != "" {
		a.fail(w, r, http.StatusBadRequest, screenFor(bad))
		return
	}
	ctx := r.Context()
	now := a.cfg.Now()
	client := a.clientAddress(r)
	att := &account.Attempt{ID: newID("att_"), Kind: kind, Username: username, Client: client, Browser: hashToken(a.csrfToken(w, r)),
		Device: deviceHint(r.UserAgent()), CreatedAt: now, ExpiresAt: now.Add(a.cfg.CheckTTL)}

	// One address may start only so many checks a minute: each costs a
	// call on the app's API quota.
	if n, err := a.cfg.Store.AttemptsSince(ctx, client, now.Add(-time.Minute)); err != nil {
		a.internal(w, "rate check", err)
		return
	} else if n >= a.cfg.MaxStartsPerMinute {
		a.fail(w, r, http.StatusTooManyRequests, lockedScreen(now.Truncate(time.Second).Add(time.Minute)))
		return
	}
	until, err := a.lockedUntil(ctx, "", client, a.cfg.MaxClientFailures)
	if err == nil && until.IsZero() && (kind == account.KindLogin || kind == account.KindRecovery) {
		until, err = a.lockedUntil(ctx, username, "", a.cfg.MaxFailures)
	}
	if err != nil {
		a.internal(w, "lockout check", err)
		return
	}
	if !until.IsZero() {
		a.fail(w, r, http.StatusTooManyRequests, lockedScreen(until))
		return
	}

	subject := ""
	switch kind {
	case account.KindRegister:
		if _, err := a.cfg.Store.UserByName(ctx, username); err == nil {
			// Counted against the address like an unknown username at
			// login: probing for taken names costs as much as guessing.
			att.Outcome, att.Reason, att.FinishedAt = account.OutcomeFailure, "username_taken", &now
			if err := a.cfg.Store.CreateAttempt(ctx, att); err != nil {
				a.internal(w, "recording an attempt", err)
				return
			}
			a.fail(w, r, http.StatusConflict, screenFor("username_taken"))
			return
		} else if presence.ErrorCodeOf(err) != presence.ErrNotFound {
			a.internal(w, "user lookup", err)
			return
		}
	case account.KindLogin, account.KindRecovery:
		u, err := a.cfg.Store.UserByName(ctx, username)
		if presence.ErrorCodeOf(err) == presence.ErrNotFound {
			// Recorded as a failure of the name and the address: guessing
			// usernames counts towards the lockout like guessing faces.
			att.Outcome, att.Reason, att.FinishedAt = account.OutcomeFailure, "unknown_user", &now
			if err := a.cfg.Store.CreateAttempt(ctx, att); err != nil {
				a.internal(w, "recording an attempt", err)
				return
			}
			a.fail(w, r, http.StatusNotFound, screenFor("unknown_user"))
			return
		} else if err != nil {
			a.internal(w, "user lookup", err)
			return
		}
		att.UserID, subject = u.ID, u.SubjectID
		if kind == account.KindRecovery {
			// The code is spent as the check starts: one code, one
			// check. The new face is judged for liveness only; it is not
			// expected to match the old one.
			subject = ""
			if err := a.cfg.Store.UseRecoveryCode(ctx, u.ID, hashRecovery(recovery), now); err != nil {
				att.Outcome, att.Reason, att.FinishedAt = account.OutcomeFailure, "wrong_recovery_code", &now
				if err := a.cfg.Store.CreateAttempt(ctx, att); err != nil {
					a.internal(w, "recording an attempt", err)
					return
				}
				a.fail(w, r, http.StatusUnprocessableEntity, screenFor("wrong_recovery_code"))
				return
			}
		}
	}

	sess, err := a.api.createSession(ctx, a.cfg.Mode, subject, a.cfg.CheckTTL, att.ID)
	if err != nil {
		a.internal(w, "starting a session", err)
		return
	}
	att.SessionID = sess.ID
	if err := a.cfg.Store.CreateAttempt(ctx, att); err != nil {
		a.internal(w, "recording an attempt", err)
		return
	}
	writeJSON(w, http.StatusOK, result{OK: true, Attempt: att.ID, SessionID: sess.ID, ClientToken: sess.ClientToken})
}

// ownAttempt loads an unfinished attempt of this browser.
func (a *App) ownAttempt(w http.ResponseWriter, r *http.Request) *account.Attempt {
	att, err := a.cfg.Store.Attempt(r.Context(), r.PathValue("id"))
	if err != nil || !sameBytes(att.Browser, hashToken(a.csrfToken(w, r))) {
		// Another browser's attempt is as good as no attempt.
		a.fail(w, r, http.StatusNotFound, screenFor("expired"))
		return nil
	}
	if att.FinishedAt != nil {
		a.fail(w, r, http.StatusConflict, screenFor("session_used"))
		return nil
	}
	return att
}

// finish reads the verdict of the attempt's face check, from Presence,
// and logs in, registers or says why not.
func (a *App) finish(w http.ResponseWriter, r *http.Request) {
	att := a.ownAttempt(w, r)
	if att == nil {
		return
	}
	ctx := r.Context()
	// The lockout is checked again where the face is judged, one attempt
	// of a name at a time: attempts started together before the limit
	// was reached must not all be judged.
	key := att.Username
	if key == "" {
		key = att.Client
	}
	mu := &a.judging[fnv32(key)%uint32(len(a.judging))]
	mu.Lock()
	defer mu.Unlock()
	until, err := a.lockedUntil(ctx, "", att.Client, a.cfg.MaxClientFailures)
	if err == nil && until.IsZero() && (att.Kind == account.KindLogin || att.Kind == account.KindRecovery) {
		until, err = a.lockedUntil(ctx, att.Username, "", a.cfg.MaxFailures)
	}
	if err != nil {
		a.internal(w, "lockout check", err)
		return
	}
	if !until.IsZero() {
		a.forgetSession(ctx, att.SessionID)
		if err := a.cfg.Store.FinishAttempt(ctx, att.ID, att.UserID, account.OutcomeFailure, "locked", a.cfg.Now()); err != nil && presence.ErrorCodeOf(err) != presence.ErrConflict {
			a.internal(w, "recording an attempt", err)
			return
		}
		a.fail(w, r, http.StatusTooManyRequests, lockedScreen(until))
		return
	}
	v, err := a.api.session(ctx, att.SessionID)
	if err != nil {
		a.internal(w, "reading a verdict", err)
		return
	}
	switch v.Status {
	case "succeeded":
	case "expired":
		a.conclude(w, r, att, "", account.OutcomeAbandoned, screenFor("expired"))
		return
	case "failed":
		a.conclude(w, r, att, "", account.OutcomeAbandoned, screenFor("error"))
		return
	default:
		if !a.cfg.Now().Before(att.ExpiresAt) {
			a.conclude(w, r, att, "", account.OutcomeAbandoned, screenFor("expired"))
			return
		}
		a.fail(w, r, http.StatusConflict, screenFor("error"))
		return
	}
	a.cfg.Log.Info("face-login app: face check ended", "attempt", att.ID, "kind", att.Kind, "session", att.SessionID, "decision", v.Decision, "reasons", reasonCodes(v.Reasons), "match", v.Match != nil && v.Match.Match)
	if v.Decision != "realface" {
		a.conclude(w, r, att, att.UserID, account.OutcomeFailure, verdictScreen(v))
		return
	}
	switch att.Kind {
	case account.KindRegister:
		a.register(w, r, att)
	case account.KindRecovery:
		a.recover(w, r, att)
	case account.KindLogin:
		u, err := a.cfg.Store.User(ctx, att.UserID)
		if err != nil {
			a.conclude(w, r, att, "", account.OutcomeFailure, screenFor("unknown_user"))
			return
		}
		// The verdict must be about this user's subject, and match it.
		if v.SubjectID != u.SubjectID || v.Match == nil || !v.Match.Match {
			a.conclude(w, r, att, u.ID, account.OutcomeFailure, screenFor("no_match"))
			return
		}
		a.succeed(w, r, att, u)
	case account.KindFaceLogin:
		cands, err := a.api.identify(ctx, att.SessionID)
		if err != nil {
			a.internal(w, "identifying", err)
			return
		}
		// The best matching subject that is one of the app's users: the
		// deployment may hold the relying party's other subjects too.
		var u *account.User
		for _, c := range cands {
			if !c.Match || u != nil {
				break
			}
			u, err = a.cfg.Store.UserBySubject(ctx, c.SubjectID)
			if err != nil && presence.ErrorCodeOf(err) != presence.ErrNotFound {
				a.internal(w, "user lookup", err)
				return
			}
		}
		if u == nil {
			a.conclude(w, r, att, "", account.OutcomeFailure, screenFor("no_account"))
			return
		}
		a.succeed(w, r, att, u)
	}
}

// enrolNew enrols the attempt's live face under a new subject. A face
// already enrolled under another account of the app is refused whatever
// the server's duplicate policy (one person, one account); the account's
// own subject (own, in a recovery) is no obstacle. On failure it has
// answered and returns "" (the new subject removed); undo removes the
// subject if a later step fails.
func (a *App) enrolNew(w http.ResponseWriter, r *http.Request, att *account.Attempt, own string) (subject string, undo func()) {
	ctx := r.Context()
	subject = newID("app-")
	if err := a.api.createSubject(ctx, subject); err != nil {
		a.internal(w, "creating a subject", err)
		return "", nil
	}
	undo = func() {
		if err := a.api.deleteSubject(context.WithoutCancel(ctx), subject); err != nil {
			a.cfg.Log.Error("face-login app: removing a subject failed", "subject", subject, "err", err)
		}
	}
	enrolled, err := a.api.enrol(ctx, subject, att.SessionID)
	if codeOf(err) == "duplicate_face" {
		undo() // the server's policy refuses any duplicate
		a.conclude(w, r, att, att.UserID, account.OutcomeFailure, screenFor("duplicate_face"))
		return "", nil
	}
	if err != nil {
		undo()
		a.internal(w, "enrolling", err)
		return "", nil
	}
	for _, d := range enrolled.Duplicates {
		// Only another account of this app makes a duplicate here; the
		// deployment's other subjects are the relying party's business.
		if d.SubjectID == own {
			continue
		}
		if _, err := a.cfg.Store.UserBySubject(ctx, d.SubjectID); err == nil {
			undo()
			a.conclude(w, r, att, att.UserID, account.OutcomeFailure, screenFor("duplicate_face"))
			return "", nil
		}
	}
	return subject, undo
}

// register enrols the live face under a new subject and creates the user.
func (a *App) register(w http.ResponseWriter, r *http.Request, att *account.Attempt) {
	subject, undo := a.enrolNew(w, r, att, "")
	if subject == "" {
		return
	}
	u := &account.User{ID: newID("usr_"), Username: att.Username, SubjectID: subject, CreatedAt: a.cfg.Now()}
	if err := a.cfg.Store.CreateUser(r.Context(), u); err != nil {
		undo()
		if presence.ErrorCodeOf(err) == presence.ErrConflict {
			a.conclude(w, r, att, "", account.OutcomeFailure, screenFor("username_taken"))
			return
		}
		a.internal(w, "creating a user", err)
		return
	}
	a.succeed(w, r, att, u)
}

func (a *App) succeed(w http.ResponseWriter, r *http.Request, att *account.Attempt, u *account.User) {
	// With a second factor to come, the face check succeeded but the
	// login has not: such a success does not clear the username's count
	// of failures (account.ReasonFactorPending).
	_, secondFactor := a.hasTOTP(r.Context(), u.ID)
	reason := ""
	if secondFactor {
		reason = account.ReasonFactorPending
	}
	if err := a.cfg.Store.FinishAttempt(r.Context(), att.ID, u.ID, account.OutcomeSuccess, reason, a.cfg.Now()); err != nil {
		// A concurrent finish of the same attempt won: this one logs no one in.
		a.fail(w, r, http.StatusConflict, screenFor("session_used"))
		return
	}
	a.forgetSession(r.Context(), att.SessionID)
	if secondFactor {
		// The face is done; the account asks for its second factor too.
		next, err := a.askSecondFactor(w, r, u, a.cfg.Now())
		if err != nil {
			a.internal(w, "holding a login for its second factor", err)
			return
		}
		writeJSON(w, http.StatusOK, result{OK: true, Redirect: next})
		return
	}
	if err := a.logIn(w, r, u); err != nil {
		a.internal(w, "logging in", err)
		return
	}
	writeJSON(w, http.StatusOK, result{OK: true, Redirect: a.redirectAfterLogin(w, r)})
}

// conclude records a failed or abandoned attempt and shows its screen.
func (a *App) conclude(w http.ResponseWriter, r *http.Request, att *account.Attempt, userID, outcome string, s Screen) {
	if err := a.cfg.Store.FinishAttempt(r.Context(), att.ID, userID, outcome, s.Code, a.cfg.Now()); err != nil && presence.ErrorCodeOf(err) != presence.ErrConflict {
		a.internal(w, "recording an attempt", err)
		return
	}
	a.forgetSession(r.Context(), att.SessionID)
	status := http.StatusUnprocessableEntity
	if s.Code == "expired" {
		status = http.StatusGone
	}
	a.fail(w, r, status, s)
}

// forgetSession deletes a Presence session once its verdict is read: the
// app keeps no face data beyond the enrolled template.
func (a *App) forgetSession(ctx context.Context, id string) {
	if id == "" {
		return
	}
	if err := a.api.deleteSession(context.WithoutCancel(ctx), id); err != nil && codeOf(err) != "not_found" {
		a.cfg.Log.Warn("face-login app: deleting a session failed; retention removes it later", "session", id, "err", err)
	}
}

// abandon records a face check the browser could not run (no camera,
// permission refused, connection lost) and returns its screen. It is no
// failed login: nothing was shown to the server.
func (a *App) abandon(w http.ResponseWriter, r *http.Request) {
	att := a.ownAttempt(w, r)
	if att == nil {
		return
	}
	var req struct {
		State string `json:"state"`
	}
	json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req)
	code := req.State
	switch code {
	case "session_expired":
		code = "expired"
	case "permission_denied", "no_camera", "camera_in_use", "unsupported", "network_lost", "session_used", "cancelled":
	default:
		code = "error"
	}
	a.conclude(w, r, att, att.UserID, account.OutcomeAbandoned, screenFor(code))
}

// internal answers an error of the app's own: the page shows its own
// "error" screen in the person's language (app.js).
func (a *App) internal(w http.ResponseWriter, what string, err error) {
	a.cfg.Log.Error("face-login app: "+what+" failed", "err", err)
	s := screenFor("error")
	writeJSON(w, http.StatusInternalServerError, result{Screen: &s})
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func sameBytes(x, y []byte) bool { return len(x) == len(y) && string(x) == string(y) }

func reasonCodes(rs []reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}
