package session_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/engine"
	"presence/presencetest"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
)

// fakeEngine stands in for the models in the tests of the session
// bookkeeping (tokens, expiry, storage); the tests that judge faces use
// the real engine (stream_test.go).
type fakeEngine struct {
	analyze func(ctx context.Context, img *presence.Image, opts engine.Options) (*presence.Analysis, error)
}

func (f fakeEngine) Analyze(ctx context.Context, img *presence.Image, opts engine.Options) (*presence.Analysis, error) {
	if f.analyze == nil {
		return nil, errors.New("fakeEngine: no analysis expected")
	}
	return f.analyze(ctx, img, opts)
}

func (fakeEngine) Thresholds() engine.Thresholds { return engine.DefaultThresholds() }

func (fakeEngine) Manifest() *presence.Manifest { return &presence.Manifest{} }

func newService(t *testing.T, clk clock.Clock, eng session.Analyzer) (*session.Service, *sqlstore.DB) {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	k, _, _ := seal.NewKey()
	sealer, _ := seal.New(k)
	if eng == nil {
		eng = fakeEngine{}
	}
	return session.New(session.Config{Store: store, Engine: eng, Sealer: sealer, Clock: clk}), store
}

func TestCreateValidation(t *testing.T) {
	svc, _ := newService(t, clock.System(), nil)
	key := &presence.APIKey{ID: "k"}
	for name, req := range map[string]session.CreateRequest{
		"unknown mode":         {Mode: "sideways"},
		"too many audits":      {AuditImages: 5},
		"negative audits":      {AuditImages: -1},
		"ttl too short":        {TTL: time.Second},
		"ttl too long":         {TTL: 2 * time.Hour},
		"control characters":   {CorrelationID: "a\nb"},
		"overlong correlation": {CorrelationID: string(make([]byte, 201))},
	} {
		if _, err := svc.Create(context.Background(), key, req); presence.ErrorCodeOf(err) != presence.ErrInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, err := svc.Create(context.Background(), key, session.CreateRequest{})
	if err != nil || c.Session.Mode != presence.ModePassive || c.Session.ExpiresAt.Sub(c.Session.CreatedAt) != 5*time.Minute {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

func TestAPIKeyAuthentication(t *testing.T) {
	svc, store := newService(t, clock.System(), nil)
	ctx := context.Background()
	text, k, err := svc.CreateAPIKey(ctx, "backend")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.AuthenticateAPIKey(ctx, text); err != nil || got.ID != k.ID {
		t.Fatalf("valid key: %v", err)
	}
	stored, _ := store.APIKey(ctx, k.ID)
	if string(stored.SecretHash) == text || len(stored.SecretHash) != 32 {
		t.Fatal("the key is not stored as a hash")
	}
	for bad, want := range map[string]presence.ErrorCode{
		"":                    presence.ErrUnauthorized,
		"pk_":                 presence.ErrUnauthorized,
		text + "x":            presence.ErrUnauthorized,
		"pk_nosuchkey_secret": presence.ErrUnauthorized,
		"pct_clienttoken":     presence.ErrWrongCredential,
	} {
		if _, err := svc.AuthenticateAPIKey(ctx, bad); presence.ErrorCodeOf(err) != want {
			t.Errorf("%q: %v, want %s", bad, err, want)
		}
	}
	if _, _, err := svc.CreateAPIKey(ctx, " "); presence.ErrorCodeOf(err) != presence.ErrInvalid {
		t.Errorf("blank name: %v", err)
	}
}

func TestSweepAppliesRetention(t *testing.T) {
	clk := clock.NewVirtual(time.Now())
	svc, store := newService(t, clk, nil)
	ctx := context.Background()
	c, err := svc.Create(ctx, &presence.APIKey{ID: "k"}, session.CreateRequest{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if expired, purged, err := svc.Sweep(ctx, time.Hour); err != nil || expired != 1 || purged != 0 {
		t.Fatalf("sweep: %d %d %v", expired, purged, err)
	}
	clk.Advance(2 * time.Hour)
	if _, purged, err := svc.Sweep(ctx, time.Hour); err != nil || purged != 1 {
		t.Fatalf("retention: %d %v", purged, err)
	}
	if _, err := store.Session(ctx, c.Session.ID); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatal("session outlived the retention")
	}
}

// TestUploadDecodeBudget: five frames that would take 315 MB to decode
// together are refused from their headers before any is decoded, and the
// session's token stays valid (a 1.9 MB request of such frames reached
// 2.1 GB).
func TestUploadDecodeBudget(t *testing.T) {
	svc, store := newService(t, clock.NewVirtual(time.Now()), nil)
	ctx := context.Background()
	c, err := svc.Create(ctx, &presence.APIKey{ID: "k"}, session.CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var frames []session.Frame
	for range 5 {
		frames = append(frames, session.Frame{Data: presencetest.PNGHeader(3000, 3000, 8, 6)}) // 63 MB each
	}
	_, err = svc.SubmitFrames(ctx, c.Session.ID, c.ClientToken, frames)
	if presence.ErrorCodeOf(err) != presence.ErrImageTooLarge || !strings.Contains(presence.ErrorMessage(err), "together") {
		t.Fatalf("five large frames: %v", err)
	}
	if s, _ := store.Session(ctx, c.Session.ID); s.TokenUsedAt != nil || s.Status != presence.StatusCreated {
		t.Fatalf("a refused upload changed the session: %+v", s)
	}
}

// TestAuditImagesAreSealed: evidence frames are stored sealed like
// templates (they were stored as plain JPEG bytes), read back whole by the
// relying party, and resealed by key rotation.
func TestAuditImagesAreSealed(t *testing.T) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	oldKey, _, _ := seal.NewKey()
	sealer, _ := seal.New(oldKey)
	face := presence.Embedding{1, 0, 0}
	eng := fakeEngine{analyze: func(context.Context, *presence.Image, engine.Options) (*presence.Analysis, error) {
		score := 0.9
		return &presence.Analysis{Decision: presence.DecisionRealFace, Score: &score, Reasons: []presence.Reason{}, Faces: []presence.Box{{X2: 10, Y2: 10}},
			Face: &presence.FaceAnalysis{Embedding: face}}, nil
	}}
	svc := session.New(session.Config{Store: store, Engine: eng, Sealer: sealer, Clock: clock.NewVirtual(time.Now())})
	c, err := svc.Create(ctx, &presence.APIKey{ID: "k"}, session.CreateRequest{AuditImages: 1})
	if err != nil {
		t.Fatal(err)
	}
	photo := presencetest.ReadFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg"))
	if _, err := svc.SubmitFrames(ctx, c.Session.ID, c.ClientToken, []session.Frame{{Data: photo}}); err != nil {
		t.Fatal(err)
	}
	raw, err := store.AuditImages(ctx, c.Session.ID)
	if err != nil || len(raw) != 1 || !seal.IsSealed(raw[0].Data) || bytes.Contains(raw[0].Data, photo[:64]) {
		t.Fatalf("stored image not sealed: %d images, %v", len(raw), err)
	}
	if v, err := svc.Get(ctx, c.Session.ID); err != nil || len(v.AuditImages) != 1 || !bytes.Equal(v.AuditImages[0].Data, photo) {
		t.Fatalf("read back: %v", err)
	}
	// Key rotation reseals it; the new key alone opens it afterwards.
	newKey, _, _ := seal.NewKey()
	both, _ := seal.New(newKey, oldKey)
	report, err := seal.Rotate(ctx, store, both)
	if err != nil || report.Resealed["image"] != 1 {
		t.Fatalf("rotation: %+v %v", report, err)
	}
	only, _ := seal.New(newKey)
	after := session.New(session.Config{Store: store, Engine: eng, Sealer: only, Clock: clock.NewVirtual(time.Now())})
	if v, err := after.Get(ctx, c.Session.ID); err != nil || !bytes.Equal(v.AuditImages[0].Data, photo) {
		t.Fatalf("after rotation: %v", err)
	}
}
