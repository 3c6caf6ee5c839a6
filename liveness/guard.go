package liveness

import (
	"bytes"
	"time"

	"presence"
	"presence/vision"
)

// FrameMeta is what a stream frame claims and what the server measured of
// it.
type FrameMeta struct {
	Seq       int
	CaptureMS float64 // the device's capture time, milliseconds
	Nonce     string
	At        time.Duration // server time since the stream started
	SHA256    []byte
	Hash      vision.Hash
}

// GuardRule holds the replay thresholds (docs/active.md has the
// measurements behind them).
type GuardRule struct {
	// ClockSlack: a frame cannot arrive before it was captured, so the
	// capture time elapsed since the first frame may exceed the server
	// time elapsed by at most this (the first frame's own delay).
	ClockSlack time.Duration
	// MaxGap is the longest pause between two captures.
	MaxGap time.Duration
	// FrozenFrames byte-identical frames in a row over FrozenSpan mean a
	// still picture is being injected: a camera never repeats its noise.
	FrozenFrames int
	FrozenSpan   time.Duration
	// LoopDistance, LoopAge and LoopMoved: a frame within LoopDistance
	// bits of one seen at least LoopAge earlier, when the stream moved at
	// least LoopMoved bits away from that frame in between, means the
	// stream loops a recording. A still scene (an empty room, people
	// sitting still far from the camera) never moves away, so it is never
	// taken for a loop.
	LoopDistance int
	LoopAge      time.Duration
	LoopMoved    int
	// LoopFrames consecutive frames must each repeat an earlier frame, in
	// the earlier frames' order, while those earlier frames moved among
	// themselves: a recording played again repeats its motion. A person
	// who turns their head and comes back repeats a pose, not a run of
	// frames in the same order (the way back runs the other way, and a
	// pose held still matches one earlier frame again and again).
	LoopFrames int
	// SimilarFrames consecutive frames, each within LoopDistance bits of
	// a frame of one earlier session, in that session's order, while those
	// earlier frames moved (first and last more than LoopDistance bits
	// apart), make the new session a replay of it; one frame with the same
	// pixels is enough (a camera never repeats its noise). Similar frames
	// alone are not: a still person before the same background comes
	// within a bit of their earlier frames (docs/active.md).
	SimilarFrames int
	// SimilarAmbiguity is the most frames of one earlier session a frame
	// may resemble and still count as repeating one of them: a frame like
	// many is a still scene seen again, not a recording.
	SimilarAmbiguity int
}

// DefaultGuardRule is measured on the dev clips (docs/active.md): in the
// two-person clip frames two seconds apart came within 1 bit, but never
// after the scene had moved 4 bits away; re-encoding a frame moved it at
// most 4 bits, consecutive frames of a talking head about 4.
func DefaultGuardRule() GuardRule {
	return GuardRule{ClockSlack: time.Second, MaxGap: 5 * time.Second, FrozenFrames: 10, FrozenSpan: time.Second, LoopDistance: 1, LoopAge: 2 * time.Second, LoopMoved: 6, LoopFrames: 3, SimilarFrames: 4, SimilarAmbiguity: 2}
}

// firstFrameGrace is how long after the first frame the timing baseline
// may move once to a frame that arrived sooner after its capture.
const firstFrameGrace = 3 * time.Second

// StreamGuard checks that a stream is bound to its session and is a live
// capture, not a replay: nonce, order, plausible timestamps, no frozen or
// looping frames.
type StreamGuard struct {
	rule  GuardRule
	nonce string
	n     int

	firstCapture float64
	firstAt      time.Duration
	rebased      bool
	lastSeq      int
	lastCapture  float64

	prevSHA   []byte
	sameRun   int
	sameSince time.Duration
	history   []seen
	// runs maps an earlier frame's index to the length of the run of
	// consecutive frames that ended on the previous frame and repeated
	// earlier frames in order up to that one, and where the run started.
	runs map[int]loopRun
}

type loopRun struct{ length, start int }

type seen struct {
	at   time.Duration
	hash vision.Hash
}

// NewStreamGuard guards a stream bound to nonce.
func NewStreamGuard(nonce string, rule GuardRule) *StreamGuard {
	return &StreamGuard{nonce: nonce, rule: rule}
}

