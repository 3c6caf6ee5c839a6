package subjects

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"presence"
	"presence/seal"
	"presence/sqlstore"
)

// failingAudit is the real store with an audit log that cannot be written.
type failingAudit struct{ *sqlstore.DB }

func (failingAudit) RecordMatch(context.Context, presence.AuditRecord, string) error {
	return errors.New("disk full")
}

// serviceWithLiveSession sets up a real store with a subject enrolled from
// one live session and a second live session of the same face.
func serviceWithLiveSession(t *testing.T) (*sqlstore.DB, *seal.Sealer, string) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	k, _, _ := seal.NewKey()
	sealer, _ := seal.New(k)
	r := rand.New(rand.NewPCG(3, 4))
	face := randomTemplate(r, 512)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"ses_enrol", "ses_probe"} {
		if err := store.CreateSession(ctx, &presence.Session{ID: id, Mode: presence.ModePassive, Status: presence.StatusCreated, APIKeyID: "k",
			ClientTokenHash: []byte(id), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		probe, _ := sealer.SealEmbedding(near(r, face, 0.9), id)
		score := 0.9
		if err := store.CompleteSession(ctx, presence.Completion{SessionID: id, Status: presence.StatusSucceeded, At: now, FromStatus: presence.StatusCreated,
			Verdict:       &presence.Verdict{Decision: presence.DecisionRealFace, Score: &score, Reasons: []presence.Reason{}},
			ProbeTemplate: probe, Audit: presence.AuditRecord{At: now, Action: presence.AuditVerdict, SessionID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	svc := New(Config{Store: store, Sealer: sealer, Now: func() time.Time { return now }, Match: 0.5})
	key := &presence.APIKey{ID: "k"}
	if _, err := svc.Create(ctx, key, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enrol(ctx, key, "alice", "ses_enrol"); err != nil {
		t.Fatal(err)
	}
	return store, sealer, "ses_probe"
}

// TestDecisionsWithoutAuditRecordAreNotAnswered: a verification or
// identification whose audit record cannot be written fails (it used to
// be answered, with "audit record lost" in the log).
func TestDecisionsWithoutAuditRecordAreNotAnswered(t *testing.T) {
	store, sealer, probe := serviceWithLiveSession(t)
	ctx := context.Background()
	key := &presence.APIKey{ID: "k"}
	good := New(Config{Store: store, Sealer: sealer, Match: 0.5})
	if v, err := good.Verify(ctx, key, "alice", probe); err != nil || !v.Match.Match {
		t.Fatalf("verify: %+v %v", v, err)
	}
	broken := New(Config{Store: failingAudit{store}, Sealer: sealer, Match: 0.5})
	if v, err := broken.Verify(ctx, key, "alice", probe); err == nil || presence.ErrorCodeOf(err) != presence.ErrInternal {
		t.Fatalf("verify without its audit record: %+v %v", v, err)
	}
	if v, err := broken.Identify(ctx, key, probe, 5); err == nil {
		t.Fatalf("identify without its audit record: %+v", v)
	}
}

// TestIdentifyNeverNamesAnErasedSubject: an index that still holds a
// subject the store no longer has (an erasure committed on another node
// that the index has not seen) does not name it.
func TestIdentifyNeverNamesAnErasedSubject(t *testing.T) {
	store, sealer, probe := serviceWithLiveSession(t)
	ctx := context.Background()
	svc := New(Config{Store: store, Sealer: sealer, Match: 0.5})
	if err := svc.Index().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	_, emb, err := svc.liveProbe(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}
	svc.Index().add(1<<40, "ghost", emb) // in the index, not in the store
	got, err := svc.Identify(ctx, &presence.APIKey{ID: "k"}, probe, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got.Candidates {
		if c.SubjectID == "ghost" {
			t.Fatalf("identify named a subject the store does not have: %+v", got.Candidates)
		}
	}
	if len(got.Candidates) == 0 || got.Candidates[0].SubjectID != "alice" {
		t.Fatalf("candidates %+v", got.Candidates)
	}
}

// TestErasureTakesTheSessionsThatMatched: a session verified against a
// subject without naming it, or identified as them, showed that person's
// face; erasing the subject erases it (it used to survive with its image
// and template).
func TestErasureTakesTheSessionsThatMatched(t *testing.T) {
	store, sealer, probe := serviceWithLiveSession(t)
	ctx := context.Background()
	key := &presence.APIKey{ID: "k"}
	svc := New(Config{Store: store, Sealer: sealer, Match: 0.5})
	if v, err := svc.Verify(ctx, key, "alice", probe); err != nil || !v.Match.Match {
		t.Fatalf("verify: %+v %v", v, err)
	}
	erased, err := svc.Delete(ctx, key, "alice")
	if err != nil || erased.Sessions != 2 {
		t.Fatalf("erase: %+v %v (want the enrolment session and the verified one)", erased, err)
	}
	if _, err := store.Session(ctx, probe); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatalf("the verified session survived the erasure: %v", err)
	}
}
