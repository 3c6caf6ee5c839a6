// Package accountsql keeps the face-login app's records (package account)
// in a database of the app's own: by default a SQLite file beside
// Presence's, or a schema of its own on PostgreSQL. The app is a relying
// party of Presence and shares nothing with Presence's store but the SQL
// plumbing of package sqldb.
package accountsql

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
	"time"

	"presence"
	"presence/sqldb"
	"presence/webapp/account"
)

//go:embed migrations
var migrations embed.FS

// Schema is the PostgreSQL schema of the app's tables.
const Schema = "presence_app"

// migrationLock is the PostgreSQL advisory lock of the app's migrations.
const migrationLock = 0x61636374 // "acct"

// DB is an account.Store on SQLite or PostgreSQL.
type DB struct {
	db      *sql.DB
	dialect sqldb.Dialect
}

var _ account.Store = (*DB)(nil)

// Open opens the app's store at dsn (a SQLite path or a postgres:// URL,
// whose tables then live in schema presence_app) and applies its
// migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, d, err := sqldb.Open(ctx, dsn, sqldb.Options{Schema: Schema})
	if err != nil {
		return nil, fmt.Errorf("accountsql: %w", err)
	}
	all, err := sqldb.Migrations(migrations, "migrations/"+string(d))
	if err == nil {
		err = sqldb.Migrate(ctx, db, d, all, migrationLock, time.Now())
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("accountsql: %w", err)
	}
	return &DB{db: db, dialect: d}, nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

func (s *DB) q(query string) string { return sqldb.Rebind(s.dialect, query) }

var (
	translate  = sqldb.Translate
	millis     = sqldb.Millis
	fromMillis = sqldb.FromMillis
	optMillis  = sqldb.OptMillis
	optTime    = sqldb.OptTime
)

type scanner interface{ Scan(...any) error }

// CreateUser stores an app user; a taken username is a conflict.
func (s *DB) CreateUser(ctx context.Context, u *account.User) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO users (id, username, subject_id, created_at) VALUES (?, ?, ?, ?)`),
		u.ID, u.Username, u.SubjectID, millis(u.CreatedAt))
	return translate(err, "user "+u.Username)
}

func (s *DB) userWhere(ctx context.Context, column, value string) (*account.User, error) {
	var u account.User
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, username, subject_id, created_at FROM users WHERE `+column+` = ?`), value).
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
	err := sqldb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var username string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT username FROM users WHERE id = ?`), id).Scan(&username); err != nil {
			return translate(err, "user")
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT session_id FROM attempts WHERE (user_id = ? OR username = ?) AND session_id <> ''`), id, username)
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
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM attempts WHERE user_id = ? OR username = ?`), id, username); err != nil {
			return translate(err, "attempts")
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM browser_logins WHERE user_id = ?`), id); err != nil {
			return translate(err, "browser sessions")
		}
		for _, table := range []string{"oidc_codes", "oidc_tokens", "oidc_consents", "totp", "recovery_codes", "pending_logins"} {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE user_id = ?`), id); err != nil {
				return translate(err, table)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id); err != nil {
			return translate(err, "user")
		}
		return nil
	})
	return sessions, err
}

// AttemptsSince counts the attempts an address started since a time.
func (s *DB) AttemptsSince(ctx context.Context, client string, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM attempts WHERE client = ? AND created_at >= ?`), client, millis(since)).Scan(&n)
	return n, translate(err, "attempts")
}

// CreateAttempt stores a started attempt.
func (s *DB) CreateAttempt(ctx context.Context, a *account.Attempt) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO attempts
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
	a, err := scanAttempt(s.db.QueryRowContext(ctx, s.q(`SELECT `+attemptColumns+` FROM attempts WHERE id = ?`), id))
	return a, translate(err, "attempt")
}

// FinishAttempt records an outcome, once.
func (s *DB) FinishAttempt(ctx context.Context, id, userID, outcome, reason string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE attempts SET user_id = CASE WHEN ? = '' THEN user_id ELSE ? END,
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
	var rows *sql.Rows
	var err error
	if username != "" {
		// A user's own success clears their count: they proved who they
		// are.
		rows, err = s.db.QueryContext(ctx, s.q(`SELECT finished_at FROM attempts
			WHERE username = ? AND outcome = 'failure' AND finished_at > ?
			AND finished_at > COALESCE((SELECT MAX(finished_at) FROM attempts WHERE username = ? AND outcome = 'success' AND reason <> 'second_factor_pending'), 0)
			ORDER BY finished_at DESC LIMIT ?`), username, millis(since), username, limit)
	} else {
		// An address's count is not cleared by a success: one account of
		// the guesser's own would otherwise reset their guessing.
		rows, err = s.db.QueryContext(ctx, s.q(`SELECT finished_at FROM attempts
			WHERE client = ? AND outcome = 'failure' AND finished_at > ?
			ORDER BY finished_at DESC LIMIT ?`), client, millis(since), limit)
	}
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
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+attemptColumns+` FROM attempts
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

// CreateBrowserLogin stores a logged-in browser.
func (s *DB) CreateBrowserLogin(ctx context.Context, w *account.BrowserLogin) error {
	amr := strings.Join(w.AMR, " ")
	if amr == "" {
		amr = account.AMRFace + " " + account.AMRLiveness
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO browser_logins (token_hash, user_id, device, created_at, expires_at, amr) VALUES (?, ?, ?, ?, ?, ?)`),
		w.TokenHash, w.UserID, w.Device, millis(w.CreatedAt), millis(w.ExpiresAt), amr)
	return translate(err, "browser session")
}

// BrowserLogin finds a logged-in browser by its cookie hash.
func (s *DB) BrowserLogin(ctx context.Context, tokenHash []byte) (*account.BrowserLogin, error) {
	var w account.BrowserLogin
	var created, expires int64
	var amr string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT token_hash, user_id, device, created_at, expires_at, amr FROM browser_logins WHERE token_hash = ?`), tokenHash).
		Scan(&w.TokenHash, &w.UserID, &w.Device, &created, &expires, &amr)
	if err != nil {
		return nil, translate(err, "browser session")
	}
	w.CreatedAt, w.ExpiresAt, w.AMR = fromMillis(created), fromMillis(expires), strings.Fields(amr)
	return &w, nil
}

// DeleteBrowserLogin logs a browser out.
func (s *DB) DeleteBrowserLogin(ctx context.Context, tokenHash []byte) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM browser_logins WHERE token_hash = ?`), tokenHash)
	return translate(err, "browser session")
}

// PurgeAttempts applies the retention to the app's records.
func (s *DB) PurgeAttempts(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := sqldb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM attempts WHERE created_at < ?`), millis(before))
		if err != nil {
			return translate(err, "attempts")
		}
		n, _ = res.RowsAffected()
		if _, err = tx.ExecContext(ctx, s.q(`DELETE FROM pending_logins WHERE expires_at < ?`), millis(before)); err != nil {
			return translate(err, "pending logins")
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM browser_logins WHERE expires_at < ?`), millis(before))
		return translate(err, "browser sessions")
	})
	return int(n), err
}
