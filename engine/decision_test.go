package engine

import (
	"testing"

	"presence"
)

// TestGuidanceNamesTheFix: each failing measure gives the advice that
// fixes it, one at a time.
func TestGuidanceNamesTheFix(t *testing.T) {
	th := DefaultThresholds()
	good := presence.Quality{FaceCount: 1, FaceSize: 200, FaceHeightFraction: 0.4, Brightness: 120, BackgroundBrightness: 120, Sharpness: 300}
	if rs := QualityReasons(good, th); len(rs) != 0 {
		t.Fatalf("a good face was sent back: %v", rs)
	}
	for name, c := range map[string]struct {
		change func(q *presence.Quality)
		want   presence.ReasonCode
	}{
		"face filling the frame, cut off": {func(q *presence.Quality) { q.OutsideFraction, q.FaceHeightFraction = 0.3, 0.8 }, presence.ReasonFaceTooClose},
		"face off centre, cut off":        {func(q *presence.Quality) { q.OutsideFraction = 0.3 }, presence.ReasonFaceCutOff},
		"small face":                      {func(q *presence.Quality) { q.FaceSize = 40 }, presence.ReasonFaceTooSmall},
		"dark face":                       {func(q *presence.Quality) { q.Brightness = 30 }, presence.ReasonTooDark},
		"dark face, bright window behind": {func(q *presence.Quality) { q.Brightness, q.BackgroundBrightness = 30, 200 }, presence.ReasonBacklit},
		"blown out":                       {func(q *presence.Quality) { q.BrightFraction = 0.8 }, presence.ReasonTooBright},
		"bright but not blown":            {func(q *presence.Quality) { q.Brightness, q.BrightFraction = 235, 0.6 }, ""},
		"bright window behind a lit face": {func(q *presence.Quality) { q.BackgroundBrightness = 240 }, ""},
		"blurred":                         {func(q *presence.Quality) { q.Sharpness = 10 }, presence.ReasonTooBlurry},
		"turned":                          {func(q *presence.Quality) { q.Yaw = 50 }, presence.ReasonPoseOutOfRange},
		"eyes closed":                     {func(q *presence.Quality) { q.LeftEyeOpen, q.RightEyeOpen, q.EyeAspectRatio = 0.01, 0.01, 0.05 }, ""},
	} {
		q := good
		c.change(&q)
		rs := QualityReasons(q, th)
		switch {
		case c.want == "" && len(rs) != 0:
			t.Errorf("%s: sent back with %v", name, rs)
		case c.want != "" && (len(rs) != 1 || rs[0].Code != c.want):
			t.Errorf("%s: %v, want %s", name, rs, c.want)
		}
	}
}
