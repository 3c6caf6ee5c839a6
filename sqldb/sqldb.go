// Package sqldb opens the SQL databases of Presence and of its face-login
// app: one DSN syntax (a SQLite file path, or a postgres:// URL), embedded
// migrations applied in order, one transaction each, queries written once
// with ? placeholders, and driver errors turned into domain errors. Each
// store (sqlstore for Presence, accountsql for the app) keeps its own
// tables and migrations; this package holds only the plumbing they share.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"presence"
)

// Dialect is the SQL flavour of a database.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DialectOf tells which database a DSN names.
func DialectOf(dsn string) Dialect {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// Options adjust Open.
type Options struct {
	// Schema, on PostgreSQL, is the schema every connection works in
	// (created when missing); "" keeps the DSN's own search_path.
	Schema string
}

// Open opens dsn without migrating: a postgres:// or postgresql:// URL, or
// a SQLite file path (created with its folder, 0700, when missing).
func Open(ctx context.Context, dsn string, o Options) (*sql.DB, Dialect, error) {
	d := DialectOf(dsn)
	var db *sql.DB
	switch d {
	case Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, d, fmt.Errorf("postgres DSN: %w", err)
		}
		if o.Schema != "" {
			cfg.RuntimeParams["search_path"] = o.Schema
		}
		db = stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
	default:
		if dsn != ":memory:" {
			if err := privateFile(dsn); err != nil {
				return nil, d, err
			}
		}
		// WAL lets readers run beside the writer; immediate transactions
		// take the write lock up front so two writers wait (busy_timeout)
		// instead of failing on a lock upgrade. secure_delete overwrites
		// deleted content, so an erased face is not left readable in free
		// pages of the file.
		var err error
		db, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)&_txlock=immediate")
		if err != nil {
			return nil, d, err
		}
		db.SetMaxOpenConns(8)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, d, fmt.Errorf("%s unreachable: %w", d, err)
	}
	if d == Postgres && o.Schema != "" {
		if _, err := db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{o.Schema}.Sanitize()); err != nil {
			db.Close()
			return nil, d, fmt.Errorf("creating schema %s: %w", o.Schema, err)
		}
	}
	return db, d, nil
}

// privateFile makes sure a SQLite file and its folder are readable by the
// service's user alone (0600, 0700): they hold face templates and images.
// SQLite gives its -wal and -shm files the database file's mode.
func privateFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return os.Chmod(path, 0o600)
	}
	return nil
}

// Rebind adapts a query written with ? placeholders to the dialect.
func Rebind(d Dialect, query string) string {
	if d != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Migration is one embedded SQL file, NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the files of dir in fsys in version order.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		data, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies the pending migrations, each in its own transaction, and
// refuses a database whose schema is newer than all. On PostgreSQL the
// advisory lock lockID keeps nodes starting together from racing.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, all []Migration, lockID int64, now time.Time) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	var current int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return err
	}
	latest := 0
	if len(all) > 0 {
		latest = all[len(all)-1].Version
	}
	if current > latest {
		return fmt.Errorf("the database schema is at version %d but this presence knows versions up to %d: run a newer presence", current, latest)
	}
	for _, m := range all {
		if m.Version <= current {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, Rebind(d, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`), m.Version, now.UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// SchemaVersion is the newest applied migration.
func SchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// TableExists reports whether a table is visible in the database (on
// PostgreSQL, on the connection's search_path).
func TableExists(ctx context.Context, db *sql.DB, d Dialect, table string) (bool, error) {
	var n int
	var err error
	if d == Postgres {
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = $1 AND schemaname = ANY (current_schemas(false))`, table).Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
	}
	return n > 0, err
}

// Translate turns driver errors into domain errors: missing rows become
// not_found, unique violations conflict; anything else stays internal with
// the detail kept for the log.
func Translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return presence.Errorf(presence.ErrNotFound, "%s not found", what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return presence.WrapError(presence.ErrConflict, err, "%s already exists", what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return presence.WrapError(presence.ErrConflict, err, "%s already exists", what)
	}
	var de *presence.Error
	if errors.As(err, &de) {
		return err
	}
	return presence.WrapError(presence.ErrInternal, err, "storage error")
}

// InTx runs fn in a transaction, rolling back on error or panic.
func InTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Translate(err, "transaction")
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return Translate(tx.Commit(), "transaction")
}

// Millis stores a time as UTC milliseconds since the epoch.
func Millis(t time.Time) int64 { return t.UTC().UnixMilli() }

// FromMillis reads a time stored by Millis.
func FromMillis(v int64) time.Time { return time.UnixMilli(v).UTC() }

// OptMillis stores an optional time (NULL when nil).
func OptMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return Millis(*t)
}

// OptTime reads an optional time stored by OptMillis.
func OptTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := FromMillis(v.Int64)
	return &t
}
