package session_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"presence"
	"presence/engine/enginetest"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
)

func newService(t *testing.T, now func() time.Time) (*session.Service, *sqlstore.DB) {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	k, _, _ := seal.NewKey()
	sealer, _ := seal.New(k)
	return session.New(session.Config{Store: store, Engine: enginetest.Engine(t), Sealer: sealer, Now: now}), store
}

func TestCreateValidation(t *testing.T) {
	svc, _ := newService(t, time.Now)
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
	svc, store := newService(t, time.Now)
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
	now := time.Now()
	clock := func() time.Time { return now }
	svc, store := newService(t, clock)
	ctx := context.Background()
	c, err := svc.Create(ctx, &presence.APIKey{ID: "k"}, session.CreateRequest{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if expired, purged, err := svc.Sweep(ctx, time.Hour); err != nil || expired != 1 || purged != 0 {
		t.Fatalf("sweep: %d %d %v", expired, purged, err)
	}
	now = now.Add(2 * time.Hour)
	if _, purged, err := svc.Sweep(ctx, time.Hour); err != nil || purged != 1 {
		t.Fatalf("retention: %d %v", purged, err)
	}
	if _, err := store.Session(ctx, c.Session.ID); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatal("session outlived the retention")
	}
}
