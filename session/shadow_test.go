package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/engine"
	"presence/engine/enginetest"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
)

// A stream judged in shadow by a much stricter candidate gets the same
// verdict, and sends the device the same messages, as one without: the
// candidate's decision is only recorded.
func TestStreamShadowNeverChangesTheVerdict(t *testing.T) {
	// A candidate whose face-size gate no face of the clip passes.
	strict := engine.DefaultThresholds()
	strict.MinFaceSize = 4000
	candidate, err := enginetest.Open(t, strict, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer candidate.Close()
	frames := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)[:40]
	run := func(shadow *session.Shadow) (*presence.Session, []map[string]any, *sqlstore.DB) {
		store, err := sqlstore.Open(context.Background(), t.TempDir()+"/p.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if shadow != nil {
			shadow.Store = store
		}
		k, _, _ := seal.NewKey()
		sealer, _ := seal.New(k)
		clk := clock.NewVirtual(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
		svc := session.New(session.Config{Store: store, Engine: enginetest.Engine(t), Sealer: sealer, Clock: clk, Shadow: shadow})
		c, err := svc.Create(context.Background(), &presence.APIKey{ID: "k"}, session.CreateRequest{Mode: presence.ModePassive})
		if err != nil {
			t.Fatal(err)
		}
		p := &session.Playback{Clock: clk, Token: c.ClientToken, Frames: frames}
		svc.Stream(context.Background(), c.Session.ID, p)
		sess, err := store.Session(context.Background(), c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		return sess, p.Events(), store
	}
	plain, plainEvents, _ := run(nil)
	shadowed, shadowEvents, store := run(&session.Shadow{Engine: candidate, Share: 1})
	if plain.Verdict.Decision != presence.DecisionRealFace || shadowed.Verdict.Decision != plain.Verdict.Decision || *shadowed.Verdict.Score != *plain.Verdict.Score {
		t.Fatalf("verdicts: %s %v without the candidate, %s %v with it", plain.Verdict.Decision, *plain.Verdict.Score, shadowed.Verdict.Decision, *shadowed.Verdict.Score)
	}
	strip := func(events []map[string]any) string {
		var out []string
		for _, e := range events {
			if e["type"] == "ready" {
				delete(e, "nonce") // random per session
			}
			raw, _ := json.Marshal(e)
			out = append(out, string(raw))
		}
		return fmt.Sprint(out)
	}
	if a, b := strip(plainEvents), strip(shadowEvents); a != b {
		t.Fatalf("the device heard otherwise:\n%s\n%s", a, b)
	}
	results, err := store.ShadowResults(context.Background(), time.Time{}, 10)
	if err != nil || len(results) != 1 {
		t.Fatalf("shadow results %v %v", results, err)
	}
	r := results[0]
	t.Logf("real %s %.3f; candidate %s %v", r.Real.Decision, *r.Real.Score, r.Shadow.Decision, r.Shadow.Reasons)
	if r.Real.Decision != presence.DecisionRealFace || r.Shadow.Decision == presence.DecisionRealFace || r.Candidate != candidate.Manifest().ID() {
		t.Fatalf("shadow result %+v", r)
	}
}
