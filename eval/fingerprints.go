package eval

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"time"

	"presence"
	"presence/liveness"
	"presence/vision"
)

// FingerprintClip is one clip's frames as a session would fingerprint
// them: every frame in order, as sent, and the same frames re-encoded (a
// replay that is not byte for byte).
type FingerprintClip struct {
	Name       string
	FPS        int
	Frames     []presence.FrameHash
	Reencoded  []presence.FrameHash
	AttackType string
	// Footage names the recording a clip was made from (labels.csv's
	// subject column): a deepfake made from a recording shows that
	// recording's room and movement, so a session made from it is a
	// manipulated replay of the other, not a false replay.
	Footage string
}

// FingerprintStudy cuts clips into sessions and asks, for every pair of
// them, whether the later would be refused as a replay of the earlier
// under the replay rule.
type FingerprintStudy struct {
	Rule liveness.GuardRule
	// Segment is the length of a session; Gap the least time between two
	// sessions cut from one clip (a person checking again a moment
	// later).
	Segment, Gap time.Duration
}

// FingerprintReport says how often the replay rule is wrong each way.
type FingerprintReport struct {
	Clips, Sessions int
	Segment, Gap    string
	Rule            string
	// Live person again, same clip: non-overlapping sessions of one clip.
	SameClipPairs, SameClipFlagged, SameClipFramesHit int
	// Different clips (different people, rooms or cameras).
	CrossClipPairs, CrossClipFlagged, CrossClipFramesHit int
	// Different clips made from one recording (a deepfake and its
	// source): refusing one after the other is right.
	SameFootagePairs, SameFootageFlagged int
	// Replays: each session sent again byte for byte, re-encoded, and
	// re-encoded from half way through (the replay overlaps the original
	// by half).
	Replays, ReplaysCaught                 int
	Reencoded, ReencodedCaught             int
	HalfOverlapping, HalfOverlappingCaught int
	// ClosestSameClip is the smallest distance in bits between frames of
	// two non-overlapping sessions of one clip, over all clips.
	ClosestSameClip int
	Flagged         []string `json:",omitempty"`
	Generated       string
}

type segment struct {
	clip       int
	start, end int // frame indexes, end exclusive
}

// RunFingerprints runs the study over clips.
func RunFingerprints(clips []FingerprintClip, s FingerprintStudy) *FingerprintReport {
	r := &FingerprintReport{Clips: len(clips), Segment: s.Segment.String(), Gap: s.Gap.String(), ClosestSameClip: 256,
		Rule: fmt.Sprintf("one frame with the same pixels, or %d frames in a row each within %d bit(s) of one earlier session's frames, in their order, those frames moving", s.Rule.SimilarFrames, s.Rule.LoopDistance)}
	var segs []segment
	for ci, c := range clips {
		n := int(s.Segment.Seconds() * float64(c.FPS))
		step := n + int(s.Gap.Seconds()*float64(c.FPS))
		for start := 0; n > 0 && start+n <= len(c.Frames); start += step {
			segs = append(segs, segment{ci, start, start + n})
		}
	}
	r.Sessions = len(segs)
	for _, a := range segs {
		for _, b := range segs {
			if a == b {
				continue
			}
			same := a.clip == b.clip
			if same && a.start < b.end && b.start < a.end {
				continue // overlapping: a replay, counted below
			}
			stored := clips[a.clip].Frames[a.start:a.end]
			hits, flagged, samePixels, closest := replayWhy(stored, clips[b.clip].Frames[b.start:b.end], s.Rule)
			if !same && clips[a.clip].Footage != "" && clips[a.clip].Footage == clips[b.clip].Footage {
				r.SameFootagePairs++
				if flagged {
					r.SameFootageFlagged++
				}
				continue
			}
			if same {
				r.SameClipPairs++
				r.SameClipFramesHit += hits
				r.ClosestSameClip = min(r.ClosestSameClip, closest)
			} else {
				r.CrossClipPairs++
				r.CrossClipFramesHit += hits
			}
			if flagged {
				if same {
					r.SameClipFlagged++
				} else {
					r.CrossClipFlagged++
				}
				why := "a similar run"
				if samePixels {
					why = "the same pixels"
				}
				r.Flagged = append(r.Flagged, fmt.Sprintf("%s@%d flagged as a replay of %s@%d (%s)", clips[b.clip].Name, b.start, clips[a.clip].Name, a.start, why))
			}
		}
	}
	for _, a := range segs {
		c := clips[a.clip]
		stored := c.Frames[a.start:a.end]
		r.Replays++
		if _, ok, _ := replayOf(stored, stored, s.Rule); ok {
			r.ReplaysCaught++
		}
		if len(c.Reencoded) == len(c.Frames) {
			r.Reencoded++
			if _, ok, _ := replayOf(stored, c.Reencoded[a.start:a.end], s.Rule); ok {
				r.ReencodedCaught++
			}
			half := (a.end - a.start) / 2
			if a.end+half <= len(c.Frames) {
				r.HalfOverlapping++
				if _, ok, _ := replayOf(stored, c.Reencoded[a.start+half:a.end+half], s.Rule); ok {
					r.HalfOverlappingCaught++
				}
			}
		}
	}
	return r
}

