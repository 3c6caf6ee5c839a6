package accountsql

import (
	"context"
	"database/sql"
	"time"

	"presence"
	"presence/sqldb"
	"presence/webapp/account"
)

var _ account.FactorStore = (*DB)(nil)

// SetTOTP replaces the user's authenticator with an unconfirmed one.
func (s *DB) SetTOTP(ctx context.Context, t *account.TOTP) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO totp (user_id, secret, confirmed_at, last_step, created_at) VALUES (?, ?, NULL, 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, confirmed_at = NULL, last_step = 0, created_at = excluded.created_at`),
		t.UserID, t.Secret, millis(t.CreatedAt))
	return translate(err, "authenticator")
}

// TOTP returns the user's authenticator.
func (s *DB) TOTP(ctx context.Context, userID string) (*account.TOTP, error) {
	var t account.TOTP
	var confirmed sql.NullInt64
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT user_id, secret, confirmed_at, last_step, created_at FROM totp WHERE user_id = ?`), userID).
		Scan(&t.UserID, &t.Secret, &confirmed, &t.LastStep, &created)
	if err != nil {
		return nil, translate(err, "authenticator")
	}
	t.ConfirmedAt, t.CreatedAt = optTime(confirmed), fromMillis(created)
	return &t, nil
}

// ConfirmTOTP marks the authenticator confirmed.
func (s *DB) ConfirmTOTP(ctx context.Context, userID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE totp SET confirmed_at = ? WHERE user_id = ?`), millis(at), userID)
	return translate(err, "authenticator")
}

// UseTOTPStep accepts a time step once.
func (s *DB) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE totp SET last_step = ? WHERE user_id = ? AND last_step < ?`), step, userID, step)
	if err != nil {
		return translate(err, "authenticator")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return presence.Errorf(presence.ErrConflict, "that code was already used")
	}
	return nil
}

// DeleteTOTP removes the user's authenticator.
func (s *DB) DeleteTOTP(ctx context.Context, userID string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM totp WHERE user_id = ?`), userID)
	return translate(err, "authenticator")
}

// SetRecoveryCodes replaces the user's recovery codes.
func (s *DB) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error {
	return sqldb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM recovery_codes WHERE user_id = ?`), userID); err != nil {
			return translate(err, "recovery codes")
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)`), userID, h, millis(at)); err != nil {
				return translate(err, "recovery code")
			}
		}
		return nil
	})
}

// UseRecoveryCode spends a code, once.
func (s *DB) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`), millis(at), userID, hash)
	if err != nil {
		return translate(err, "recovery code")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return presence.Errorf(presence.ErrNotFound, "no such unused recovery code")
	}
	return nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *DB) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`), userID).Scan(&n)
	return n, translate(err, "recovery codes")
}

// CreatePendingLogin stores a face login waiting for its second factor.
func (s *DB) CreatePendingLogin(ctx context.Context, p *account.PendingLogin) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO pending_logins (token_hash, user_id, browser, auth_time, expires_at) VALUES (?, ?, ?, ?, ?)`),
		p.TokenHash, p.UserID, p.Browser, millis(p.AuthTime), millis(p.ExpiresAt))
	return translate(err, "pending login")
}

// PendingLogin returns a pending login by its cookie hash.
func (s *DB) PendingLogin(ctx context.Context, tokenHash []byte) (*account.PendingLogin, error) {
	var p account.PendingLogin
	var auth, expires int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT token_hash, user_id, browser, auth_time, expires_at FROM pending_logins WHERE token_hash = ?`), tokenHash).
		Scan(&p.TokenHash, &p.UserID, &p.Browser, &auth, &expires)
	if err != nil {
		return nil, translate(err, "pending login")
	}
	p.AuthTime, p.ExpiresAt = fromMillis(auth), fromMillis(expires)
	return &p, nil
}

// DeletePendingLogin removes a pending login.
func (s *DB) DeletePendingLogin(ctx context.Context, tokenHash []byte) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM pending_logins WHERE token_hash = ?`), tokenHash)
	return translate(err, "pending login")
}

// UpdateUserSubject points a user at another Presence subject.
func (s *DB) UpdateUserSubject(ctx context.Context, userID, subjectID string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET subject_id = ? WHERE id = ?`), subjectID, userID)
	if err != nil {
		return translate(err, "user")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return presence.Errorf(presence.ErrNotFound, "user not found")
	}
	return nil
}
