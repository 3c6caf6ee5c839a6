package seal_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"presence"
	"presence/seal"
	"presence/sqlstore"
)

// TestRotateStore reseals every template kind in a real SQLite store, and
// after the old key is dropped everything still opens.
func TestRotateStore(t *testing.T) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "presence.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	oldKey, _, _ := seal.NewKey()
	newKey, _, _ := seal.NewKey()
	before, _ := seal.New(oldKey)
	now := time.Now().UTC()

	want := presence.Embedding{0.6, -0.8}
	if err := store.CreateSubject(ctx, &presence.Subject{ID: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		sealed, _ := before.SealEmbedding(want, "alice")
		tpl := &presence.Template{SubjectID: "alice", Sealed: sealed, SessionID: fmt.Sprint("s", i), CreatedAt: now}
		if err := store.AddTemplate(ctx, tpl, 5, presence.AuditRecord{At: now, Action: presence.AuditEnrolled}); err != nil {
			t.Fatal(err)
		}
	}
	ref, _ := before.SealEmbedding(want, "ses_1")
	sess := &presence.Session{ID: "ses_1", Mode: presence.ModePassive, Status: presence.StatusCreated,
		ClientTokenHash: []byte("h"), ReferenceTemplate: ref, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := store.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	// Without the old key the run stops at the first value and says where.
	if _, err := seal.Rotate(ctx, store, mustSealer(t, newKey)); !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("rotation without the old key: %v", err)
	}
	rotating := mustSealer(t, newKey, oldKey)
	report, err := seal.Rotate(ctx, store, rotating)
	if err != nil {
		t.Fatal(err)
	}
	if report.Resealed["subject"] != 3 || report.Resealed["reference"] != 1 {
		t.Fatalf("report %+v", report)
	}
	again, err := seal.Rotate(ctx, store, rotating)
	if err != nil || again.Current["subject"] != 3 || len(again.Resealed) != 0 {
		t.Fatalf("second run %+v %v", again, err)
	}

	after := mustSealer(t, newKey)
	ts, _ := store.SubjectTemplates(ctx, "alice")
	for _, tpl := range ts {
		e, err := after.OpenEmbedding(tpl.Sealed, "alice")
		if err != nil || e[0] != want[0] || e[1] != want[1] {
			t.Fatalf("template %d after rotation: %v %v", tpl.Seq, e, err)
		}
	}
	got, _ := store.Session(ctx, "ses_1")
	if _, err := after.OpenEmbedding(got.ReferenceTemplate, "ses_1"); err != nil {
		t.Fatalf("reference after rotation: %v", err)
	}
}

func mustSealer(t *testing.T, cur seal.Key, old ...seal.Key) *seal.Sealer {
	t.Helper()
	s, err := seal.New(cur, old...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
