package accountsql

import (
	"context"
	"database/sql"
	"fmt"

	"presence/sqldb"
)

// Moved counts the rows MoveLegacy copied (rows already present are not
// counted).
type Moved struct {
	Users, Attempts, BrowserLogins int
}

// legacyTables are the app's tables in Presence's own database before the
// app had a store of its own (Presence's migration 5 renamed them), in the
// order they are copied: users before what refers to them.
var legacyTables = []struct {
	from, to, columns string
}{
	{"legacy_app_users", "users", "id, username, subject_id, created_at"},
	{"legacy_app_attempts", "attempts", "id, kind, username, user_id, client, browser, session_id, device, created_at, expires_at, finished_at, outcome, reason"},
	{"legacy_app_web_sessions", "browser_logins", "token_hash, user_id, device, created_at, expires_at"},
}

// MoveLegacy moves the app's records out of Presence's database at
// presenceDSN, where versions before the app had its own store kept them,
// into this store, then drops them there. The copy is one transaction and
// skips rows already present, so a move interrupted between the copy and
// the drop is finished by the next start without duplicating anything.
// A database without the old tables (a new install, or a move done
// before) is left alone.
func (s *DB) MoveLegacy(ctx context.Context, presenceDSN string) (Moved, error) {
	var moved Moved
	src, d, err := sqldb.Open(ctx, presenceDSN, sqldb.Options{})
	if err != nil {
		return moved, fmt.Errorf("accountsql: opening Presence's database to move the app's records: %w", err)
	}
	defer src.Close()
	if ok, err := sqldb.TableExists(ctx, src, d, legacyTables[0].from); err != nil || !ok {
		return moved, err
	}
	counts := []*int{&moved.Users, &moved.Attempts, &moved.BrowserLogins}
	err = sqldb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		for i, t := range legacyTables {
			n, err := s.copyRows(ctx, src, tx, t.from, t.to, t.columns)
			if err != nil {
				return fmt.Errorf("moving %s: %w", t.from, err)
			}
			*counts[i] = n
		}
		return nil
	})
	if err != nil {
		return moved, fmt.Errorf("accountsql: %w", err)
	}
	// Only once the copy is committed: the old tables go.
	for i := len(legacyTables) - 1; i >= 0; i-- {
		if _, err := src.ExecContext(ctx, `DROP TABLE IF EXISTS `+legacyTables[i].from); err != nil {
			return moved, fmt.Errorf("accountsql: records copied, but dropping %s failed (retried on the next start): %w", legacyTables[i].from, err)
		}
	}
	return moved, nil
}

// copyRows copies every row of table from in src to table to in tx.
func (s *DB) copyRows(ctx context.Context, src *sql.DB, tx *sql.Tx, from, to, columns string) (int, error) {
	rows, err := src.QueryContext(ctx, `SELECT `+columns+` FROM `+from)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	marks := "?"
	for range cols[1:] {
		marks += ", ?"
	}
	insert := s.q(`INSERT INTO ` + to + ` (` + columns + `) VALUES (` + marks + `) ON CONFLICT DO NOTHING`)
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		res, err := tx.ExecContext(ctx, insert, vals...)
		if err != nil {
			return n, err
		}
		if added, _ := res.RowsAffected(); added > 0 {
			n++
		}
	}
	return n, rows.Err()
}
