package liveness_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"presence"
	"presence/engine"
	"presence/engine/enginetest"
	"presence/liveness"
	"presence/presencetest"
	"presence/vision"
)

// analysedClip holds each frame's full analysis and the light analysis
// derived from it (what the server computes when it skips the
// anti-spoofing and template models).
type analysedClip struct {
	full, light []*presence.Analysis
	// images are the decoded frames, for the checks that read pixels;
	// files, when set, are decoded as they are played instead.
	images []*presence.Image
	files  []string
}

var (
	clipsMu sync.Mutex
	clips   = map[string]analysedClip{}
)

// analyseClip analyses the frames of a clip sampled at fps and scaled to
// 640 px wide (what the capture SDK sends), once per test binary.
func analyseClip(t *testing.T, clip string, fps int) analysedClip {
	t.Helper()
	clipsMu.Lock()
	defer clipsMu.Unlock()
	key := fmt.Sprint(clip, fps)
	if c, ok := clips[key]; ok {
		return c
	}
	eng := enginetest.Engine(t)
	files := presencetest.Frames(t, clip, fps, 640)
	c := analysedClip{full: make([]*presence.Analysis, len(files)), light: make([]*presence.Analysis, len(files)), files: files}
	analyseFrames(t, eng, files, engine.Options{Landmarks: true}, func(i int, full *presence.Analysis) {
		c.full[i], c.light[i] = full, lightOf(full)
	})
	clips[key] = c
	return c
}

