// Package sqlstore keeps Presence's state in SQL: a single SQLite file by
// default (no configuration), or PostgreSQL for several nodes. Both run the
// same queries and the same test suite; migrations are embedded per
// dialect with the same version numbers and applied on start.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"presence"
)

//go:embed migrations
var migrations embed.FS

// Dialect is the SQL flavour of a store.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a Store on SQLite or PostgreSQL.
type DB struct {
	db      *sql.DB
	dialect Dialect
	// Now stamps rows where the caller gives no time (tests inject it).
	Now func() time.Time
}

var _ presence.Store = (*DB)(nil)

// Open opens dsn: a postgres:// or postgresql:// URL, or a SQLite file path
// (created with its folder when missing). It applies pending migrations and
// refuses a database whose schema is newer than this binary.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var db *sql.DB
	var d Dialect
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		d = Postgres
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SetMaxOpenConns(16)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	} else {
		d = SQLite
		if dsn != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
				return nil, fmt.Errorf("sqlstore: %w", err)
			}
		}
		// WAL lets readers run beside the writer; immediate transactions
		// take the write lock up front so two writers wait (busy_timeout)
		// instead of failing on a lock upgrade.
		db, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err == nil {
			db.SetMaxOpenConns(8)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	s := &DB{db: db, dialect: d, Now: time.Now}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: %s unreachable: %w", d, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Dialect of the store.
func (s *DB) Dialect() Dialect { return s.dialect }

// Ping checks the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// q adapts a query written with ? placeholders to the dialect.
func (s *DB) q(query string) string {
	if s.dialect != Postgres {
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

// migration is one embedded SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// Migrations lists the embedded migrations of a dialect in order.
func Migrations(d Dialect) ([]migration, error) {
	dir := "migrations/" + string(d)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("sqlstore: migration %s: name must be NNNN_name.sql", e.Name())
		}
		data, err := fs.ReadFile(migrations, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies pending migrations, each in its own transaction. On
// PostgreSQL an advisory lock keeps nodes starting together from racing.
func (s *DB) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		const lockID = 0x70726573 // "pres"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
			return fmt.Errorf("sqlstore: migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	var current int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	all, err := Migrations(s.dialect)
	if err != nil {
		return err
	}
	latest := 0
	if len(all) > 0 {
		latest = all[len(all)-1].version
	}
	if current > latest {
		return fmt.Errorf("sqlstore: the database schema is at version %d but this presence knows versions up to %d: run a newer presence", current, latest)
	}
	for _, m := range all {
		if m.version <= current {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`), m.version, s.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersion is the newest applied migration.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// translate turns driver errors into domain errors: missing rows become
// not_found, unique violations conflict; anything else stays internal with
// the detail kept for the log.
func translate(err error, what string) error {
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

func millis(t time.Time) int64 { return t.UTC().UnixMilli() }

func fromMillis(v int64) time.Time { return time.UnixMilli(v).UTC() }

func optMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return millis(*t)
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMillis(v.Int64)
	return &t
}

// inTx runs fn in a transaction, rolling back on error or panic.
func (s *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return translate(err, "transaction")
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
	return translate(tx.Commit(), "transaction")
}
