package accountsql

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"presence/presencetest"
	"presence/sqldb"
	"presence/sqlstore"
	"presence/webapp/account"
)

// oldInstall makes Presence's database as the versions before the app had
// its own store left it: Presence's migrations 1-4, with the app's users,
// attempts and browser sessions in it, written as that code wrote them.
func oldInstall(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	db, d, err := sqldb.Open(ctx, dsn, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := sqlstore.Migrations(d)
	if err != nil || len(all) < 5 || all[3].Version != 4 {
		t.Fatalf("migrations: %v", err)
	}
	if err := sqldb.Migrate(ctx, db, d, all[:4], 1, t0); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, sqldb.Rebind(d, q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i, name := range []string{"alice", "bob"} {
		exec(`INSERT INTO app_users (id, username, subject_id, created_at) VALUES (?, ?, ?, ?)`, "u"+name, name, "app-"+name, sqldb.Millis(t0.Add(time.Duration(i)*time.Hour)))
	}
	for i := range 4 {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		outcome := account.OutcomeSuccess
		if i%2 == 1 {
			outcome = account.OutcomeFailure
		}
		exec(`INSERT INTO app_attempts (id, kind, username, user_id, client, browser, session_id, device, created_at, expires_at, finished_at, outcome, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			"att"+string(rune('a'+i)), account.KindLogin, "alice", "ualice", "10.0.0.1", []byte{byte(i)}, "ses_"+string(rune('a'+i)), "Chrome on Linux",
			sqldb.Millis(at), sqldb.Millis(at.Add(2*time.Minute)), sqldb.Millis(at.Add(time.Second)), outcome, "")
	}
	exec(`INSERT INTO app_attempts (id, kind, username, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`, "unfinished", account.KindRegister, "carol", sqldb.Millis(t0), sqldb.Millis(t0.Add(time.Minute)))
	exec(`INSERT INTO app_web_sessions (token_hash, user_id, device, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`, hash("cookie"), "ualice", "Firefox", sqldb.Millis(t0), sqldb.Millis(t0.Add(12*time.Hour)))
}

func TestUpgradeMovesTheAppsRecordsOutOfPresence(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			presenceDSN := filepath.Join(t.TempDir(), "presence.db")
			appDSN := filepath.Join(t.TempDir(), "app.db")
			if pg {
				// One PostgreSQL database: Presence in its schema, the
				// app in presence_app.
				presenceDSN = presencetest.Postgres(t)
				appDSN = presenceDSN
			}
			oldInstall(t, presenceDSN)

			// The upgrade: Presence starts (migration 5), then the app.
			p, err := sqlstore.Open(ctx, presenceDSN)
			if err != nil {
				t.Fatal(err)
			}
			p.Close()
			s, err := Open(ctx, appDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			moved, err := s.MoveLegacy(ctx, presenceDSN)
			if err != nil || moved != (Moved{Users: 2, Attempts: 5, BrowserLogins: 1}) {
				t.Fatalf("moved %+v, %v", moved, err)
			}

			// Everything reads back through the app's store.
			u, err := s.UserByName(ctx, "alice")
			if err != nil || u.SubjectID != "app-alice" || !u.CreatedAt.Equal(t0) {
				t.Fatalf("alice: %+v %v", u, err)
			}
			if b, err := s.UserBySubject(ctx, "app-bob"); err != nil || b.Username != "bob" {
				t.Fatalf("bob: %+v %v", b, err)
			}
			hist, err := s.History(ctx, "ualice", 10)
			if err != nil || len(hist) != 4 || hist[0].ID != "attd" || hist[0].Device != "Chrome on Linux" || hist[0].FinishedAt == nil || len(hist[3].Browser) != 1 {
				t.Fatalf("history: %+v %v", hist, err)
			}
			if fails, err := s.RecentFailures(ctx, "alice", "", t0, 10); err != nil || len(fails) != 1 {
				t.Fatalf("failures after the last success: %v %v", fails, err)
			}
			if a, err := s.Attempt(ctx, "unfinished"); err != nil || a.FinishedAt != nil || a.Username != "carol" {
				t.Fatalf("unfinished attempt: %+v %v", a, err)
			}
			if w, err := s.BrowserLogin(ctx, hash("cookie")); err != nil || w.UserID != "ualice" {
				t.Fatalf("logged-in browser: %+v %v", w, err)
			}

			// The old tables are gone from Presence's database, and a
			// second start moves nothing.
			db, d, err := sqldb.Open(ctx, presenceDSN, sqldb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, table := range []string{"legacy_app_users", "legacy_app_attempts", "legacy_app_web_sessions", "app_users"} {
				if ok, err := sqldb.TableExists(ctx, db, d, table); ok || err != nil {
					t.Errorf("%s still in Presence's database (%v)", table, err)
				}
			}
			if moved, err := s.MoveLegacy(ctx, presenceDSN); err != nil || moved != (Moved{}) {
				t.Fatalf("second start: %+v %v", moved, err)
			}

			// A move cut off between the copy and the drop: the next
			// start finds the rows already there and adds none twice.
			recreate(t, db, d)
			if moved, err := s.MoveLegacy(ctx, presenceDSN); err != nil || moved != (Moved{}) {
				t.Fatalf("interrupted move, restarted: %+v %v", moved, err)
			}
			if hist, _ := s.History(ctx, "ualice", 10); len(hist) != 4 {
				t.Fatalf("history after the restarted move: %d", len(hist))
			}
		})
	}
}

// recreate puts back one legacy row set the app already holds, as a crash
// after the copy's commit and before the drop would leave it.
func recreate(t *testing.T, db *sql.DB, d sqldb.Dialect) {
	t.Helper()
	blob := "BLOB"
	if d == sqldb.Postgres {
		blob = "BYTEA"
	}
	for _, q := range []string{
		`CREATE TABLE legacy_app_users (id TEXT PRIMARY KEY, username TEXT, subject_id TEXT, created_at BIGINT)`,
		`CREATE TABLE legacy_app_attempts (id TEXT PRIMARY KEY, kind TEXT, username TEXT, user_id TEXT, client TEXT, browser ` + blob + `, session_id TEXT, device TEXT, created_at BIGINT, expires_at BIGINT, finished_at BIGINT, outcome TEXT, reason TEXT)`,
		`CREATE TABLE legacy_app_web_sessions (token_hash ` + blob + ` PRIMARY KEY, user_id TEXT, device TEXT, created_at BIGINT, expires_at BIGINT)`,
		`INSERT INTO legacy_app_users VALUES ('ualice', 'alice', 'app-alice', 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
