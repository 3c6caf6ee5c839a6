package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"presence"
)

func TestSubjects(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		for _, id := range []string{"alice", "bob"} {
			if err := s.CreateSubject(ctx, &presence.Subject{ID: id, CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateSubject(ctx, &presence.Subject{ID: "alice", CreatedAt: t0}); code(err) != presence.ErrConflict {
			t.Fatalf("duplicate subject: %v", err)
		}
		// Alice enrols from a session, which then belongs to her.
		s.CreateSession(ctx, newSession("enrol"))
		s.CompleteSession(ctx, completion("enrol", presence.StatusCreated, t0.Add(time.Second)))
		for i := 0; i < 2; i++ {
			tpl := &presence.Template{SubjectID: "alice", Sealed: []byte(fmt.Sprint("tpl", i)), SessionID: "enrol", CreatedAt: t0}
			if err := s.AddTemplate(ctx, tpl, 2, presence.AuditRecord{Action: presence.AuditEnrolled, SubjectID: "alice", At: t0}); err != nil || tpl.Seq == 0 {
				t.Fatalf("template %d: %v", i, err)
			}
		}
		if err := s.AddTemplate(ctx, &presence.Template{SubjectID: "alice", Sealed: []byte("x"), CreatedAt: t0}, 2, presence.AuditRecord{}); code(err) != presence.ErrConflict {
			t.Fatalf("template past the limit: %v", err)
		}
		if err := s.AddTemplate(ctx, &presence.Template{SubjectID: "bob", Sealed: []byte("b"), CreatedAt: t0}, 2, presence.AuditRecord{}); err != nil {
			t.Fatal(err)
		}
		if sub, err := s.Subject(ctx, "alice"); err != nil || sub.Templates != 2 {
			t.Fatalf("alice: %+v %v", sub, err)
		}
		if sess, _ := s.Session(ctx, "enrol"); sess.SubjectID != "alice" {
			t.Fatalf("enrolment session not linked: %q", sess.SubjectID)
		}
		list, err := s.ListSubjects(ctx, "", 10)
		if err != nil || len(list) != 2 || list[0].ID != "alice" || list[1].Templates != 1 {
			t.Fatalf("list %+v %v", list, err)
		}
		if page, _ := s.ListSubjects(ctx, "alice", 10); len(page) != 1 || page[0].ID != "bob" {
			t.Fatalf("second page %+v", page)
		}
		all, _ := s.TemplatesSince(ctx, 0, 100)
		if len(all) != 3 {
			t.Fatalf("%d templates", len(all))
		}
		if later, _ := s.TemplatesSince(ctx, all[1].Seq, 100); len(later) != 1 || later[0].SubjectID != "bob" {
			t.Fatalf("since: %+v", later)
		}

		erased, err := s.DeleteSubject(ctx, "alice", presence.AuditRecord{Action: presence.AuditSubjectDeleted, SubjectID: "alice", At: t0})
		if err != nil || erased.Templates != 2 || erased.Sessions != 1 || erased.AuditImages != 2 || erased.ProbeTemplates != 0 {
			t.Fatalf("erase: %+v %v", erased, err)
		}
		if _, err := s.Subject(ctx, "alice"); code(err) != presence.ErrNotFound {
			t.Fatal("alice survived")
		}
		if _, err := s.Session(ctx, "enrol"); code(err) != presence.ErrNotFound {
			t.Fatal("her session survived")
		}
		deleted, last, err := s.DeletionsSince(ctx, 0)
		if err != nil || len(deleted) != 2 || deleted[0] != all[0].Seq || last == 0 {
			t.Fatalf("deletion log %v %d %v", deleted, last, err)
		}
		if more, _, _ := s.DeletionsSince(ctx, last); len(more) != 0 {
			t.Fatal("deletion log repeats")
		}
		if _, err := s.DeleteSubject(ctx, "alice", presence.AuditRecord{}); code(err) != presence.ErrNotFound {
			t.Fatalf("second erase: %v", err)
		}
	})
}

func TestSealedBlobRotation(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		s.CreateSubject(ctx, &presence.Subject{ID: "carol", CreatedAt: t0})
		s.AddTemplate(ctx, &presence.Template{SubjectID: "carol", Sealed: []byte("old-1"), CreatedAt: t0}, 5, presence.AuditRecord{})
		s.CreateSession(ctx, newSession("ref"))
		for _, kind := range []string{"subject", "reference"} {
			blobs, err := s.SealedBlobs(ctx, kind, "", 10)
			if err != nil || len(blobs) != 1 {
				t.Fatalf("%s: %+v %v", kind, blobs, err)
			}
			b := blobs[0]
			if err := s.ReplaceSealed(ctx, b, []byte("new")); err != nil {
				t.Fatal(err)
			}
			if err := s.ReplaceSealed(ctx, b, []byte("newer")); code(err) != presence.ErrConflict {
				t.Fatalf("%s: a stale swap won: %v", kind, err)
			}
			again, _ := s.SealedBlobs(ctx, kind, "", 10)
			if string(again[0].Data) != "new" {
				t.Fatalf("%s: %q", kind, again[0].Data)
			}
		}
		if blobs, _ := s.SealedBlobs(ctx, "probe", "", 10); len(blobs) != 0 {
			t.Fatal("no probe was stored")
		}
	})
}

