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
		"one of two passes":           {[]*presence.Analysis{frame(0.9, 1, 0), frame(0.2, 1, 0.1)}, presence.DecisionFake, 0.2},
		"one of three passes":         {[]*presence.Analysis{frame(0.1, 1, 0), frame(0.95, 1, 0), frame(0.3, 1, 0)}, presence.DecisionFake, 0.3},
		"two of three pass":           {[]*presence.Analysis{frame(0.1, 1, 0), frame(0.95, 1, 0), frame(0.8, 1, 0)}, presence.DecisionRealFace, 0.8},
		"two of four pass":            {[]*presence.Analysis{frame(0.9, 1, 0), frame(0.9, 1, 0), frame(0.1, 1, 0), frame(0.2, 1, 0)}, presence.DecisionFake, 0.2},
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
