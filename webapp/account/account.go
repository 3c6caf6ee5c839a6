// Package account holds the face-login app's own records: its users, their
// login attempts (the history and the lockout both read them) and logged-in
// browsers. The app is a relying party of Presence; these tables are what
// any relying party keeps on its side of the API.
package account

import (
	"context"
	"time"
)

// User is an account of the face-login app.
type User struct {
	ID       string
	Username string
	// SubjectID is the Presence subject holding the user's face.
	SubjectID string
	CreatedAt time.Time
}

// Kinds of attempt.
const (
	KindRegister  = "register"
	KindLogin     = "login"
	KindFaceLogin = "face_login"
)

// Outcomes of an attempt. Only failures count towards a lockout: an
// abandoned attempt (the camera never started) proved nothing either way.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeAbandoned = "abandoned"
)

// Attempt is one registration or login, from its start to its outcome.
type Attempt struct {
	ID       string
	Kind     string
	Username string
	// UserID is set once the attempt is known to concern a user.
	UserID string
	// Client is the address the attempt came from; Browser is the hash of
	// the browser's anti-forgery cookie, which the attempt is bound to.
	Client  string
	Browser []byte
	// SessionID is the Presence session of the face check ("" when the
	// attempt failed before one was started, e.g. an unknown user).
	SessionID  string
	Device     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	FinishedAt *time.Time
	Outcome    string
	Reason     string
}

// BrowserLogin is a logged-in browser, found by the hash of its cookie.
type BrowserLogin struct {
	TokenHash []byte
	UserID    string
	Device    string
	// AMR says how the person logged in (face, liveness; otp, mfa).
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Store keeps the app's records. Errors use presence error codes:
// not_found, and conflict for a taken username or a finished attempt.
type Store interface {
	CreateUser(ctx context.Context, u *User) error
	UserByName(ctx context.Context, username string) (*User, error)
	UserBySubject(ctx context.Context, subjectID string) (*User, error)
	User(ctx context.Context, id string) (*User, error)
	// DeleteUser removes the user with its attempts and browser sessions
	// and returns the Presence sessions its attempts used.
	DeleteUser(ctx context.Context, id string) (sessionIDs []string, err error)

	CreateAttempt(ctx context.Context, a *Attempt) error
	Attempt(ctx context.Context, id string) (*Attempt, error)
	// FinishAttempt records the outcome once; a second finish is a
	// conflict, so one face check never logs in twice.
	FinishAttempt(ctx context.Context, id, userID, outcome, reason string, at time.Time) error
	// RecentFailures returns the times of the latest failures (newest
	// first, at most limit) of a username, or of a client when username is
	// "", since the given time.
	// A user's success clears the user's count; nothing clears a
	// client's.
	RecentFailures(ctx context.Context, username, client string, since time.Time, limit int) ([]time.Time, error)
	// AttemptsSince counts the attempts a client started since a time.
	AttemptsSince(ctx context.Context, client string, since time.Time) (int, error)
	// History returns a user's finished attempts, newest first.
	History(ctx context.Context, userID string, limit int) ([]Attempt, error)
	// PurgeAttempts deletes attempts started before a time, and expired
	// browser sessions.
	PurgeAttempts(ctx context.Context, before time.Time) (int, error)

	CreateBrowserLogin(ctx context.Context, s *BrowserLogin) error
	BrowserLogin(ctx context.Context, tokenHash []byte) (*BrowserLogin, error)
	DeleteBrowserLogin(ctx context.Context, tokenHash []byte) error

	FactorStore
}
