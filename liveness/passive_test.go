package liveness

import (
	"testing"

	"presence"
)

func frame(score float64, emb ...float32) *presence.Analysis {
	e := presence.Embedding(emb)
	e.Normalize()
	d := presence.DecisionFake
	if score >= 0.5 {
		d = presence.DecisionRealFace
	}
	return &presence.Analysis{Decision: d, Score: &score, Face: &presence.FaceAnalysis{Embedding: e}}
}

func poor(codes ...presence.ReasonCode) *presence.Analysis {
	a := &presence.Analysis{Decision: presence.DecisionInconclusive}
	for _, c := range codes {
		a.Reasons = append(a.Reasons, presence.NewReason(c))
	}
	return a
}

var rule = PassiveRule{Liveness: 0.5, SameFace: 0.3}

func TestOneLuckyFrameDoesNotDecide(t *testing.T) {
	for name, c := range map[string]struct {
		frames []*presence.Analysis
		want   presence.Decision
		score  float64
	}{
		"single good frame":           {[]*presence.Analysis{frame(0.9, 1, 0)}, presence.DecisionRealFace, 0.9},
		"one of two passes":           {[]*presence.Analysis{frame(0.9, 1, 0), frame(0.2, 1, 0.1)}, presence.DecisionInconclusive, 0.2},
		"one of three passes":         {[]*presence.Analysis{frame(0.1, 1, 0), frame(0.95, 1, 0), frame(0.3, 1, 0)}, presence.DecisionFake, 0.3},
		"two of three pass":           {[]*presence.Analysis{frame(0.1, 1, 0), frame(0.95, 1, 0), frame(0.8, 1, 0)}, presence.DecisionRealFace, 0.8},
		"two of four pass":            {[]*presence.Analysis{frame(0.9, 1, 0), frame(0.9, 1, 0), frame(0.1, 1, 0), frame(0.2, 1, 0)}, presence.DecisionInconclusive, 0.2},
		"three of four pass":          {[]*presence.Analysis{frame(0.9, 1, 0), frame(0.9, 1, 0), frame(0.1, 1, 0), frame(0.7, 1, 0)}, presence.DecisionRealFace, 0.7},
		"poor frame set aside":        {[]*presence.Analysis{frame(0.9, 1, 0), poor(presence.ReasonTooBlurry)}, presence.DecisionRealFace, 0.9},
		"spoof frame with a poor one": {[]*presence.Analysis{frame(0.1, 1, 0), poor(presence.ReasonTooDark)}, presence.DecisionFake, 0.1},
	} {
		got := FusePassive(c.frames, rule)
		if got.Decision != c.want || got.Score == nil || *got.Score != c.score {
			t.Errorf("%s: %s %v, want %s %v", name, got.Decision, got.Score, c.want, c.score)
		}
	}
}

// TestFakeNeedsConfidentEvidence: with the shipped rule, a session is fake
// only when its fused score is low and most of its frames fail; a
// borderline score is inconclusive with its own reason.
func TestFakeNeedsConfidentEvidence(t *testing.T) {
	shipped := PassiveRule{Liveness: 0.5, ConfidentFake: 0.2, SameFace: 0.3}
	for name, c := range map[string]struct {
		scores []float64
		want   presence.Decision
		reason presence.ReasonCode
	}{
		"all clearly spoof":      {[]float64{0.01, 0.05, 0.02, 0.1}, presence.DecisionFake, presence.ReasonSpoofSuspected},
		"spoof with a lucky one": {[]float64{0.01, 0.05, 0.9, 0.1, 0.03, 0.02}, presence.DecisionFake, presence.ReasonSpoofSuspected},
		"borderline everywhere":  {[]float64{0.3, 0.35, 0.25, 0.4}, presence.DecisionInconclusive, presence.ReasonLivenessUncertain},
		"low median, split":      {[]float64{0.1, 0.1, 0.15, 0.9, 0.9, 0.8}, presence.DecisionInconclusive, presence.ReasonLivenessUncertain},
		"live":                   {[]float64{0.6, 0.9, 0.3, 0.8}, presence.DecisionRealFace, ""},
	} {
		var frames []*presence.Analysis
		for _, s := range c.scores {
			frames = append(frames, frame(s, 1, 0))
		}
		got := FusePassive(frames, shipped)
		if got.Decision != c.want || (c.reason != "" && (len(got.Reasons) != 1 || got.Reasons[0].Code != c.reason)) {
			t.Errorf("%s: %s %+v, want %s %s", name, got.Decision, got.Reasons, c.want, c.reason)
		}
	}
}

