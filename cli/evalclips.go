package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"presence"
	"presence/clock"
	"presence/engine"
	"presence/eval"
	"presence/liveness"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
)

// clipProtocol is how eval clips sends a recording, as the capture SDK
// sends a camera: frames scaled to 640 pixels wide, JPEG, 10 a second.
type clipProtocol struct {
	FPS         int
	Width       int
	Quality     int // ffmpeg -q:v (2 best - 31 worst); 4 is close to the SDK's 0.85
	OffsetStep  time.Duration
	MaxOffsets  int
	MinDuration time.Duration // the least of a clip left after an offset
}

func (p clipProtocol) String() string {
	return fmt.Sprintf("Each clip decoded with ffmpeg at %d frames/s, %d px wide, JPEG (as the capture SDK sends a camera), streamed into a fresh session on a virtual clock through the same stream code as the WebSocket, from start offsets %gs apart (at most %d, each leaving at least %gs of clip). Active runs ask for two blinks: the only step a recording can answer without following prompts.",
		p.FPS, p.Width, p.OffsetStep.Seconds(), p.MaxOffsets, p.MinDuration.Seconds())
}

// clipFrames extracts and caches the frames of each clip once.
type clipFrames struct {
	proto  clipProtocol
	tmp    string
	mu     sync.Mutex
	frames map[string][]session.RecordedFrame
	errs   map[string]error
	// recordings holds what a recorded session (a .json file the SDK
	// wrote, session.RecordingFormat) adds to its frames.
	recordings map[string]recorded
}

// recorded is a recording's light challenge and camera report.
type recorded struct {
	rec     *session.Recording
	lightAt time.Duration
}

// load decodes file with ffmpeg into frames; an unreadable clip or a
// missing ffmpeg is an error for that clip.
func (c *clipFrames) load(file string) ([]session.RecordedFrame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.frames[file]; ok {
		return f, c.errs[file]
	}
	if strings.HasSuffix(strings.ToLower(file), ".json") {
		return c.loadRecording(file)
	}
	frames, err := c.extract(file)
	c.frames[file], c.errs[file] = frames, err
	return frames, err
}

// loadRecording reads a session the SDK recorded: its frames as sent, at
// their capture times (no resampling), with its light challenge.
func (c *clipFrames) loadRecording(file string) ([]session.RecordedFrame, error) {
	data, err := os.ReadFile(file)
	if err == nil {
		var rec *session.Recording
		var frames []session.RecordedFrame
		var lightAt time.Duration
		if rec, frames, lightAt, err = session.ParseRecording(data); err == nil {
			if c.recordings == nil {
				c.recordings = map[string]recorded{}
			}
			c.recordings[file] = recorded{rec: rec, lightAt: lightAt}
			c.frames[file] = frames
			return frames, nil
		}
	}
	c.frames[file], c.errs[file] = nil, err
	return nil, err
}

// recording returns what a recorded session adds, if file is one.
func (c *clipFrames) recording(file string) (recorded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recordings[file]
	return r, ok
}

func (c *clipFrames) extract(file string) ([]session.RecordedFrame, error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, errors.New("ffmpeg is not installed (Debian: apt-get install ffmpeg); it decodes the clips")
	}
	dir, err := os.MkdirTemp(c.tmp, "clip-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Time counts from the first video frame: a clip whose video starts
	// after its audio (one dev clip starts 3.4 s in) would otherwise open
	// with that frame repeated, a still picture no camera sends.
	vf := fmt.Sprintf("setpts=PTS-STARTPTS,fps=%d,scale='min(%d,iw)':-2", c.proto.FPS, c.proto.Width)
	out, err := exec.Command(ffmpeg, "-v", "error", "-i", file, "-vf", vf, "-q:v", fmt.Sprint(c.proto.Quality), filepath.Join(dir, "f_%05d.jpg")).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg could not decode the clip: %s", firstLine(string(out), err))
	}
	names, _ := filepath.Glob(filepath.Join(dir, "f_*.jpg"))
	sort.Strings(names)
	if len(names) == 0 {
		return nil, errors.New("the clip has no video frames")
	}
	frames := make([]session.RecordedFrame, len(names))
	for i, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		frames[i] = session.RecordedFrame{At: time.Duration(i) * time.Second / time.Duration(c.proto.FPS), Data: data}
	}
	return frames, nil
}

func firstLine(out string, err error) string {
	if line, _, _ := strings.Cut(strings.TrimSpace(out), "\n"); line != "" {
		return line
	}
	return err.Error()
}

// offsets are the start times of the runs of a clip.
func (c *clipFrames) offsets(s eval.Sample) ([]time.Duration, error) {
	frames, err := c.load(s.File)
	if err != nil {
		return nil, err
	}
	if _, ok := c.recording(s.File); ok {
		// A recording is replayed whole: its light challenge ran at a
		// fixed time.
		return []time.Duration{0}, nil
	}
	length := time.Duration(len(frames)) * time.Second / time.Duration(c.proto.FPS)
	out := []time.Duration{0}
	for o := c.proto.OffsetStep; o+c.proto.MinDuration <= length && len(out) < c.proto.MaxOffsets; o += c.proto.OffsetStep {
		out = append(out, o)
	}
	return out, nil
}