func TestRecordMatchLinksTheSession(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		for _, id := range []string{"ses_m1", "ses_m2"} {
			if err := s.CreateSession(ctx, newSession(id)); err != nil {
				t.Fatal(err)
			}
		}
		rec := presence.AuditRecord{At: t0, Action: presence.AuditVerified, SessionID: "ses_m1", SubjectID: "carol"}
		if err := s.RecordMatch(ctx, rec, "carol"); err != nil {
			t.Fatal(err)
		}
		// A session already linked keeps its subject.
		if err := s.RecordMatch(ctx, presence.AuditRecord{At: t0, Action: presence.AuditIdentified, SessionID: "ses_m1"}, "dave"); err != nil {
			t.Fatal(err)
		}
		// No match: no link, but the record.
		if err := s.RecordMatch(ctx, presence.AuditRecord{At: t0, Action: presence.AuditVerified, SessionID: "ses_m2"}, ""); err != nil {
			t.Fatal(err)
		}
		a, _ := s.Session(ctx, "ses_m1")
		b, _ := s.Session(ctx, "ses_m2")
		if a.SubjectID != "carol" || b.SubjectID != "" || auditCount(t, s) != 3 {
			t.Fatalf("links %q %q, %d records", a.SubjectID, b.SubjectID, auditCount(t, s))
		}
	})
}

func TestSealedAuditImagesWalkAndReplace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		if err := s.CreateSession(ctx, newSession("ses_img")); err != nil {
			t.Fatal(err)
		}
		c := completion("ses_img", presence.StatusCreated, t0.Add(time.Minute))
		c.AuditImages = []presence.AuditImage{{Index: 0, ContentType: "image/jpeg", Data: []byte("sealed-0")}, {Index: 1, ContentType: "image/jpeg", Data: []byte("sealed-1")}}
		if err := s.CompleteSession(ctx, c); err != nil {
			t.Fatal(err)
		}
		blobs, err := s.SealedBlobs(ctx, "image", "", 10)
		if err != nil || len(blobs) != 2 || blobs[0].Key != "ses_img/0" || blobs[0].Owner != "ses_img/image/0" || string(blobs[1].Data) != "sealed-1" {
			t.Fatalf("walk: %+v %v", blobs, err)
		}
		if page, _ := s.SealedBlobs(ctx, "image", "ses_img/0", 10); len(page) != 1 || page[0].Key != "ses_img/1" {
			t.Fatalf("next page: %+v", page)
		}
		if err := s.ReplaceSealed(ctx, blobs[1], []byte("resealed-1")); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceSealed(ctx, blobs[1], []byte("again")); code(err) != presence.ErrConflict {
			t.Fatalf("replacing a changed value: %v", err)
		}
		imgs, _ := s.AuditImages(ctx, "ses_img")
		if string(imgs[1].Data) != "resealed-1" || string(imgs[0].Data) != "sealed-0" {
			t.Fatalf("after replace: %q %q", imgs[0].Data, imgs[1].Data)
		}
	})
}
