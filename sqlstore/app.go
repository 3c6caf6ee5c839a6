package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"presence"
	"presence/webapp/account"
)

var _ account.Store = (*DB)(nil)

// CreateUser stores an app user; a taken username is a conflict.
func (s *DB) CreateUser(ctx context.Context, u *account.User) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO app_users (id, username, subject_id, created_at) VALUES (?, ?, ?, ?)`),
		u.ID, u.Username, u.SubjectID, millis(u.CreatedAt))
	return translate(err, "user "+u.Username)
}

func (s *DB) userWhere(ctx context.Context, column, value string) (*account.User, error) {
	var u account.User
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, username, subject_id, created_at FROM app_users WHERE `+column+` = ?`), value).
		Scan(&u.ID, &u.Username, &u.SubjectID, &created)
	if err != nil {
		return nil, translate(err, "user")
	}
	u.CreatedAt = fromMillis(created)
	return &u, nil
}

// UserByName finds a user by username.
func (s *DB) UserByName(ctx context.Context, username string) (*account.User, error) {
	return s.userWhere(ctx, "username", username)
}

// UserBySubject finds the user a Presence subject belongs to.
func (s *DB) UserBySubject(ctx context.Context, subjectID string) (*account.User, error) {
	return s.userWhere(ctx, "subject_id", subjectID)
}

// User finds a user by id.
func (s *DB) User(ctx context.Context, id string) (*account.User, error) {
	return s.userWhere(ctx, "id", id)
}

// DeleteUser removes a user, its attempts and browser sessions, returning
// the Presence sessions the attempts used (the caller erases those).
func (s *DB) DeleteUser(ctx context.Context, id string) ([]string, error) {
	var sessions []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var username string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT username FROM app_users WHERE id = ?`), id).Scan(&username); err != nil {
			return translate(err, "user")
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT session_id FROM app_attempts WHERE (user_id = ? OR username = ?) AND session_id <> ''`), id, username)
		if err != nil {
			return translate(err, "attempts")
		}
		for rows.Next() {
			var sid string
			if err := rows.Scan(&sid); err != nil {
				rows.Close()
				return translate(err, "attempts")
			}
			sessions = append(sessions, sid)
		}
		rows.Close()
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM app_attempts WHERE user_id = ? OR username = ?`), id, username); err != nil {
			return translate(err, "attempts")
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM app_web_sessions WHERE user_id = ?`), id); err != nil {
			return translate(err, "browser sessions")
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM app_users WHERE id = ?`), id); err != nil {
			return translate(err, "user")
		}
		return nil
	})
	return sessions, err
}

// CreateAttempt stores a started attempt.
func (s *DB) CreateAttempt(ctx context.Context, a *account.Attempt) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO app_attempts
		(id, kind, username, user_id, client, browser, session_id, device, created_at, expires_at, finished_at, outcome, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.Kind, a.Username, a.UserID, a.Client, a.Browser, a.SessionID, a.Device,
		millis(a.CreatedAt), millis(a.ExpiresAt), optMillis(a.FinishedAt), a.Outcome, a.Reason)
	return translate(err, "attempt "+a.ID)
}

const attemptColumns = `id, kind, username, user_id, client, browser, session_id, device, created_at, expires_at, finished_at, outcome, reason`

func scanAttempt(row scanner) (*account.Attempt, error) {
	var a account.Attempt
	var created, expires int64
	var finished sql.NullInt64
	if err := row.Scan(&a.ID, &a.Kind, &a.Username, &a.UserID, &a.Client, &a.Browser, &a.SessionID, &a.Device,
		&created, &expires, &finished, &a.Outcome, &a.Reason); err != nil {
		return nil, err
	}
	a.CreatedAt, a.ExpiresAt, a.FinishedAt = fromMillis(created), fromMillis(expires), optTime(finished)
	return &a, nil
}

// Attempt returns an attempt.
func (s *DB) Attempt(ctx context.Context, id string) (*account.Attempt, error) {
	a, err := scanAttempt(s.db.QueryRowContext(ctx, s.q(`SELECT `+attemptColumns+` FROM app_attempts WHERE id = ?`), id))
	return a, translate(err, "attempt")
}

// FinishAttempt records an outcome, once.
func (s *DB) FinishAttempt(ctx context.Context, id, userID, outcome, reason string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE app_attempts SET user_id = CASE WHEN ? = '' THEN user_id ELSE ? END,
		outcome = ?, reason = ?, finished_at = ? WHERE id = ? AND finished_at IS NULL`),
		userID, userID, outcome, reason, millis(at), id)
	if err != nil {
		return translate(err, "attempt")
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.Attempt(ctx, id); err != nil {
		return err
	}
	return presence.Errorf(presence.ErrConflict, "this attempt is already finished")
}

// RecentFailures lists failure times of a username (or a client) since a
// time and since its last success, newest first.
func (s *DB) RecentFailures(ctx context.Context, username, client string, since time.Time, limit int) ([]time.Time, error) {
	column, value := "username", username
	if username == "" {
		column, value = "client", client
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT finished_at FROM app_attempts
		WHERE `+column+` = ? AND outcome = 'failure' AND finished_at > ?
		AND finished_at > COALESCE((SELECT MAX(finished_at) FROM app_attempts WHERE `+column+` = ? AND outcome = 'success'), 0)
		ORDER BY finished_at DESC LIMIT ?`), value, millis(since), value, limit)
	if err != nil {
		return nil, translate(err, "attempts")
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, translate(err, "attempts")
		}
		out = append(out, fromMillis(at))
	}
	return out, translate(rows.Err(), "attempts")
}

// History returns a user's finished attempts, newest first.
func (s *DB) History(ctx context.Context, userID string, limit int) ([]account.Attempt, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+attemptColumns+` FROM app_attempts
		WHERE user_id = ? AND finished_at IS NOT NULL ORDER BY finished_at DESC, id LIMIT ?`), userID, limit)
	if err != nil {
		return nil, translate(err, "history")
	}
	defer rows.Close()
	var out []account.Attempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, translate(err, "history")
		}
		out = append(out, *a)
	}
	return out, translate(rows.Err(), "history")
}

// CreateWebSession stores a logged-in browser.
func (s *DB) CreateWebSession(ctx context.Context, w *account.WebSession) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO app_web_sessions (token_hash, user_id, device, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		w.TokenHash, w.UserID, w.Device, millis(w.CreatedAt), millis(w.ExpiresAt))
	return translate(err, "browser session")
}

// WebSession finds a logged-in browser by its cookie hash.
func (s *DB) WebSession(ctx context.Context, tokenHash []byte) (*account.WebSession, error) {
	var w account.WebSession
	var created, expires int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT token_hash, user_id, device, created_at, expires_at FROM app_web_sessions WHERE token_hash = ?`), tokenHash).
		Scan(&w.TokenHash, &w.UserID, &w.Device, &created, &expires)
	if err != nil {
		return nil, translate(err, "browser session")
	}
	w.CreatedAt, w.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &w, nil
}

// DeleteWebSession logs a browser out.
func (s *DB) DeleteWebSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM app_web_sessions WHERE token_hash = ?`), tokenHash)
	return translate(err, "browser session")
}

// PurgeAttempts applies the retention to the app's records.
func (s *DB) PurgeAttempts(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM app_attempts WHERE created_at < ?`), millis(before))
		if err != nil {
			return translate(err, "attempts")
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM app_web_sessions WHERE expires_at < ?`), millis(before))
		return translate(err, "browser sessions")
	})
	return int(n), err
}