// Check returns "" for a plausible live frame, or the reason the stream
// is refused.
func (g *StreamGuard) Check(f FrameMeta) presence.ReasonCode {
	if f.Nonce != g.nonce {
		return presence.ReasonReplayedFrame
	}
	g.n++
	if g.n == 1 {
		g.firstCapture, g.firstAt = f.CaptureMS, f.At
	} else {
		if f.Seq <= g.lastSeq || f.CaptureMS <= g.lastCapture || f.CaptureMS-g.lastCapture > float64(g.rule.MaxGap.Milliseconds()) {
			return presence.ReasonTimingAnomaly
		}
		captured := time.Duration((f.CaptureMS - g.firstCapture) * float64(time.Millisecond))
		if captured > f.At-g.firstAt+g.rule.ClockSlack {
			// The first frame can arrive late (a camera or a connection
			// warming up) and the next ones in a burst; the baseline moves
			// to the first on-time frame, once, early in the stream. A
			// stream faster than real time keeps running ahead and is
			// caught at its next step.
			if g.rebased || f.At-g.firstAt > firstFrameGrace {
				return presence.ReasonTimingAnomaly
			}
			g.rebased, g.firstCapture, g.firstAt = true, f.CaptureMS, f.At
		}
	}
	g.lastSeq, g.lastCapture = f.Seq, f.CaptureMS

	if g.prevSHA != nil && bytes.Equal(f.SHA256, g.prevSHA) {
		if g.sameRun == 0 {
			g.sameSince = f.At
		}
		g.sameRun++
		if g.sameRun+1 >= g.rule.FrozenFrames && f.At-g.sameSince >= g.rule.FrozenSpan {
			return presence.ReasonReplayedFrame
		}
	} else {
		g.sameRun = 0
	}
	g.prevSHA = f.SHA256

	runs := map[int]loopRun{}
	looped := false
	for i, s := range g.history {
		if f.At-s.at < g.rule.LoopAge {
			break
		}
		if f.Hash.Distance(s.hash) > g.rule.LoopDistance || !g.movedAfter(i) {
			continue
		}
		// Continue the longest run that repeated one of the few frames
		// before this one (a replay may drop or double a frame).
		r := loopRun{length: 1, start: i}
		for back := 1; back <= 3 && i-back >= 0; back++ {
			if prev, ok := g.runs[i-back]; ok && prev.length+1 > r.length {
				r = loopRun{length: prev.length + 1, start: prev.start}
			}
		}
		runs[i] = r
		minLen := max(g.rule.LoopFrames, 1)
		if r.length >= minLen && (minLen == 1 || g.history[r.start].hash.Distance(s.hash) > g.rule.LoopDistance) {
			looped = true
		}
	}
	g.runs = runs
	g.history = append(g.history, seen{f.At, f.Hash})
	if looped {
		return presence.ReasonReplayedFrame
	}
	return ""
}

// movedAfter says whether a frame after history[i] was LoopMoved bits or
// more away from it.
func (g *StreamGuard) movedAfter(i int) bool {
	for _, later := range g.history[i+1:] {
		if later.hash.Distance(g.history[i].hash) >= g.rule.LoopMoved {
			return true
		}
	}
	return false
}

// ReplayTally follows, over the frames of one session, the sightings of
// those frames in earlier sessions' fingerprints.
type ReplayTally struct {
	rule GuardRule
	self string
	// runs maps an earlier session and frame to the run of consecutive
	// frames of this session that ended on the previous frame and
	// repeated that session's frames in order up to that one.
	runs map[sightingKey]replayRun
}

type sightingKey struct {
	session string
	seq     int
}

type replayRun struct {
	length int
	first  vision.Hash
}

// NewReplayTally tallies for session self under rule.
func NewReplayTally(self string, rule GuardRule) *ReplayTally {
	return &ReplayTally{rule: rule, self: self}
}

// Add records one frame's sightings and returns the earlier session it
// replays once the evidence is strong: one frame with the same pixels, or
// SimilarFrames frames in a row repeating that session's moving frames in
// order.
func (t *ReplayTally) Add(sightings []presence.Sighting) (string, bool) {
	runs := map[sightingKey]replayRun{}
	perSession := map[string]int{}
	for _, s := range sightings {
		if s.Exact && s.SessionID != t.self {
			return s.SessionID, true
		}
		perSession[s.SessionID]++
	}
	for _, s := range sightings {
		// A frame like several of one session's frames is a still scene
		// seen again, not a recording: a replay repeats one frame, or two
		// where the recording barely moved.
		if s.SessionID == t.self || perSession[s.SessionID] > max(t.rule.SimilarAmbiguity, 1) {
			continue
		}
		key := sightingKey{s.SessionID, s.Seq}
		r := replayRun{length: 1, first: vision.Hash(s.Perceptual)}
		// The replay, or the earlier session, may have dropped a frame or
		// two.
		for back := 1; back <= 3; back++ {
			if prev, ok := t.runs[sightingKey{s.SessionID, s.Seq - back}]; ok && prev.length+1 > r.length {
				r = replayRun{length: prev.length + 1, first: prev.first}
			}
		}
		if old, ok := runs[key]; !ok || r.length > old.length {
			runs[key] = r
		}
		if r.length >= max(t.rule.SimilarFrames, 1) && r.first.Distance(vision.Hash(s.Perceptual)) > t.rule.LoopDistance {
			return s.SessionID, true
		}
	}
	t.runs = runs
	return "", false
}
