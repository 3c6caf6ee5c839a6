package session_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"presence"
	"presence/engine"
	"presence/engine/enginetest"
	"presence/liveness"
	"presence/presencetest"
	"presence/session"
	"presence/vision"
)

// reflection simulates a screen's light on a face: from the ready
// message's light plan, each frame's face (the detector's box, as an
// ellipse) is lit by the colour shown delay before its capture (the
// camera's latency), shift later in the sequence (0: the right colours),
// by strength (0.15: a bright screen a forearm away, indoors). plan, when
// set, replaces the server's colours (a sequence the server did not ask).
type reflection struct {
	boxes    map[time.Duration]presence.Box
	strength float64
	delay    time.Duration
	shift    time.Duration
	plan     *liveness.LightPlan
}

func (r reflection) apply(t *testing.T, start time.Duration) func(ready map[string]any, f session.RecordedFrame) []byte {
	return func(ready map[string]any, f session.RecordedFrame) []byte {
		plan := r.plan
		if plan == nil {
			raw, _ := json.Marshal(ready["light"])
			plan = &liveness.LightPlan{}
			if json.Unmarshal(raw, plan) != nil || len(plan.Colors) == 0 {
				return f.Data
			}
		}
		box, ok := r.boxes[f.At]
		if !ok {
			return f.Data
		}
		colour, _ := plan.ColorAt(float64((f.At - start - r.delay + r.shift).Milliseconds()))
		return presencetest.LightUp(t, f.Data, box, colour, r.strength)
	}
}

// faceBoxes finds the face in each frame, once.
func faceBoxes(t *testing.T, frames []session.RecordedFrame) map[time.Duration]presence.Box {
	eng := enginetest.Engine(t)
	out := map[time.Duration]presence.Box{}
	for _, f := range frames {
		img, _, err := vision.Decode(f.Data, vision.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		a, err := eng.Analyze(context.Background(), img, engine.Options{SkipLiveness: true, SkipEmbedding: true})
		if err != nil {
			t.Fatal(err)
		}
		if a.Face != nil {
			out[f.At] = a.Face.Box
		}
	}
	return out
}

func lightOutcome(s *presence.Session) string {
	if s.Verdict == nil {
		return ""
	}
	var c struct {
		Light json.RawMessage `json:"light"`
	}
	json.Unmarshal(s.Verdict.Challenge, &c)
	return string(c.Light)
}

// TestLightChallenge streams real clip frames into light-challenge
// sessions: with the screen's colours simulated on the face they pass;
// without them, with the colours shifted in time or from another
// sequence, or replayed into a new session, they do not.
func TestLightChallenge(t *testing.T) {
	ctx := context.Background()
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)
	boxes := faceBoxes(t, talk[:100])
	lit := reflection{boxes: boxes, strength: 0.15, delay: 100 * time.Millisecond}
	// Each run on a fresh store: overlapping runs of one clip are replays
	// of each other, which is another check's business.
	run := func(frames []session.RecordedFrame, r *reflection) *presence.Session {
		t.Helper()
		e := newStreamEnv(t, blinkPolicy())
		c, err := e.svc.Create(ctx, &presence.APIKey{ID: "k"}, session.CreateRequest{Mode: presence.ModePassive, Light: true})
		if err != nil {
			t.Fatal(err)
		}
		p := &session.Playback{Token: c.ClientToken, Frames: frames, LightStart: true}
		if r != nil {
			p.Transform = r.apply(t, frames[0].At)
		}
		return e.play(c.Session.ID, p)
	}
	passed := 0
	offsets := []int{0, 10, 20, 30, 40}
	for _, off := range offsets {
		s := run(talk[off:off+50], &lit)
		t.Logf("lit from %d: %s %s %s", off, s.Verdict.Decision, reasons(s.Verdict), lightOutcome(s))
		if s.Verdict.Decision == presence.DecisionRealFace {
			passed++
		}
	}
	if passed*100 < 95*len(offsets) {
		t.Errorf("simulated reflections passed from %d of %d offsets", passed, len(offsets))
	}
	other, _ := liveness.NewLightPlan(nil)
	for name, r := range map[string]*reflection{
		"untinted":       nil,
		"shifted 700 ms": {boxes: boxes, strength: 0.15, delay: 100 * time.Millisecond, shift: 700 * time.Millisecond},
		"other sequence": {boxes: boxes, strength: 0.15, delay: 100 * time.Millisecond, plan: &other},
	} {
		s := run(talk[50:100], r)
		t.Logf("%s: %s %s %s", name, s.Verdict.Decision, reasons(s.Verdict), lightOutcome(s))
		if s.Verdict.Decision == presence.DecisionRealFace {
			t.Errorf("%s passed the light challenge", name)
		}
	}
}

// TestLightChallengeRefusesOtherSequences: frames lit by one sequence,
// judged against 1,000 other random sequences (a recording made for another
// session, or a guess): none passes, while the right one does. Seeded, so
// the count is the same every run; the figure is in docs/active.md.
func TestLightChallengeRefusesOtherSequences(t *testing.T) {
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)[10:60]
	boxes := faceBoxes(t, talk)
	seeded := rand.NewChaCha8([32]byte{7}) // an io.Reader
	plan, err := liveness.NewLightPlan(seeded)
	if err != nil {
		t.Fatal(err)
	}
	r := reflection{boxes: boxes, strength: 0.15, delay: 100 * time.Millisecond, plan: &plan}
	apply := r.apply(t, talk[0].At)
	type sample struct {
		ts float64
		s  vision.LightSample
	}
	var samples []sample
	for _, f := range talk {
		img, _, err := vision.Decode(apply(nil, f), vision.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if box, ok := boxes[f.At]; ok {
			samples = append(samples, sample{float64(f.At.Milliseconds()), vision.SampleLight(img, box)})
		}
	}
	judge := func(p liveness.LightPlan) (liveness.LightOutcome, presence.ReasonCode) {
		c := liveness.NewLightCheck(p, liveness.DefaultLightRule())
		c.Start(float64(talk[0].At.Milliseconds()))
		for _, s := range samples {
			c.Observe(s.ts, s.s)
		}
		return c.Judge()
	}
	if out, reason := judge(plan); reason != "" {
		t.Fatalf("the right sequence: %s %+v", reason, out)
	}
	passed, highest := 0, -1.0
	for range 1000 {
		other, _ := liveness.NewLightPlan(seeded)
		out, reason := judge(other)
		highest = max(highest, out.Correlation)
		if reason == "" {
			passed++
		}
	}
	t.Logf("1000 other sequences: %d passed, highest correlation %.3f (threshold %.2f)", passed, highest, liveness.DefaultLightRule().MinCorrelation)
	if passed != 0 {
		t.Errorf("%d of 1000 other sequences passed", passed)
	}
}