// replayOf plays sent against the fingerprints of one stored session as
// the service does (session.stream, liveness.ReplayTally) and returns how
// many frames were sighted, whether the session was refused and the
// closest distance seen.
func replayOf(stored, sent []presence.FrameHash, rule liveness.GuardRule) (hits int, flagged bool, closest int) {
	hits, flagged, _, closest = replayWhy(stored, sent, rule)
	return hits, flagged, closest
}

// replayWhy is replayOf, saying also whether the same pixels decided.
func replayWhy(stored, sent []presence.FrameHash, rule liveness.GuardRule) (hits int, flagged, samePixels bool, closest int) {
	tally := liveness.NewReplayTally("new", rule)
	closest = 256
	for _, f := range sent {
		var sightings []presence.Sighting
		for _, st := range stored {
			d := vision.Hash(f.Perceptual).Distance(vision.Hash(st.Perceptual))
			closest = min(closest, d)
			if exact := bytes.Equal(f.SHA256, st.SHA256); exact || d <= rule.LoopDistance {
				sightings = append(sightings, presence.Sighting{SessionID: "old", Seq: st.Seq, Perceptual: st.Perceptual, Exact: exact})
			}
		}
		if len(sightings) > 0 {
			hits++
		}
		if _, ok := tally.Add(sightings); ok && !flagged {
			flagged = true
			for _, s := range sightings {
				samePixels = samePixels || s.Exact
			}
		}
	}
	return hits, flagged, samePixels, closest
}

// WriteText prints the study.
func (r *FingerprintReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Replay fingerprints: %d clips cut into %d sessions of %s, sessions of one clip at least %s apart\n", r.Clips, r.Sessions, r.Segment, r.Gap)
	fmt.Fprintf(w, "Rule: %s\n\n", r.Rule)
	fmt.Fprintf(w, "false replays, same clip (a person checking again): %d of %d session pairs (%d frames within the distance; closest frames %d bits apart)\n",
		r.SameClipFlagged, r.SameClipPairs, r.SameClipFramesHit, r.ClosestSameClip)
	fmt.Fprintf(w, "false replays, different clips:                     %d of %d session pairs (%d frames within the distance)\n", r.CrossClipFlagged, r.CrossClipPairs, r.CrossClipFramesHit)
	if r.SameFootagePairs > 0 {
		fmt.Fprintf(w, "refused, another clip of the same recording:        %d of %d session pairs (a deepfake and its source)\n", r.SameFootageFlagged, r.SameFootagePairs)
	}
	fmt.Fprintf(w, "replays refused, same pixels:                       %d of %d\n", r.ReplaysCaught, r.Replays)
	fmt.Fprintf(w, "replays refused, re-encoded:                        %d of %d\n", r.ReencodedCaught, r.Reencoded)
	fmt.Fprintf(w, "replays refused, re-encoded, overlapping by half:   %d of %d\n", r.HalfOverlappingCaught, r.HalfOverlapping)
	for _, f := range r.Flagged {
		fmt.Fprintln(w, "  "+f)
	}
}

var fingerprintPage = template.Must(template.New("fp").Parse(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Replay fingerprints</title>
<body><h1>Replay fingerprints</h1><p>Generated {{.Generated}}</p><pre>{{.Text}}</pre></body></html>
`))

// WriteHTML writes the same as WriteText as a page.
func (r *FingerprintReport) WriteHTML(w io.Writer) error {
	var text bytes.Buffer
	r.WriteText(&text)
	return fingerprintPage.Execute(w, struct{ Generated, Text string }{r.Generated, text.String()})
}