// TestAFewOddFramesAmongManyAreSetAside: in a stream's ten frames, two
// whose template drifted (a turned head) are set aside; three of ten, or
// one of three, mean the face changed.
func TestAFewOddFramesAmongManyAreSetAside(t *testing.T) {
	build := func(n, odd int) []*presence.Analysis {
		var out []*presence.Analysis
		for i := range n {
			if i < odd {
				out = append(out, frame(0.1, 0, 1, 0))
			} else {
				out = append(out, frame(0.9, 1, 0, 0))
			}
		}
		return out
	}
	if got := FusePassive(build(10, 2), rule); got.Decision != presence.DecisionRealFace || len(got.Judged) != 8 || *got.Score != 0.9 {
		t.Errorf("two odd of ten: %s %v judged %d", got.Decision, got.Score, len(got.Judged))
	}
	for _, c := range [][2]int{{10, 3}, {3, 1}} {
		if got := FusePassive(build(c[0], c[1]), rule); got.Decision != presence.DecisionInconclusive || got.Reasons[0].Code != presence.ReasonFaceChanged {
			t.Errorf("%d odd of %d: %s %+v", c[1], c[0], got.Decision, got.Reasons)
		}
	}
}

func TestMostlyPoorFramesAreInconclusiveWithGuidance(t *testing.T) {
	got := FusePassive([]*presence.Analysis{
		frame(0.99, 1, 0),
		poor(presence.ReasonTooDark),
		poor(presence.ReasonTooDark, presence.ReasonTooBlurry),
	}, rule)
	if got.Decision != presence.DecisionInconclusive || got.Score != nil {
		t.Fatalf("%+v", got)
	}
	if len(got.Reasons) != 2 || got.Reasons[0].Code != presence.ReasonTooDark || got.Reasons[0].Message == "" {
		t.Fatalf("reasons %+v", got.Reasons)
	}
	if none := FusePassive([]*presence.Analysis{poor()}, rule); none.Decision != presence.DecisionInconclusive || len(none.Reasons) == 0 {
		t.Fatalf("no reasons given: %+v", none)
	}
}

func TestFaceMustStayTheSame(t *testing.T) {
	got := FusePassive([]*presence.Analysis{frame(0.9, 1, 0, 0), frame(0.9, 0, 1, 0)}, rule)
	if got.Decision != presence.DecisionInconclusive || len(got.Reasons) != 1 || got.Reasons[0].Code != presence.ReasonFaceChanged {
		t.Fatalf("%+v", got)
	}
	same := FusePassive([]*presence.Analysis{frame(0.9, 1, 0.1, 0), frame(0.9, 1, 0, 0.1)}, rule)
	if same.Decision != presence.DecisionRealFace || len(same.Embedding) != 3 {
		t.Fatalf("%+v", same)
	}
	if s := same.Embedding.Similarity(presence.Embedding{1, 0.05, 0.05}); s < 0.999 {
		t.Errorf("mean template off: %v", s)
	}
}

// TestGuidanceDoesNotFlicker: advice that changes every frame reaches the
// device once; a change that holds for three frames goes through.
func TestGuidanceDoesNotFlicker(t *testing.T) {
	var g guidance
	var sent []presence.ReasonCode
	feed := func(codes ...presence.ReasonCode) {
		for _, c := range codes {
			if ev, ok := g.next(c); ok {
				sent = append(sent, ev.Code)
			}
		}
	}
	feed(presence.ReasonTooDark)
	feed(presence.ReasonTooBlurry, presence.ReasonTooDark, presence.ReasonTooBlurry, presence.ReasonTooDark, "ok", presence.ReasonTooDark)
	if len(sent) != 1 || sent[0] != presence.ReasonTooDark {
		t.Fatalf("flickering input sent %v", sent)
	}
	feed("ok", "ok", "ok")
	if len(sent) != 2 || sent[1] != "ok" {
		t.Fatalf("a change held for three frames: sent %v", sent)
	}
}
