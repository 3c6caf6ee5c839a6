package account

import (
	"context"
	"time"
)

// Kinds of attempt of the second factor and recovery: their failures
// count towards the username's lockout like failed face logins.
const (
	KindSecondFactor = "second_factor"
	KindRecovery     = "recovery"
)

// ReasonFactorPending marks a face check that succeeded for an account
// with a second factor: the login is not done, and such a success does
// not clear the username's failures.
const ReasonFactorPending = "second_factor_pending"

// Authentication methods of a login (RFC 8176 where it has them).
const (
	AMRFace     = "face"
	AMRLiveness = "liveness" // the face was judged live by Presence
	AMROTP      = "otp"
	AMRMFA      = "mfa"
	// AMRRecovery: a recovery code stood for the second factor.
	AMRRecovery = "recovery"
)

// TOTP is a user's authenticator (RFC 6238).
type TOTP struct {
	UserID string
	Secret []byte
	// ConfirmedAt is nil until the person typed a code from it.
	ConfirmedAt *time.Time
	// LastStep is the newest time step a code was accepted for: a code is
	// good once.
	LastStep  int64
	CreatedAt time.Time
}

// PendingLogin is a face login waiting for its second factor, bound to
// the browser that made it.
type PendingLogin struct {
	TokenHash []byte
	UserID    string
	Browser   []byte
	AuthTime  time.Time
	ExpiresAt time.Time
}

// FactorStore keeps second factors and recovery codes.
type FactorStore interface {
	// SetTOTP replaces the user's authenticator (unconfirmed).
	SetTOTP(ctx context.Context, t *TOTP) error
	TOTP(ctx context.Context, userID string) (*TOTP, error)
	ConfirmTOTP(ctx context.Context, userID string, at time.Time) error
	// UseTOTPStep records a code's time step if it is newer than the
	// last one accepted (conflict otherwise: a code replayed).
	UseTOTPStep(ctx context.Context, userID string, step int64) error
	DeleteTOTP(ctx context.Context, userID string) error

	// SetRecoveryCodes replaces the user's recovery codes (hashes).
	SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error
	// UseRecoveryCode spends a code once (not_found if unknown or spent).
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)

	CreatePendingLogin(ctx context.Context, p *PendingLogin) error
	PendingLogin(ctx context.Context, tokenHash []byte) (*PendingLogin, error)
	DeletePendingLogin(ctx context.Context, tokenHash []byte) error

	// UpdateUserSubject points the user at a new Presence subject (after
	// a recovery re-enrolled the face).
	UpdateUserSubject(ctx context.Context, userID, subjectID string) error
}