// clipRunner replays clips into real sessions: the real engine, a fresh
// SQLite store per run (so no run remembers another's frames), a virtual
// clock.
type clipRunner struct {
	frames  *clipFrames
	eng     *engine.Engine
	sealer  *seal.Sealer
	passive liveness.Policy
	active  liveness.Policy
}

func (r *clipRunner) run(ctx context.Context, s eval.Sample, mode presence.Mode, offset time.Duration) eval.ClipRun {
	fail := func(err error) eval.ClipRun { return eval.ClipRun{Error: err.Error()} }
	frames, err := r.frames.load(s.File)
	if err != nil {
		return fail(err)
	}
	first := int(offset * time.Duration(r.frames.proto.FPS) / time.Second)
	var played []session.RecordedFrame
	for _, f := range frames[first:] {
		played = append(played, session.RecordedFrame{At: f.At - offset, Data: f.Data})
	}
	dir, err := os.MkdirTemp(r.frames.tmp, "run-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlstore.Open(ctx, filepath.Join(dir, "presence.db"))
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	policy := r.passive
	if mode == presence.ModeActive {
		policy = r.active
	}
	svc := session.New(session.Config{Store: store, Engine: r.eng, Sealer: r.sealer, Clock: clk, Policy: policy})
	req := session.CreateRequest{Mode: mode}
	playback := &session.Playback{Clock: clk, Frames: played}
	if rec, ok := r.frames.recording(s.File); ok {
		playback.Camera = rec.rec.Camera
		if rec.rec.Light != nil {
			req.Light, req.LightPlan = true, rec.rec.Light
			playback.LightStart, playback.LightStartAt = true, &rec.lightAt
		}
	}
	created, err := svc.Create(ctx, &presence.APIKey{ID: "eval"}, req)
	if err != nil {
		return fail(err)
	}
	playback.Token = created.ClientToken
	start := clk.Now()
	svc.Stream(ctx, created.Session.ID, playback)
	sess, err := store.Session(ctx, created.Session.ID)
	if err != nil {
		return fail(err)
	}
	out := eval.ClipRun{Status: sess.Status, Seconds: clk.Now().Sub(start).Seconds()}
	if v := sess.Verdict; v != nil {
		out.Decision, out.Score = v.Decision, v.Score
		for _, reason := range v.Reasons {
			out.Reasons = append(out.Reasons, string(reason.Code))
		}
		var counts struct {
			Frames int `json:"frames"`
			Judged int `json:"judged_frames"`
		}
		json.Unmarshal(v.Challenge, &counts)
		out.Frames, out.Judged = counts.Frames, counts.Judged
	}
	return out
}

func runEvalClips(args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("eval clips", "DIR [flags]", stderr)
	cfg.bindFlags(fs)
	out := fs.String("out", "", "write PREFIX.json and PREFIX.html (default reports/clips-<DIR name>)")
	modes := fs.String("modes", "passive,active", "session modes to replay each clip in")
	proto := clipProtocol{FPS: 10, Width: 640, Quality: 4, MaxOffsets: 20, MinDuration: 3 * time.Second}
	fs.DurationVar(&proto.OffsetStep, "offset-step", 500*time.Millisecond, "time between the start offsets of a clip")
	fs.IntVar(&proto.MaxOffsets, "max-offsets", proto.MaxOffsets, "most start offsets a clip")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("eval clips needs one DIR")
	}
	if proto.OffsetStep <= 0 || proto.MaxOffsets < 1 {
		return usageError("--offset-step must be positive and --max-offsets at least 1")
	}
	var modeList []presence.Mode
	for _, m := range splitList(*modes) {
		if m != string(presence.ModePassive) && m != string(presence.ModeActive) {
			return usageError("--modes: %q is not passive or active", m)
		}
		modeList = append(modeList, presence.Mode(m))
	}
	if len(modeList) == 0 {
		return usageError("--modes names no mode")
	}
	dir := fs.Arg(0)
	name := filepath.Base(filepath.Clean(dir))
	if *out == "" {
		*out = filepath.Join("reports", "clips-"+name)
	}
	samples, _, err := eval.ReadLabels(dir)
	if err != nil {
		return err
	}
	policy, err := cfg.Active.Policy(cfg.Thresholds)
	if err != nil {
		return err
	}
	active := policy
	active.Steps, active.MinSteps, active.MaxSteps = []liveness.StepKind{liveness.StepBlink}, 2, 2

	eng, closeEngine, err := openEngine(cfg)
	if err != nil {
		return err
	}
	defer closeEngine()
	key, _, err := seal.NewKey()
	if err != nil {
		return err
	}
	sealer, err := seal.New(key)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "presence-eval-clips-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	frames := &clipFrames{proto: proto, tmp: tmp, frames: map[string][]session.RecordedFrame{}, errs: map[string]error{}}
	runner := &clipRunner{frames: frames, eng: eng, sealer: sealer, passive: policy, active: active}
	progress := newProgress(stderr, *quiet)
	report := eval.RunClips(context.Background(), runner.run, samples, modeList, frames.offsets, eng.Workers(), progress.update)
	progress.done()
	report.Dataset, report.Generated, report.Models = name, time.Now().UTC().Format(time.RFC3339), eng.Manifest().Versions()
	report.Protocol = proto.String()
	if err := writeReport(*out, report); err != nil {
		return err
	}
	report.WriteText(stdout)
	fmt.Fprintf(stdout, "\nreports: %s.json, %s.html\n", *out, *out)
	return nil
}
