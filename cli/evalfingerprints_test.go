package cli

import (
	"path/filepath"
	"testing"
	"time"

	"presence/eval"
	"presence/liveness"
	"presence/presencetest"
	"presence/session"
)

// TestReplayRuleOnDevClips runs the cross-session replay rule over the
// live dev clips cut into 3-second sessions: no session may be taken for
// a replay of another clip or of another, non-overlapping part of its own
// clip (a person checking again), and every replay, with the same pixels
// or re-encoded, must be refused. The numbers are in docs/active.md
// (`presence eval fingerprints`).
func TestReplayRuleOnDevClips(t *testing.T) {
	proto := clipProtocol{FPS: 10, Width: 640, Quality: 4}
	cache := &clipFrames{proto: proto, tmp: t.TempDir(), frames: map[string][]session.RecordedFrame{}, errs: map[string]error{}}
	var clips []eval.FingerprintClip
	for _, dir := range []string{"video_live", "video_replay_dev"} {
		samples, _, err := eval.ReadLabels(presencetest.DataDir(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			if !s.Live {
				continue
			}
			frames, err := cache.load(s.File)
			if err != nil {
				t.Fatal(err)
			}
			c, err := FingerprintClipOf(filepath.Join(dir, s.Path), proto.FPS, frames)
			if err != nil {
				t.Fatal(err)
			}
			clips = append(clips, c)
		}
	}
	r := eval.RunFingerprints(clips, eval.FingerprintStudy{Rule: liveness.DefaultGuardRule(), Segment: 3 * time.Second})
	if r.SameClipPairs == 0 || r.CrossClipPairs == 0 {
		t.Fatalf("nothing compared: %+v", r)
	}
	if r.SameClipFlagged+r.CrossClipFlagged != 0 {
		t.Errorf("live sessions taken for replays: %v", r.Flagged)
	}
	if r.ReplaysCaught != r.Replays || r.ReencodedCaught != r.Reencoded {
		t.Errorf("replays got through: %d of %d with the same pixels, %d of %d re-encoded refused", r.ReplaysCaught, r.Replays, r.ReencodedCaught, r.Reencoded)
	}
}
