package sqlstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"presence"
	"presence/presencetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	presencetest.StopPostgres()
	os.Exit(code)
}

// eachStore runs a test on a fresh SQLite file and a fresh PostgreSQL
// database: one suite, both dialects.
func eachStore(t *testing.T, fn func(t *testing.T, s *DB)) {
	t.Helper()
	for _, d := range []Dialect{SQLite, Postgres} {
		t.Run(string(d), func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "presence.db")
			if d == Postgres {
				dsn = presencetest.Postgres(t)
			}
			s, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newSession(id string) *presence.Session {
	return &presence.Session{
		ID: id, Mode: presence.ModePassive, Status: presence.StatusCreated, CorrelationID: "order-7",
		AuditImages: 2, APIKeyID: "key1", ClientTokenHash: hash("token-" + id), ReferenceTemplate: []byte("sealed"),
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	}
}

func verdict(d presence.Decision) *presence.Verdict {
	score := 0.93
	return &presence.Verdict{Decision: d, Score: &score, Reasons: []presence.Reason{}, Models: []presence.ModelVersion{{Name: "m", Version: "1"}}}
}

func completion(id string, from presence.Status, at time.Time) presence.Completion {
	return presence.Completion{
		SessionID: id, Status: presence.StatusSucceeded, Verdict: verdict(presence.DecisionRealFace), At: at, FromStatus: from,
		AuditImages: []presence.AuditImage{{Index: 0, ContentType: "image/jpeg", Data: []byte{1, 2, 3}}, {Index: 1, ContentType: "image/png", Data: []byte{4}}},
		Audit:       presence.AuditRecord{Action: presence.AuditVerdict, SessionID: id, APIKeyID: "key1", Decision: presence.DecisionRealFace, At: at},
	}
}

func code(err error) presence.ErrorCode {
	if err == nil {
		return ""
	}
	return presence.ErrorCodeOf(err)
}

func auditCount(t *testing.T, s *DB) int {
	t.Helper()
	recs, err := s.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func TestMigrations(t *testing.T) {
	sqliteM, err := Migrations(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pgM, err := Migrations(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(sqliteM) == 0 || len(sqliteM) != len(pgM) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL", len(sqliteM), len(pgM))
	}
	for i := range sqliteM {
		if sqliteM[i].Name != pgM[i].Name {
			t.Errorf("migration %d: %s vs %s: both dialects must have the same versions", i, sqliteM[i].Name, pgM[i].Name)
		}
	}
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != sqliteM[len(sqliteM)-1].Version {
			t.Fatalf("schema version %d %v", v, err)
		}
		// Re-applying is a no-op.
		if err := s.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// A schema newer than this binary is refused.
		if _, err := s.db.Exec(s.q(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`), 999, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.migrate(ctx); err == nil {
			t.Fatal("a newer schema was accepted")
		}
	})
}

func TestSessionLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		if err := s.CreateSession(ctx, newSession("s1")); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, newSession("s1")); code(err) != presence.ErrConflict {
			t.Fatalf("duplicate id: %v", err)
		}
		got, err := s.Session(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Mode != presence.ModePassive || got.CorrelationID != "order-7" || string(got.ReferenceTemplate) != "sealed" ||
			!got.ExpiresAt.Equal(t0.Add(5*time.Minute)) || got.TokenUsedAt != nil || got.Verdict != nil {
			t.Fatalf("read back %+v", got)
		}
		if byToken, err := s.SessionByTokenHash(ctx, hash("token-s1")); err != nil || byToken.ID != "s1" {
			t.Fatalf("by token: %v %v", byToken, err)
		}
		if _, err := s.Session(ctx, "nope"); code(err) != presence.ErrNotFound {
			t.Fatalf("missing session: %v", err)
		}

		before := auditCount(t, s)
		at := t0.Add(time.Minute)
		// A wrong token writes nothing.
		bad := completion("s1", presence.StatusCreated, at)
		if err := s.StartSession(ctx, "s1", hash("other"), at); code(err) != presence.ErrInvalidToken {
			t.Fatalf("wrong token: %v", err)
		}
		if err := s.CompleteSession(ctx, bad); err != nil {
			t.Fatal(err)
		}
		done, _ := s.Session(ctx, "s1")
		if done.Status != presence.StatusSucceeded || done.TokenUsedAt == nil || done.Verdict == nil || done.Verdict.Decision != presence.DecisionRealFace || *done.Verdict.Score != 0.93 {
			t.Fatalf("after completion: %+v", done)
		}
		imgs, err := s.AuditImages(ctx, "s1")
		if err != nil || len(imgs) != 2 || imgs[1].ContentType != "image/png" {
			t.Fatalf("audit images %+v %v", imgs, err)
		}
		if auditCount(t, s) != before+1 {
			t.Fatal("no audit record")
		}
		// The token is spent: a second completion or start is refused and
		// writes nothing.
		if err := s.CompleteSession(ctx, completion("s1", presence.StatusCreated, at)); code(err) != presence.ErrTokenUsed {
			t.Fatalf("second completion: %v", err)
		}
		if err := s.StartSession(ctx, "s1", hash("token-s1"), at); code(err) != presence.ErrTokenUsed {
			t.Fatalf("start after completion: %v", err)
		}
		if auditCount(t, s) != before+1 {
			t.Fatal("a refused completion appended an audit record")
		}
		if imgs, _ := s.AuditImages(ctx, "s1"); len(imgs) != 2 {
			t.Fatal("a refused completion wrote images")
		}

		erased, err := s.DeleteSession(ctx, "s1", presence.AuditRecord{Action: presence.AuditSessionDeleted, SessionID: "s1", At: at})
		if err != nil || !erased.Session || erased.AuditImages != 2 || !erased.ReferenceTemplate {
			t.Fatalf("erase: %+v %v", erased, err)
		}
		if _, err := s.Session(ctx, "s1"); code(err) != presence.ErrNotFound {
			t.Fatal("deleted session still readable")
		}
		if imgs, _ := s.AuditImages(ctx, "s1"); len(imgs) != 0 {
			t.Fatal("images survived the deletion")
		}
		if _, err := s.DeleteSession(ctx, "s1", presence.AuditRecord{}); code(err) != presence.ErrNotFound {
			t.Fatalf("second delete: %v", err)
		}
		if auditCount(t, s) != before+2 {
			t.Fatal("deletion not audited")
		}
	})
}

func TestStartAndExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		s.CreateSession(ctx, newSession("a"))
		s.CreateSession(ctx, newSession("b"))
		late := t0.Add(6 * time.Minute)
		if err := s.StartSession(ctx, "a", hash("token-a"), late); code(err) != presence.ErrSessionExpired {
			t.Fatalf("start after expiry: %v", err)
		}
		if err := s.CompleteSession(ctx, completion("a", presence.StatusCreated, late)); code(err) != presence.ErrSessionExpired {
			t.Fatalf("complete after expiry: %v", err)
		}
		if err := s.StartSession(ctx, "b", hash("token-b"), t0); err != nil {
			t.Fatal(err)
		}
		b, _ := s.Session(ctx, "b")
		if b.Status != presence.StatusInProgress || b.TokenUsedAt == nil {
			t.Fatalf("started: %+v", b)
		}
		if err := s.StartSession(ctx, "b", hash("token-b"), t0); code(err) != presence.ErrTokenUsed {
			t.Fatalf("second start: %v", err)
		}
		// An in-progress session completes from in_progress only.
		if err := s.CompleteSession(ctx, completion("b", presence.StatusCreated, t0)); code(err) != presence.ErrTokenUsed {
			t.Fatalf("complete from the wrong status: %v", err)
		}
		if err := s.CompleteSession(ctx, completion("b", presence.StatusInProgress, t0)); err != nil {
			t.Fatal(err)
		}

		expired, purged, err := s.ExpireSessions(ctx, late, t0.Add(-time.Hour))
		if err != nil || expired != 1 || purged != 0 {
			t.Fatalf("expire: %d %d %v", expired, purged, err)
		}
		a, _ := s.Session(ctx, "a")
		if a.Status != presence.StatusExpired {
			t.Fatalf("a: %s", a.Status)
		}
		// Retention: everything ended before the cut-off goes, images too.
		_, purged, err = s.ExpireSessions(ctx, late, late.Add(time.Hour))
		if err != nil || purged != 2 {
			t.Fatalf("purge: %d %v", purged, err)
		}
		if imgs, _ := s.AuditImages(ctx, "b"); len(imgs) != 0 {
			t.Fatal("purged session kept its images")
		}
	})
}

func TestConcurrentCompletionHasOneWinner(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		s.CreateSession(ctx, newSession("race"))
		var wg sync.WaitGroup
		results := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- s.CompleteSession(ctx, completion("race", presence.StatusCreated, t0.Add(time.Second)))
			}()
		}
		wg.Wait()
		close(results)
		wins := 0
		for err := range results {
			switch {
			case err == nil:
				wins++
			case code(err) != presence.ErrTokenUsed:
				t.Errorf("loser got %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d completions won", wins)
		}
		if imgs, _ := s.AuditImages(ctx, "race"); len(imgs) != 2 {
			t.Fatalf("%d images", len(imgs))
		}
	})
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		score := 0.5
		if err := s.AppendAudit(ctx, presence.AuditRecord{Action: presence.AuditVerdict, SessionID: "x", Decision: presence.DecisionFake, Score: &score, Detail: []byte(`{"a":1}`), At: t0}); err != nil {
			t.Fatal(err)
		}
		recs, _ := s.ListAudit(ctx, 0, 10)
		if len(recs) != 1 || recs[0].Decision != presence.DecisionFake || *recs[0].Score != 0.5 || string(recs[0].Detail) != `{"a":1}` || !recs[0].At.Equal(t0) {
			t.Fatalf("%+v", recs)
		}
		if _, err := s.db.Exec(`UPDATE audit_log SET decision = 'realface'`); err == nil {
			t.Error("audit record updated")
		}
		if _, err := s.db.Exec(`DELETE FROM audit_log`); err == nil {
			t.Error("audit record deleted")
		}
		if recs, _ := s.ListAudit(ctx, 0, 10); len(recs) != 1 || recs[0].Decision != presence.DecisionFake {
			t.Error("audit log changed")
		}
	})
}

func TestAPIKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		for i, name := range []string{"backend", "batch"} {
			if err := s.CreateAPIKey(ctx, &presence.APIKey{ID: fmt.Sprint("k", i), Name: name, SecretHash: hash(name), CreatedAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateAPIKey(ctx, &presence.APIKey{ID: "k0", Name: "dup", SecretHash: hash("d"), CreatedAt: t0}); code(err) != presence.ErrConflict {
			t.Fatalf("duplicate: %v", err)
		}
		if err := s.TouchAPIKey(ctx, "k0", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, "k1", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, "nope", t0); code(err) != presence.ErrNotFound {
			t.Fatalf("revoke unknown: %v", err)
		}
		keys, err := s.ListAPIKeys(ctx)
		if err != nil || len(keys) != 2 || keys[0].Name != "backend" || keys[0].LastUsedAt == nil || keys[1].RevokedAt == nil || keys[0].RevokedAt != nil {
			t.Fatalf("%+v %v", keys, err)
		}
		k, err := s.APIKey(ctx, "k0")
		if err != nil || string(k.SecretHash) != string(hash("backend")) {
			t.Fatalf("%+v %v", k, err)
		}
	})
}

func TestRateWindowsCountAcrossConnections(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		seen := make(chan int, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := s.CountRequest(ctx, "k0", t0)
				if err != nil {
					t.Error(err)
				}
				seen <- n
			}()
		}
		wg.Wait()
		close(seen)
		got := map[int]bool{}
		for n := range seen {
			got[n] = true
		}
		// Every request got its own count: 1..20, none lost or doubled.
		for i := 1; i <= 20; i++ {
			if !got[i] {
				t.Fatalf("count %d never returned: %v", i, got)
			}
		}
		if n, _ := s.CountRequest(ctx, "k0", t0.Add(time.Minute)); n != 1 {
			t.Fatalf("a new window starts at 1, got %d", n)
		}
	})
}

func TestFrameFingerprints(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		s.CreateSession(ctx, newSession("failed"))
		c := completion("failed", presence.StatusCreated, t0.Add(time.Second))
		c.Verdict = verdict(presence.DecisionFake) // a failed check is remembered too
		c.Fingerprints, c.FingerprintsExpire = []presence.FrameHash{
			{Seq: 1, SHA256: hash("frame-1"), Perceptual: [4]uint64{1<<63 | 5, 7, 9, 11}},
			{Seq: 6, SHA256: hash("frame-6"), Perceptual: [4]uint64{100, 200, 300, 400}},
		}, t0.Add(30*24*time.Hour)
		if err := s.CompleteSession(ctx, c); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Minute)
		for name, q := range map[string]struct {
			h     presence.FrameHash
			want  bool
			exact bool
		}{
			"same bytes":            {presence.FrameHash{SHA256: hash("frame-6"), Perceptual: [4]uint64{1, 2, 3, 4}}, true, true},
			"same picture":          {presence.FrameHash{SHA256: hash("x"), Perceptual: [4]uint64{1<<63 | 5, 7, 9, 11}}, true, false},
			"one bit off in word 3": {presence.FrameHash{SHA256: hash("x"), Perceptual: [4]uint64{100, 200, 300, 400 ^ 4}}, true, false},
			"one bit off in word 0": {presence.FrameHash{SHA256: hash("x"), Perceptual: [4]uint64{1<<63 | 4, 7, 9, 11}}, true, false},
			"two bits off":          {presence.FrameHash{SHA256: hash("x"), Perceptual: [4]uint64{1<<63 | 5, 7, 9, 8}}, false, false},
			"unrelated":             {presence.FrameHash{SHA256: hash("y"), Perceptual: [4]uint64{42, 43, 44, 45}}, false, false},
		} {
			got, err := s.SeenFrame(ctx, q.h, 1, now)
			if err != nil || (len(got) == 1) != q.want || (q.want && (got[0].SessionID != "failed" || got[0].Exact != q.exact)) {
				t.Errorf("%s: %+v %v, want %v (exact %v)", name, got, err, q.want, q.exact)
			}
		}
		// A relying party deleting the session keeps its fingerprints.
		if _, err := s.DeleteSession(ctx, "failed", presence.AuditRecord{At: now, Action: presence.AuditSessionDeleted}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.SeenFrame(ctx, presence.FrameHash{SHA256: hash("frame-6")}, 1, now); len(got) != 1 {
			t.Fatal("deleting the session deleted its fingerprints")
		}
		// They expire with their retention, and the sweep removes them.
		if got, _ := s.SeenFrame(ctx, presence.FrameHash{SHA256: hash("frame-6")}, 1, t0.Add(31*24*time.Hour)); len(got) != 0 {
			t.Fatal("an expired fingerprint was still seen")
		}
		if _, _, err := s.ExpireSessions(ctx, t0.Add(31*24*time.Hour), t0); err != nil {
			t.Fatal(err)
		}
		var n int
		s.db.QueryRow(`SELECT COUNT(*) FROM frame_fingerprints`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d expired fingerprints left after the sweep", n)
		}
	})
}

func TestFrameFingerprintsGoWithTheirSubject(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		now := t0.Add(time.Minute)
		s.CreateSubject(ctx, &presence.Subject{ID: "erin", CreatedAt: t0})
		s.CreateSubject(ctx, &presence.Subject{ID: "fred", CreatedAt: t0})
		finish := func(id, subject string, frame string) {
			sess := newSession(id)
			sess.SubjectID = subject
			s.CreateSession(ctx, sess)
			c := completion(id, presence.StatusCreated, t0.Add(time.Second))
			c.Fingerprints, c.FingerprintsExpire = []presence.FrameHash{{Seq: 1, SHA256: hash(frame), Perceptual: [4]uint64{uint64(len(frame)), 1, 2, 3}}}, t0.Add(time.Hour)
			if err := s.CompleteSession(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		seen := func(frame string) bool {
			got, err := s.SeenFrame(ctx, presence.FrameHash{SHA256: hash(frame), Perceptual: [4]uint64{^uint64(0), 0, 0, 0}}, 1, now)
			if err != nil {
				t.Fatal(err)
			}
			return len(got) > 0
		}
		finish("named", "erin", "a")    // named erin as its reference
		finish("matched", "", "bb")     // matched erin later, then deleted
		finish("enrolled", "", "ccc")   // enrolled erin, then deleted
		finish("other", "fred", "dddd") // someone else's
		finish("nobody", "", "eeeee")   // nobody's
		if err := s.RecordMatch(ctx, presence.AuditRecord{At: now, Action: presence.AuditVerified, SessionID: "matched"}, "erin"); err != nil {
			t.Fatal(err)
		}
		if err := s.AddTemplate(ctx, &presence.Template{SubjectID: "erin", Sealed: []byte("t"), SessionID: "enrolled", CreatedAt: now}, 10, presence.AuditRecord{At: now, Action: presence.AuditEnrolled}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"matched", "enrolled"} {
			if _, err := s.DeleteSession(ctx, id, presence.AuditRecord{At: now, Action: presence.AuditSessionDeleted}); err != nil {
				t.Fatal(err)
			}
		}
		erased, err := s.DeleteSubject(ctx, "erin", presence.AuditRecord{At: now, Action: presence.AuditSubjectDeleted, SubjectID: "erin"})
		if err != nil {
			t.Fatal(err)
		}
		if erased.FrameFingerprints != 3 {
			t.Errorf("erased %d fingerprints, want 3", erased.FrameFingerprints)
		}
		for frame, want := range map[string]bool{"a": false, "bb": false, "ccc": false, "dddd": true, "eeeee": true} {
			if seen(frame) != want {
				t.Errorf("frame %q seen %v after erin's erasure, want %v", frame, !want, want)
			}
		}
	})
}

func TestPoliciesRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		k := &presence.APIKey{ID: "kp", Name: "n", SecretHash: hash("s"), CreatedAt: t0, Policy: presence.KeyPolicy{Capture: presence.CapturePolicy{Frames: presence.FramesStream}}}
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		k.Policy.Capture.RefuseVirtualCameras = true
		if err := s.SetAPIKeyPolicy(ctx, "kp", k.Policy); err != nil {
			t.Fatal(err)
		}
		if got, err := s.APIKey(ctx, "kp"); err != nil || got.Policy != k.Policy {
			t.Fatalf("key policy: %+v %v", got, err)
		}
		if err := s.SetAPIKeyPolicy(ctx, "nope", k.Policy); code(err) != presence.ErrNotFound {
			t.Fatalf("unknown key: %v", err)
		}
		sess := newSession("sp")
		sess.Capture = k.Policy.Capture
		sess.Notice = &presence.Notice{Version: "v1", Texts: map[string]presence.NoticeText{"en": {Controller: "c", Purpose: "p", Kept: "k"}}}
		s.CreateSession(ctx, sess)
		if got, err := s.Session(ctx, "sp"); err != nil || got.Capture != k.Policy.Capture || got.Notice == nil || got.Notice.Texts["en"].Kept != "k" {
			t.Fatalf("session capture policy and notice: %+v %v", got, err)
		}
		// A consent is recorded once, on a started session; a decline ends it.
		c := presence.Consent{NoticeVersion: "v1", Agreed: false, At: t0.Add(time.Second)}
		if err := s.RecordConsent(ctx, "sp", c, presence.AuditRecord{At: c.At, Action: presence.AuditConsentDeclined, SessionID: "sp"}); code(err) != presence.ErrConflict {
			t.Fatalf("consent before the stream started: %v", err)
		}
		s.StartSession(ctx, "sp", hash("token-sp"), t0.Add(time.Second))
		if err := s.RecordConsent(ctx, "sp", c, presence.AuditRecord{At: c.At, Action: presence.AuditConsentDeclined, SessionID: "sp"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Session(ctx, "sp"); got.Status != presence.StatusDeclined || got.Consent == nil || got.Consent.Agreed {
			t.Fatalf("declined: %+v", got)
		}
		if err := s.RecordConsent(ctx, "sp", c, presence.AuditRecord{At: c.At, Action: presence.AuditConsentDeclined, SessionID: "sp"}); code(err) != presence.ErrConflict {
			t.Fatalf("a second answer: %v", err)
		}
	})
}

// TestSubjectExportQueries: the sessions, audit entries and fingerprint
// count an export reads, on both databases; after erasure, none.
func TestSubjectExportQueries(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		now := t0.Add(time.Minute)
		s.CreateSubject(ctx, &presence.Subject{ID: "gus", CreatedAt: t0})
		for _, id := range []string{"g1", "other"} {
			sess := newSession(id)
			if id == "g1" {
				sess.SubjectID = "gus"
			}
			s.CreateSession(ctx, sess)
			c := completion(id, presence.StatusCreated, t0.Add(time.Second))
			c.Audit.SubjectID = sess.SubjectID
			c.Fingerprints, c.FingerprintsExpire = []presence.FrameHash{{Seq: 1, SHA256: hash(id), Perceptual: [4]uint64{9, 9, 9, 9}}}, t0.Add(time.Hour)
			if err := s.CompleteSession(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		sessions, err := s.SubjectSessions(ctx, "gus")
		if err != nil || len(sessions) != 1 || sessions[0].ID != "g1" || sessions[0].Verdict == nil {
			t.Fatalf("sessions: %v %v", sessions, err)
		}
		recs, err := s.SubjectAudit(ctx, "gus", []string{"g1"})
		if err != nil || len(recs) != 1 || recs[0].SessionID != "g1" {
			t.Fatalf("audit: %+v %v", recs, err)
		}
		if n, err := s.SubjectFingerprints(ctx, "gus"); err != nil || n != 1 {
			t.Fatalf("fingerprints: %d %v", n, err)
		}
		if _, err := s.DeleteSubject(ctx, "gus", presence.AuditRecord{At: now, Action: presence.AuditSubjectDeleted, SubjectID: "gus"}); err != nil {
			t.Fatal(err)
		}
		sessions, _ = s.SubjectSessions(ctx, "gus")
		n, _ := s.SubjectFingerprints(ctx, "gus")
		if len(sessions) != 0 || n != 0 {
			t.Fatalf("after erasure: %d sessions, %d fingerprints", len(sessions), n)
		}
	})
}

// TestPerKeyRetention: the sweep removes a session whose key keeps them
// a day once that day is over, though the server keeps 30 days; audit
// images with a shorter retention go first; other sessions stay.
func TestPerKeyRetention(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		finish := func(id string, r presence.Retention) {
			sess := newSession(id)
			sess.Retention = r
			s.CreateSession(ctx, sess)
			if err := s.CompleteSession(ctx, completion(id, presence.StatusCreated, t0.Add(time.Second))); err != nil {
				t.Fatal(err)
			}
		}
		finish("short", presence.Retention{Sessions: 24 * time.Hour})
		finish("images", presence.Retention{AuditImages: 2 * time.Hour})
		finish("server", presence.Retention{})
		if got, _ := s.Session(ctx, "short"); got.Retention.Sessions != 24*time.Hour {
			t.Fatalf("retention read back: %+v", got.Retention)
		}
		now := t0.Add(25 * time.Hour)
		if _, purged, err := s.ExpireSessions(ctx, now, now.Add(-30*24*time.Hour)); err != nil || purged != 1 {
			t.Fatalf("sweep: %d purged, %v", purged, err)
		}
		if _, err := s.Session(ctx, "short"); code(err) != presence.ErrNotFound {
			t.Fatalf("the day-long session outlived its day: %v", err)
		}
		if imgs, _ := s.AuditImages(ctx, "images"); len(imgs) != 0 {
			t.Fatalf("%d audit images outlived their two hours", len(imgs))
		}
		if _, err := s.Session(ctx, "images"); err != nil {
			t.Fatalf("the session went with its images: %v", err)
		}
		if imgs, _ := s.AuditImages(ctx, "server"); len(imgs) != 2 {
			t.Fatalf("the server-retention session lost its images: %d", len(imgs))
		}
	})
}

// TestOperatorLists: the operator's session list filters and pages newest
// first without gaps or repeats; the audit reads by session and by time.
func TestOperatorLists(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		for i := range 7 {
			sess := newSession(fmt.Sprintf("op%d", i))
			sess.CreatedAt = t0.Add(time.Duration(i/2) * time.Second) // pairs share a time
			sess.ExpiresAt = sess.CreatedAt.Add(5 * time.Minute)
			if i%3 == 0 {
				sess.CorrelationID = "special"
			}
			s.CreateSession(ctx, sess)
			if i%2 == 0 {
				c := completion(sess.ID, presence.StatusCreated, sess.CreatedAt.Add(time.Second))
				if i == 4 {
					c.Verdict = verdict(presence.DecisionFake)
					c.Verdict.Reasons = []presence.Reason{presence.NewReason(presence.ReasonReplayedFrame)}
				}
				if err := s.CompleteSession(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
		}
		var seen []string
		f := presence.SessionFilter{Limit: 3}
		for {
			page, err := s.ListSessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, p := range page {
				seen = append(seen, p.ID)
			}
			last := page[len(page)-1]
			f.AfterCreated, f.AfterID = last.CreatedAt, last.ID
		}
		if strings.Join(seen, ",") != "op6,op5,op4,op3,op2,op1,op0" {
			t.Fatalf("pages: %v", seen)
		}
		count := func(f presence.SessionFilter) int {
			f.Limit = 100
			got, err := s.ListSessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(got)
		}
		if n := count(presence.SessionFilter{Status: presence.StatusSucceeded}); n != 4 {
			t.Errorf("succeeded: %d", n)
		}
		if n := count(presence.SessionFilter{Decision: presence.DecisionFake, Reason: presence.ReasonReplayedFrame}); n != 1 {
			t.Errorf("fake, replayed: %d", n)
		}
		if n := count(presence.SessionFilter{CorrelationID: "special", From: t0.Add(time.Second)}); n != 2 {
			t.Errorf("special from 1 s: %d", n)
		}
		if recs, err := s.SessionAudit(ctx, "op4"); err != nil || len(recs) != 1 {
			t.Errorf("op4's audit: %v %v", recs, err)
		}
		if recs, err := s.AuditBetween(ctx, t0, t0.Add(2500*time.Millisecond), 0, 100); err != nil || len(recs) != 2 {
			t.Errorf("audit between: %d %v", len(recs), err)
		}
	})
}
