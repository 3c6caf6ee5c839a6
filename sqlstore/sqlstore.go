// Package sqlstore keeps Presence's state in SQL: a single SQLite file by
// default (no configuration), or PostgreSQL for several nodes. Both run the
// same queries and the same test suite; migrations are embedded per
// dialect with the same version numbers and applied on start.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"presence"
	"presence/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Dialect is the SQL flavour of a store.
type Dialect = sqldb.Dialect

// Supported dialects.
const (
	SQLite   = sqldb.SQLite
	Postgres = sqldb.Postgres
)

// DB is a Store on SQLite or PostgreSQL.
type DB struct {
	db      *sql.DB
	dialect Dialect
	// Now stamps rows where the caller gives no time (tests inject it).
	Now func() time.Time
}

var _ presence.Store = (*DB)(nil)

// migrationLock is the PostgreSQL advisory lock of Presence's migrations.
const migrationLock = 0x70726573 // "pres"

// Open opens dsn: a postgres:// or postgresql:// URL, or a SQLite file path
// (created with its folder when missing). It applies pending migrations and
// refuses a database whose schema is newer than this binary.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, d, err := sqldb.Open(ctx, dsn, sqldb.Options{})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	s := &DB{db: db, dialect: d, Now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies pending migrations.
func (s *DB) migrate(ctx context.Context) error {
	all, err := Migrations(s.dialect)
	if err == nil {
		err = sqldb.Migrate(ctx, s.db, s.dialect, all, migrationLock, s.Now())
	}
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// Dialect of the store.
func (s *DB) Dialect() Dialect { return s.dialect }

// Ping checks the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// q adapts a query written with ? placeholders to the dialect.
func (s *DB) q(query string) string { return sqldb.Rebind(s.dialect, query) }

// Migrations lists the embedded migrations of a dialect in order.
func Migrations(d Dialect) ([]sqldb.Migration, error) {
	return sqldb.Migrations(migrations, "migrations/"+string(d))
}

// SchemaVersion is the newest applied migration.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) { return sqldb.SchemaVersion(ctx, s.db) }

var translate = sqldb.Translate

var (
	millis     = sqldb.Millis
	fromMillis = sqldb.FromMillis
	optTime    = sqldb.OptTime
)

// inTx runs fn in a transaction, rolling back on error or panic.
func (s *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return sqldb.InTx(ctx, s.db, fn)
}
