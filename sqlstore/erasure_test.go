package sqlstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"presence"
)

// TestErasedBytesLeaveTheFile: after a session is deleted and the WAL
// checkpointed, none of its image or template bytes can be read in the
// SQLite file (they stayed readable in free pages before secure_delete),
// and the file and its folder are private to the service.
func TestErasedBytesLeaveTheFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "presence.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", filepath.Base(p), st.Mode().Perm(), want, err)
		}
	}
	image := bytes.Repeat([]byte("FACE-IMAGE-OF-ERASED-PERSON|"), 300)
	probe := bytes.Repeat([]byte("SEALED-PROBE-TEMPLATE-BYTES|"), 40)
	ref := bytes.Repeat([]byte("SEALED-REFERENCE-TEMPLATE|"), 40)
	sess := newSession("ses_erase")
	sess.ReferenceTemplate = ref
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	c := completion("ses_erase", presence.StatusCreated, t0.Add(time.Minute))
	c.AuditImages = []presence.AuditImage{{Index: 0, ContentType: "image/jpeg", Data: image}}
	c.ProbeTemplate = probe
	if err := s.CompleteSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSession(ctx, "ses_erase", presence.AuditRecord{At: t0.Add(2 * time.Minute), Action: presence.AuditSessionDeleted, SessionID: "ses_erase"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	noCopies(t, path, map[string][]byte{"audit image": image[:56], "probe template": probe[:56], "reference template": ref[:52]})
}

// noCopies fails for every secret still found in the database file or its
// WAL.
func noCopies(t *testing.T, path string, secrets map[string][]byte) {
	t.Helper()
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range secrets {
			if n := bytes.Count(data, secret); n > 0 {
				t.Errorf("%s: %d copies of the erased %s", filepath.Base(f), n, name)
			}
		}
	}
}

// TestErasedSubjectLeavesTheFile: after a subject's erasure and a
// checkpoint, none of its template bytes, nor the image and template of
// the session it was enrolled from, can be read in the SQLite file.
func TestErasedSubjectLeavesTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "presence.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	image := bytes.Repeat([]byte("ENROLMENT-PHOTO-OF-ERASED|"), 300)
	probe := bytes.Repeat([]byte("ENROLMENT-SESSION-PROBE|"), 40)
	template := bytes.Repeat([]byte("SUBJECT-TEMPLATE-SEALED|"), 40)
	if err := s.CreateSession(ctx, newSession("ses_enrol")); err != nil {
		t.Fatal(err)
	}
	c := completion("ses_enrol", presence.StatusCreated, t0.Add(time.Minute))
	c.AuditImages = []presence.AuditImage{{Index: 0, ContentType: "image/jpeg", Data: image}}
	c.ProbeTemplate = probe
	if err := s.CompleteSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSubject(ctx, &presence.Subject{ID: "erin", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	rec := presence.AuditRecord{At: t0.Add(2 * time.Minute), Action: presence.AuditEnrolled, SubjectID: "erin", SessionID: "ses_enrol"}
	if err := s.AddTemplate(ctx, &presence.Template{SubjectID: "erin", Sealed: template, SessionID: "ses_enrol", CreatedAt: t0}, 5, rec); err != nil {
		t.Fatal(err)
	}
	erased, err := s.DeleteSubject(ctx, "erin", presence.AuditRecord{At: t0.Add(3 * time.Minute), Action: presence.AuditSubjectDeleted, SubjectID: "erin"})
	if err != nil || erased.Templates != 1 || erased.Sessions != 1 {
		t.Fatalf("erase: %+v %v", erased, err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	noCopies(t, path, map[string][]byte{"photo": image[:52], "probe": probe[:48], "template": template[:48]})
}
