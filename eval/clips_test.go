package eval

import (
	"bytes"
	"strings"
	"testing"

	"presence"
)

func TestClipReportCountsRunsAndClips(t *testing.T) {
	run := func(d presence.Decision, secs float64, reasons ...string) ClipRun {
		return ClipRun{Decision: d, Seconds: secs, Reasons: reasons}
	}
	R, F, I := presence.DecisionRealFace, presence.DecisionFake, presence.DecisionInconclusive
	live := func(path, subject string, runs ...ClipRun) ClipResult {
		return ClipResult{Sample: Sample{Path: path, Live: true}, Subject: subject, Mode: presence.ModePassive, Runs: runs}
	}
	var twenty []ClipRun
	for range 19 {
		twenty = append(twenty, run(R, 1))
	}
	twenty = append(twenty, run(I, 15, "too_dark"))
	results := []ClipResult{
		live("a.mp4", "alice", twenty...),
		live("b.mp4", "bob", run(R, 2), run(I, 15, "multiple_faces"), run(F, 1, "replayed_frame")),
		{Sample: Sample{Path: "replay.mp4", AttackType: "video_replay"}, Subject: "bob", Mode: presence.ModePassive, Runs: []ClipRun{run(F, 1), run(R, 3)}},
		{Sample: Sample{Path: "print.mp4", AttackType: "print"}, Mode: presence.ModePassive, Runs: []ClipRun{run(F, 1), run(F, 1)}},
	}
	r := NewClipReport(results)
	if len(r.Summaries) != 1 {
		t.Fatalf("summaries %+v", r.Summaries)
	}
	s := r.Summaries[0]
	if s.LiveClips != 2 || s.LiveClipsAt95 != 1 || s.LiveRunPassRate != Rate(20.0/23) || s.BPCER != Rate(3.0/23) {
		t.Errorf("live: %+v", s)
	}
	if s.AttackClips != 2 || s.AttackClipsEverPassed != 1 || s.APCER["video_replay"] != 0.5 || s.APCER["print"] != 0 {
		t.Errorf("attacks: %+v", s)
	}
	if r.Clips[0].PassRate != 0.95 {
		t.Errorf("clip pass rate %v", r.Clips[0].PassRate)
	}
	var bob ClipGroup
	for _, g := range r.BySubject {
		if g.Key == "bob" {
			bob = g
		}
	}
	if bob.Clips != 2 || bob.Runs != 5 || bob.Passed != 2 || bob.Fake != 2 || bob.Incon != 1 || bob.Reasons["multiple_faces"] != 1 {
		t.Errorf("bob: %+v", bob)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "RIF") || !strings.Contains(text.String(), "video_replay 50.00%") {
		t.Errorf("text report:\n%s", text.String())
	}
	var html bytes.Buffer
	if err := r.WriteHTML(&html); err != nil || !strings.Contains(html.String(), "replay.mp4") {
		t.Errorf("HTML: %v", err)
	}
}
