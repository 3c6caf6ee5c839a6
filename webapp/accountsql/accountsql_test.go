package accountsql

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"presence"
	"presence/presencetest"
	"presence/webapp/account"
)

func TestMain(m *testing.M) {
	code := m.Run()
	presencetest.StopPostgres()
	os.Exit(code)
}

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func code(err error) presence.ErrorCode {
	if err == nil {
		return ""
	}
	return presence.ErrorCodeOf(err)
}

// eachStore runs a test on a fresh SQLite file and a fresh PostgreSQL
// database: one suite, both dialects. dsn is the database the store was
// opened on.
func eachStore(t *testing.T, fn func(t *testing.T, s *DB, dsn string)) {
	t.Helper()
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "app.db")
			if pg {
				dsn = presencetest.Postgres(t)
			}
			s, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s, dsn)
		})
	}
}

func TestAppAccounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB, _ string) {
		ctx := context.Background()
		alice := &account.User{ID: "u1", Username: "alice", SubjectID: "app-s1", CreatedAt: t0}
		if err := s.CreateUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, &account.User{ID: "u2", Username: "alice", SubjectID: "app-s2", CreatedAt: t0}); code(err) != "conflict" {
			t.Fatalf("taken username: %v", err)
		}
		for _, find := range []func() (*account.User, error){
			func() (*account.User, error) { return s.UserByName(ctx, "alice") },
			func() (*account.User, error) { return s.UserBySubject(ctx, "app-s1") },
			func() (*account.User, error) { return s.User(ctx, "u1") },
		} {
			if u, err := find(); err != nil || u.ID != "u1" || !u.CreatedAt.Equal(t0) {
				t.Fatalf("find: %+v %v", u, err)
			}
		}
		if _, err := s.UserByName(ctx, "bob"); code(err) != "not_found" {
			t.Fatalf("unknown user: %v", err)
		}

		// Attempts: two failures, a success, three failures; only those
		// after the success and inside the window count.
		at := t0
		add := func(id, outcome string) {
			at = at.Add(time.Minute)
			a := &account.Attempt{ID: id, Kind: account.KindLogin, Username: "alice", Client: "10.0.0.1", Browser: []byte{1},
				SessionID: "ses_" + id, Device: "Chrome on Linux", CreatedAt: at, ExpiresAt: at.Add(2 * time.Minute)}
			if err := s.CreateAttempt(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishAttempt(ctx, id, "u1", outcome, "face_mismatch", at); err != nil {
				t.Fatal(err)
			}
		}
		add("a1", account.OutcomeFailure)
		add("a2", account.OutcomeFailure)
		add("a3", account.OutcomeSuccess)
		add("a4", account.OutcomeFailure)
		add("a5", account.OutcomeAbandoned)
		add("a6", account.OutcomeFailure)
		add("a7", account.OutcomeFailure)
		fails, err := s.RecentFailures(ctx, "alice", "", t0, 10)
		if err != nil || len(fails) != 3 || !fails[0].Equal(at) {
			t.Fatalf("failures since the success: %v %v", fails, err)
		}
		if fails, _ := s.RecentFailures(ctx, "alice", "", at.Add(-90*time.Second), 10); len(fails) != 2 {
			t.Fatalf("failures in the window: %v", fails)
		}
		if fails, _ := s.RecentFailures(ctx, "", "10.0.0.1", t0, 2); len(fails) != 2 {
			t.Fatalf("failures by client, limited: %v", fails)
		}
		if err := s.FinishAttempt(ctx, "a7", "u1", account.OutcomeSuccess, "", at); code(err) != "conflict" {
			t.Fatalf("second finish: %v", err)
		}
		if err := s.FinishAttempt(ctx, "nope", "", account.OutcomeSuccess, "", at); code(err) != "not_found" {
			t.Fatalf("unknown attempt: %v", err)
		}
		got, err := s.Attempt(ctx, "a4")
		if err != nil || got.SessionID != "ses_a4" || got.FinishedAt == nil || got.Reason != "face_mismatch" || got.Device != "Chrome on Linux" {
			t.Fatalf("attempt: %+v %v", got, err)
		}
		hist, err := s.History(ctx, "u1", 5)
		if err != nil || len(hist) != 5 || hist[0].ID != "a7" {
			t.Fatalf("history: %d %v", len(hist), err)
		}

		w := &account.BrowserLogin{TokenHash: hash("cookie"), UserID: "u1", Device: "Firefox on Android", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateBrowserLogin(ctx, w); err != nil {
			t.Fatal(err)
		}
		if got, err := s.BrowserLogin(ctx, hash("cookie")); err != nil || got.UserID != "u1" || !got.ExpiresAt.Equal(w.ExpiresAt) {
			t.Fatalf("web session: %+v %v", got, err)
		}

		if n, err := s.PurgeAttempts(ctx, t0.Add(90*time.Second)); err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if _, err := s.Attempt(ctx, "a1"); code(err) != "not_found" {
			t.Fatalf("purged attempt: %v", err)
		}
		sessions, err := s.DeleteUser(ctx, "u1")
		if err != nil || len(sessions) != 6 {
			t.Fatalf("delete: %v %v", sessions, err)
		}
		if _, err := s.BrowserLogin(ctx, hash("cookie")); code(err) != "not_found" {
			t.Fatalf("web session outlived its user: %v", err)
		}
		if hist, _ := s.History(ctx, "u1", 5); len(hist) != 0 {
			t.Fatalf("history outlived its user: %d", len(hist))
		}
		if _, err := s.DeleteUser(ctx, "u1"); code(err) != "not_found" {
			t.Fatalf("second delete: %v", err)
		}
	})
}