// analyseFrames analyses frame files on every engine worker at once and
// hands each analysis to use with its index (use runs on one goroutine).
func analyseFrames(t *testing.T, eng *engine.Engine, files []string, opts engine.Options, use func(int, *presence.Analysis)) {
	t.Helper()
	type done struct {
		i   int
		a   *presence.Analysis
		err error
	}
	next := make(chan int)
	results := make(chan done)
	for range eng.Workers() {
		go func() {
			for i := range next {
				data, err := os.ReadFile(files[i]) // not t.Fatal: this is not the test's goroutine
				if err != nil {
					results <- done{i: i, err: err}
					continue
				}
				img, _, err := vision.Decode(data, vision.DefaultLimits)
				if err != nil {
					results <- done{i: i, err: err}
					continue
				}
				a, err := eng.Analyze(context.Background(), img, opts)
				results <- done{i, a, err}
			}
		}()
	}
	go func() {
		for i := range files {
			next <- i
		}
		close(next)
	}()
	var firstErr error
	for range files {
		d := <-results
		if d.err != nil {
			firstErr = d.err
			continue
		}
		use(d.i, d.a)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

// image is frame k decoded, or nil when the clip keeps no pixels.
func (c analysedClip) image(k int) *presence.Image {
	if c.images != nil {
		return c.images[k]
	}
	if c.files == nil {
		return nil
	}
	data, err := os.ReadFile(c.files[k])
	if err != nil {
		return nil
	}
	img, _, _ := vision.Decode(data, vision.DefaultLimits)
	return img
}

// lightOf strips what the light analysis does not compute.
func lightOf(a *presence.Analysis) *presence.Analysis {
	l := *a
	l.Score = nil
	l.Decision, l.Reasons = "", nil
	if a.Face != nil {
		f := *a.Face
		f.Embedding, f.Liveness = nil, nil
		l.Face = &f
		for _, r := range a.Reasons {
			if r.Code != presence.ReasonSpoofSuspected {
				l.Reasons = append(l.Reasons, r)
			}
		}
		if len(l.Reasons) > 0 {
			l.Decision = presence.DecisionInconclusive
		}
	}
	return &l
}

// play feeds the clip (looping like a camera file) into a machine until it
// is done or maxTime passes.
func play(c analysedClip, fps int, plan liveness.Plan, p liveness.Policy, maxTime time.Duration) (*liveness.Result, []liveness.Event) {
	m := liveness.NewMachine(plan, p)
	var all []liveness.Event
	for i := 0; ; i++ {
		at := time.Duration(i) * time.Second / time.Duration(fps)
		if at > maxTime {
			all = append(all, m.Tick(at)...)
			break
		}
		k := i % len(c.full)
		a := c.light[k]
		if m.WantFull() {
			a = c.full[k]
		}
		all = append(all, m.Observe(liveness.Frame{At: at, Analysis: a, Image: c.image(k)})...)
		if m.Done() {
			break
		}
	}
	return m.Result(), all
}

func policyFor(steps ...liveness.StepKind) liveness.Policy {
	p := liveness.DefaultPolicy()
	p.Steps, p.MinSteps, p.MaxSteps = steps, len(steps), len(steps)
	return p
}

func TestTalkingClipPassesBlinkSteps(t *testing.T) {
	clip := analyseClip(t, "video_live/blink_talking_1face_720p.mp4", 15)
	plan := liveness.Plan{Nonce: "n", Steps: []liveness.StepKind{liveness.StepBlink, liveness.StepBlink}, StepTimeout: 8000}
	res, events := play(clip, 15, plan, policyFor(liveness.StepBlink, liveness.StepBlink), 30*time.Second)
	if res == nil || res.Decision != presence.DecisionRealFace {
		t.Fatalf("result %+v", res)
	}
	if len(res.Transcript) != 2 || !res.Transcript[0].Passed || !res.Transcript[1].Passed || len(res.Embedding) == 0 {
		t.Fatalf("transcript %+v", res.Transcript)
	}
	// Steps are revealed one at a time, each after the previous is done.
	var order []string
	for _, e := range events {
		if e.Type == liveness.EventStep || e.Type == liveness.EventStepDone || e.Type == liveness.EventDone {
			order = append(order, string(e.Type))
		}
		if e.Type == liveness.EventDone && (e.Guidance != nil) {
			t.Errorf("a pass sends guidance: %+v", e)
		}
	}
	if want := "step step_done step step_done done"; joinWords(order) != want {
		t.Fatalf("events %q, want %q", joinWords(order), want)
	}
}

func TestTalkingClipFailsStepsItNeverPerforms(t *testing.T) {
	clip := analyseClip(t, "video_live/blink_talking_1face_720p.mp4", 15)
	for _, step := range []liveness.StepKind{liveness.StepTurnLeft, liveness.StepTurnRight, liveness.StepMoveCloser} {
		plan := liveness.Plan{Nonce: "n", Steps: []liveness.StepKind{step}, StepTimeout: 8000}
		res, _ := play(clip, 15, plan, policyFor(step), 30*time.Second)
		if res == nil || res.Decision == presence.DecisionRealFace || res.Reasons[0].Code != presence.ReasonChallengeFailed {
			t.Errorf("%s: %+v", step, res)
		}
	}
}

func TestSelfieClipTurnsBothWays(t *testing.T) {
	clip := analyseClip(t, "video_live/selfie_live_headmove_phone.mp4", 10)
	// The recording does not follow prompts: it turns left (head bowed)
	// at about 5 s and right at about 17.5 s, so the policy gives each step
	// the time this recording needs.
	p := policyFor(liveness.StepTurnLeft, liveness.StepTurnRight)
	p.StepTimeout = 15 * time.Second
	plan := liveness.Plan{Nonce: "n", Steps: []liveness.StepKind{liveness.StepTurnLeft, liveness.StepTurnRight}, StepTimeout: 15000}
	res, _ := play(clip, 10, plan, p, 40*time.Second)
	if res == nil || res.Decision != presence.DecisionRealFace {
		t.Fatalf("left then right: %+v", res)
	}
	// Asked the other way round: the clip's first turn is to the left,
	// which a right-turn step ignores, and its right turn comes too late.
	plan.Steps = []liveness.StepKind{liveness.StepTurnRight, liveness.StepTurnLeft}
	res, _ = play(clip, 10, plan, p, 40*time.Second)
	if res == nil || res.Decision == presence.DecisionRealFace {
		t.Fatalf("right then left passed: %+v", res)
	}
}

func TestStillPhotoFailsEveryStep(t *testing.T) {
	eng := enginetest.Engine(t)
	img, _, err := vision.Decode(presencetest.ReadFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")), vision.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := eng.Analyze(context.Background(), img, engine.Options{})
	still := analysedClip{full: []*presence.Analysis{full}, light: []*presence.Analysis{lightOf(full)}}
	for _, step := range liveness.AllSteps {
		plan := liveness.Plan{Nonce: "n", Steps: []liveness.StepKind{step}, StepTimeout: 8000}
		res, _ := play(still, 10, plan, policyFor(step), 30*time.Second)
		if res == nil || res.Decision == presence.DecisionRealFace {
			t.Errorf("%s: a still photo passed: %+v", step, res)
		}
	}
}

func TestOneFaceAndSameFace(t *testing.T) {
	two := analyseClip(t, "video_live/blink_talking_2faces_1080p.mp4", 10)
	plan := liveness.Plan{Nonce: "n", Steps: []liveness.StepKind{liveness.StepBlink}, StepTimeout: 8000}
	res, events := play(two, 10, plan, policyFor(liveness.StepBlink), 30*time.Second)
	if res == nil || res.Decision != presence.DecisionInconclusive || res.Reasons[0].Code != presence.ReasonMultipleFaces {
		t.Fatalf("two people in view: %+v", res)
	}
	guided := false
	for _, e := range events {
		guided = guided || (e.Type == liveness.EventGuidance && e.Code == presence.ReasonMultipleFaces)
	}
	if !guided {
		t.Error("no multiple_faces guidance before failing")
	}
	// A switch of person mid-session: the talking clip, then someone else.
	talk := analyseClip(t, "video_live/blink_talking_1face_720p.mp4", 15)
	other := analyseClip(t, "video_live/selfie_live_headmove_phone.mp4", 10)
	mixed := analysedClip{full: append(talk.full[:20:20], other.full[:40]...), light: append(talk.light[:20:20], other.light[:40]...)}
	plan.Steps = []liveness.StepKind{liveness.StepTurnLeft}
	res, _ = play(mixed, 15, plan, policyFor(liveness.StepTurnLeft), 5*time.Second)
	if res == nil || res.Decision != presence.DecisionFake || res.Reasons[0].Code != presence.ReasonFaceChanged {
		t.Fatalf("person switched: %+v", res)
	}
}

func TestPlan(t *testing.T) {
	p := liveness.DefaultPolicy()
	counts := map[int]int{}
	seen := map[liveness.StepKind]bool{}
	nonces := map[string]bool{}
	for i := 0; i < 300; i++ {
		plan, err := liveness.NewPlan(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[len(plan.Steps)]++
		nonces[plan.Nonce] = true
		for k, s := range plan.Steps {
			seen[s] = true
			if k > 0 && plan.Steps[k-1] == s {
				t.Fatalf("step repeated: %v", plan.Steps)
			}
		}
	}
	if counts[2] == 0 || counts[3] == 0 || counts[4] == 0 || counts[1]+counts[5] > 0 || len(seen) != len(liveness.AllSteps) || len(nonces) != 300 {
		t.Fatalf("steps per plan %v, kinds %v, %d nonces", counts, seen, len(nonces))
	}
	one, _ := liveness.NewPlan(policyFor(liveness.StepBlink, liveness.StepBlink), bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if len(one.Steps) != 2 || one.Steps[0] != liveness.StepBlink {
		t.Fatalf("a one-kind policy: %v", one.Steps)
	}
	for _, bad := range []liveness.Policy{{}, {Steps: []liveness.StepKind{"dance"}, MinSteps: 1, MaxSteps: 1, StepTimeout: time.Second, AlignTimeout: time.Second}} {
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func joinWords(w []string) string {
	var b bytes.Buffer
	for i, s := range w {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}
