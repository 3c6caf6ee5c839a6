package session_test

import (
	"context"
	"math"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/engine/enginetest"
	"presence/presencetest"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
	"presence/vision/turbojpeg"
)

// TestScaledDecodingKeepsVerdicts: every dev photo (0.3-8 MP) checked with
// libjpeg-turbo decoding scaled in the DCT and with Go's decoder at full
// size: the same decision, and scores within the tolerance docs/
// performance.md states.
func TestScaledDecodingKeepsVerdicts(t *testing.T) {
	jd, err := turbojpeg.Open()
	if err != nil {
		t.Skip(err)
	}
	newSvc := func(jpeg bool) *session.Service {
		store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		k, _, _ := seal.NewKey()
		sealer, _ := seal.New(k)
		cfg := session.Config{Store: store, Engine: enginetest.Engine(t), Sealer: sealer, Clock: clock.NewVirtual(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))}
		if jpeg {
			cfg.JPEG = jd
		}
		return session.New(cfg)
	}
	scaled, full := newSvc(true), newSvc(false)
	check := func(svc *session.Service, data []byte) *presence.Verdict {
		c, err := svc.Create(context.Background(), &presence.APIKey{ID: "k"}, session.CreateRequest{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := svc.SubmitFrames(context.Background(), c.Session.ID, c.ClientToken, []session.Frame{{Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		return s.Verdict
	}
	photos, _ := filepath.Glob(filepath.Join(presencetest.DataDir(t, "fr_deepface_pairs"), "*.jpg"))
	sort.Strings(photos)
	worst, flips := 0.0, 0
	for _, p := range photos {
		data := presencetest.ReadFile(t, p)
		a, b := check(scaled, data), check(full, data)
		if a.Decision != b.Decision {
			flips++
			t.Errorf("%s: %s scaled, %s at full size (%v / %v)", filepath.Base(p), a.Decision, b.Decision, a.Reasons, b.Reasons)
		}
		if a.Score != nil && b.Score != nil && math.Abs(*a.Score-*b.Score) > 0.02 {
			t.Logf("%s: %.3f scaled, %.3f full, %s %s", filepath.Base(p), *a.Score, *b.Score, a.Decision, b.Decision)
		}
		if a.Score != nil && b.Score != nil {
			worst = math.Max(worst, math.Abs(*a.Score-*b.Score))
		}
	}
	t.Logf("%d photos: %d decisions differ, largest score difference %.4f", len(photos), flips, worst)
	if worst > 0.2 {
		t.Errorf("scores moved by up to %.3f", worst)
	}
}
