package liveness_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"presence"
	"presence/liveness"
	"presence/vision"
)

func meta(seq int, captureMS float64, at time.Duration, content string, h vision.Hash) liveness.FrameMeta {
	sum := sha256.Sum256([]byte(content))
	return liveness.FrameMeta{Seq: seq, CaptureMS: captureMS, Nonce: "n1", At: at, SHA256: sum[:], Hash: h}
}

// distinct returns a hash far from every other distinct(k).
func distinct(k int) vision.Hash {
	return vision.Hash{uint64(k) * 0x9E3779B97F4A7C15, uint64(k) * 0xC2B2AE3D27D4EB4F, uint64(k) * 0x165667B19E3779F9, uint64(k) ^ 0xFFFF}
}

func TestGuardAcceptsALiveStream(t *testing.T) {
	g := liveness.NewStreamGuard("n1", liveness.DefaultGuardRule())
	for i := 0; i < 100; i++ {
		// 10 fps captures arriving with 150 ms of network delay and jitter.
		at := time.Duration(i)*100*time.Millisecond + 150*time.Millisecond + time.Duration(i%3)*20*time.Millisecond
		if r := g.Check(meta(i+1, 5000+float64(i)*100, at, string(rune(i)), distinct(i+1))); r != "" {
			t.Fatalf("frame %d refused: %s", i, r)
		}
	}
}

func TestGuardRefuses(t *testing.T) {
	rule := liveness.DefaultGuardRule()
	cases := map[string]func(g *liveness.StreamGuard) presence.ReasonCode{
		"another session's nonce": func(g *liveness.StreamGuard) presence.ReasonCode {
			m := meta(1, 0, 0, "a", distinct(1))
			m.Nonce = "other"
			return g.Check(m)
		},
		"sequence going back": func(g *liveness.StreamGuard) presence.ReasonCode {
			g.Check(meta(5, 0, 0, "a", distinct(1)))
			return g.Check(meta(5, 100, 100*time.Millisecond, "b", distinct(2)))
		},
		"capture time going back": func(g *liveness.StreamGuard) presence.ReasonCode {
			g.Check(meta(1, 1000, 0, "a", distinct(1)))
			return g.Check(meta(2, 900, 100*time.Millisecond, "b", distinct(2)))
		},
		"frames faster than real time": func(g *liveness.StreamGuard) presence.ReasonCode {
			var r presence.ReasonCode
			// 30 frames claiming 3 s of capture arrive within 0.6 s.
			for i := 0; i < 30 && r == ""; i++ {
				r = g.Check(meta(i+1, float64(i)*100, time.Duration(i)*20*time.Millisecond, string(rune(i)), distinct(i+1)))
			}
			return r
		},
		"a still picture": func(g *liveness.StreamGuard) presence.ReasonCode {
			var r presence.ReasonCode
			for i := 0; i < 30 && r == ""; i++ {
				r = g.Check(meta(i+1, float64(i)*100, time.Duration(i)*100*time.Millisecond, "same bytes", distinct(1)))
			}
			return r
		},
		"a looping recording": func(g *liveness.StreamGuard) presence.ReasonCode {
			var r presence.ReasonCode
			// 25 distinct frames played twice at 10 fps.
			for i := 0; i < 50 && r == ""; i++ {
				r = g.Check(meta(i+1, float64(i)*100, time.Duration(i)*100*time.Millisecond, string(rune(i)), distinct(i%25+1)))
			}
			return r
		},
	}
	for name, run := range cases {
		if r := run(liveness.NewStreamGuard("n1", rule)); r == "" {
			t.Errorf("%s: accepted", name)
		}
	}
	// A few repeated frames (a camera that stalls, a duplicated video
	// frame) are fine.
	g := liveness.NewStreamGuard("n1", rule)
	for i := 0; i < 30; i++ {
		content := string(rune(i))
		if i%10 < 3 {
			content = "dup"
		}
		if r := g.Check(meta(i+1, float64(i)*100, time.Duration(i)*100*time.Millisecond, content, distinct(i+1))); r != "" {
			t.Fatalf("frame %d with short repeats refused: %s", i, r)
		}
	}
}

// TestGuardAcceptsAStillScene: an empty room, or people sitting still far
// from the camera, hash alike for seconds (camera noise flips a few bits,
// the bytes always differ). That is no loop: the scene never moved away.
func TestGuardAcceptsAStillScene(t *testing.T) {
	g := liveness.NewStreamGuard("n1", liveness.DefaultGuardRule())
	base := distinct(7)
	for i := 0; i < 150; i++ {
		h := base
		h[0] ^= uint64(i%3) << 5 // 0 or 1 bit of noise
		if i%10 == 0 {
			h[1] ^= 0b1011 // a 3-bit flicker now and then
		}
		at := time.Duration(i) * 66 * time.Millisecond
		if r := g.Check(meta(i+1, float64(i)*66, at, string(rune(i)), h)); r != "" {
			t.Fatalf("frame %d of a still scene refused: %s", i, r)
		}
	}
}

// TestGuardAcceptsAPersonReturningToAPose: a head turned away and back
// repeats the first pose, frame for frame close, but not a run of frames
// in their order; nor does holding the pose afterwards.
func TestGuardAcceptsAPersonReturningToAPose(t *testing.T) {
	g := liveness.NewStreamGuard("n1", liveness.DefaultGuardRule())
	// Poses 1..10 turning away, 10..1 coming back, then pose 1 held.
	var poses []int
	for p := 1; p <= 10; p++ {
		poses = append(poses, p)
	}
	for p := 10; p >= 1; p-- {
		poses = append(poses, p)
	}
	for range 20 {
		poses = append(poses, 1)
	}
	for i, p := range poses {
		at := time.Duration(i) * 100 * time.Millisecond
		if r := g.Check(meta(i+1, float64(i)*100, at, string(rune(i)), distinct(p))); r != "" {
			t.Fatalf("frame %d (pose %d) refused: %s", i, p, r)
		}
	}
}

// TestGuardForgivesALateFirstFrame: the first frame arrives 1.5 s late
// (a connection warming up), the rest in time: no timing anomaly. A stream
// that keeps running ahead of real time is still refused.
func TestGuardForgivesALateFirstFrame(t *testing.T) {
	g := liveness.NewStreamGuard("n1", liveness.DefaultGuardRule())
	for i := 0; i < 60; i++ {
		at := time.Duration(i)*100*time.Millisecond + 1500*time.Millisecond
		if i > 0 {
			at = time.Duration(i)*100*time.Millisecond + 100*time.Millisecond
			if at < 1600*time.Millisecond {
				at = 1600*time.Millisecond + time.Duration(i)*time.Millisecond // the burst behind it
			}
		}
		if r := g.Check(meta(i+1, float64(i)*100, at, string(rune(i)), distinct(i+1))); r != "" {
			t.Fatalf("frame %d at %v refused: %s", i, at, r)
		}
	}
	fast := liveness.NewStreamGuard("n1", liveness.DefaultGuardRule())
	var r presence.ReasonCode
	for i := 0; i < 100 && r == ""; i++ {
		// Injected at 3x real time, from the first frame on.
		r = fast.Check(meta(i+1, float64(i)*100, time.Duration(i)*33*time.Millisecond, string(rune(i)), distinct(i+1)))
	}
	if r != presence.ReasonTimingAnomaly {
		t.Fatalf("a stream at 3x real time: %q", r)
	}
}
