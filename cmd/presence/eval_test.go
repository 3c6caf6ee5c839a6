package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"presence/engine"
	"presence/engine/enginetest"
	"presence/liveness"
	"presence/presencetest"
	"presence/session"
	"presence/vision"
)

// tinyPADSet writes a labels.csv that points at a few dev-set images by
// absolute path (the data is never copied), with a subject column.
func tinyPADSet(t *testing.T) string {
	t.Helper()
	sf := presencetest.DataDir(t, "pad_silentface_samples")
	cs := presencetest.DataDir(t, "pad_celebaspoof")
	rows := []string{"path,label,attack_type,subject"}
	add := func(path, label, typ, subject string) {
		rows = append(rows, fmt.Sprintf("%s,%s,%s,%s", path, label, typ, subject))
	}
	add(filepath.Join(sf, "image_T1.jpg"), "live", "none", "sf")
	add(filepath.Join(sf, "image_F1.jpg"), "spoof", "print", "sf")
	add(filepath.Join(sf, "image_F2.jpg"), "spoof", "screen_replay", "sf")
	for _, n := range []string{"1", "10", "100"} {
		add(filepath.Join(cs, "live", n+".jpg"), "live", "none", "celeba")
		add(filepath.Join(cs, "spoof", n+".jpg"), "spoof", "print_or_screen", "celeba")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEvalPADOnTinySet(t *testing.T) {
	dir := tinyPADSet(t)
	out := filepath.Join(t.TempDir(), "report")
	r := run(t, nil, "eval", "pad", dir, "--by", "subject", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"APCER print", "BPCER @ APCER=1%", "EER", "subject"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("terminal table lacks %q:\n%s", want, r.stdout)
		}
	}
	var report struct {
		Samples   int
		Decisions map[string]struct{ Realface, Fake, Inconclusive int }
		Breakdown []struct{ Value string }
		Results   []struct{ Path string }
		DET       []struct{ Threshold float64 } `json:"det"`
	}
	data := presencetest.ReadFile(t, out+".json")
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if report.Samples != 9 || len(report.Results) != 9 || len(report.Breakdown) != 2 || len(report.DET) == 0 {
		t.Errorf("report: %d samples, %d results, %d groups, %d DET points", report.Samples, len(report.Results), len(report.Breakdown), len(report.DET))
	}
	html := string(presencetest.ReadFile(t, out+".html"))
	if !strings.Contains(html, "<svg") || !strings.Contains(html, "DET curve") {
		t.Error("HTML report lacks its plots")
	}
}

func TestEvalRejectsBadLabels(t *testing.T) {
	live := presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	for name, c := range map[string]struct{ csv, want string }{
		"unknown label": {"path,label,attack_type\n" + live + ",live,none\n" + live + ",maybe,none\n", "labels.csv line 3: unknown label"},
		"missing file":  {"path,label,attack_type\n" + live + ",live,none\nabsent.jpg,spoof,print\n", "labels.csv line 3: absent.jpg: no such file"},
		"malformed":     {"path,label,attack_type\n" + live + ",live\n", "labels.csv line 2"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(c.csv), 0o644)
		r := run(t, nil, "eval", "pad", dir, "--out", filepath.Join(dir, "r"))
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", name, r.code, r.stderr, c.want)
		}
	}
	if r := run(t, nil, "eval", "pad", t.TempDir()); r.code == 0 || !strings.Contains(r.stderr, "labels.csv") {
		t.Errorf("no labels.csv: exit %d, %q", r.code, r.stderr)
	}
	if r := run(t, nil, "eval", "pad", presencetest.DataDir(t, "pad_silentface_samples"), "--by", "nosuch"); r.code != 2 {
		t.Errorf("--by an unknown column: exit %d", r.code)
	}
}

func TestEvalVerifyOnDeepfacePairs(t *testing.T) {
	dir := presencetest.DataDir(t, "fr_deepface_pairs")
	// The first twelve lines of the maintainer's pair list.
	lines := strings.Split(string(presencetest.ReadFile(t, filepath.Join(dir, "master.csv"))), "\n")
	pairs := filepath.Join(t.TempDir(), "pairs.csv")
	os.WriteFile(pairs, []byte(strings.Join(lines[:13], "\n")+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "verify")
	r := run(t, nil, "eval", "verify", dir, "--pairs", pairs, "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var report struct {
		Pairs    int
		Genuine  int `json:"genuine_scored"`
		Impostor int `json:"impostor_scored"`
		TARAtFAR []struct {
			Enough bool `json:"enough_samples"`
		} `json:"tar_at_far"`
	}
	if err := json.Unmarshal(presencetest.ReadFile(t, out+".json"), &report); err != nil {
		t.Fatal(err)
	}
	if report.Pairs != 12 || report.Genuine+report.Impostor != 12 || len(report.TARAtFAR) != 2 || report.TARAtFAR[0].Enough {
		t.Errorf("report %+v", report)
	}
	if !strings.Contains(r.stdout, "too few for FAR=0.001") {
		t.Errorf("terminal output does not warn about too few pairs:\n%s", r.stdout)
	}
}

// TestEvalClipsReplaysClipsIntoSessions: the talking clip replayed from
// two offsets passes a passive session each time; a file that is no video
// is an error for that clip, reported, while the rest go on.
func TestEvalClipsReplaysClipsIntoSessions(t *testing.T) {
	dir := t.TempDir()
	talk := presencetest.DataFile(t, "video_live/blink_talking_1face_720p.mp4")
	if err := os.WriteFile(filepath.Join(dir, "broken.mp4"), []byte("not a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	labels := "path,label,attack_type,subject\n" + talk + ",live,none,talker\nbroken.mp4,spoof,video_replay,nobody\n"
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(labels), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "clips")
	r := run(t, nil, "eval", "clips", dir, "--modes", "passive", "--max-offsets", "2", "--offset-step", "2s", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var report struct {
		Summaries []struct {
			Mode          string
			LiveClips     int     `json:"live_clips"`
			LiveRunPass   float64 `json:"live_run_pass_rate"`
			LiveClipsAt95 int     `json:"live_clips_passing_95pct"`
		}
		Clips []struct {
			Error string
			Runs  []struct {
				Offset   float64 `json:"offset_s"`
				Decision string
				Seconds  float64
			}
		}
	}
	if err := json.Unmarshal(presencetest.ReadFile(t, out+".json"), &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Summaries) != 1 || report.Summaries[0].LiveClips != 1 || report.Summaries[0].LiveClipsAt95 != 1 || len(report.Clips) != 2 {
		t.Fatalf("report: %+v", report)
	}
	live := report.Clips[0]
	if len(live.Runs) != 2 || live.Runs[1].Offset != 2 || live.Runs[0].Decision != "realface" || live.Runs[0].Seconds <= 0 {
		t.Fatalf("live clip runs: %+v", live.Runs)
	}
	if broken := report.Clips[1]; !strings.Contains(broken.Error, "ffmpeg could not decode") || len(broken.Runs) != 0 {
		t.Fatalf("broken clip: %+v", broken)
	}
	if !strings.Contains(r.stdout, "RR") || !strings.Contains(r.stdout, "error: ffmpeg could not decode") {
		t.Errorf("terminal report:\n%s", r.stdout)
	}
}

// TestEvalClipsReplaysSDKRecordings: recordings in the SDK's format (the
// demo page writes them, with consent) are evaluated like clips, light
// challenge included: frames of a real clip with the recorded colours on
// the face pass; the same frames without them do not.
func TestEvalClipsReplaysSDKRecordings(t *testing.T) {
	files := presencetest.Frames(t, "video_live/blink_talking_1face_720p.mp4", 10, 640)[10:50]
	eng := enginetest.Engine(t)
	plan, err := liveness.NewLightPlan(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, lit bool) {
		start := 1000.0
		rec := map[string]any{"format": session.RecordingFormat, "light": plan, "light_start_ms": start, "camera": map[string]any{"label": "Integrated Webcam"}}
		var frames []map[string]any
		for i, f := range files {
			data := presencetest.ReadFile(t, f)
			ts := start + float64(i*100)
			if lit {
				img, _, err := vision.Decode(data, vision.DefaultLimits)
				if err != nil {
					t.Fatal(err)
				}
				a, err := eng.Analyze(context.Background(), img, engine.Options{SkipLiveness: true, SkipEmbedding: true})
				if err != nil {
					t.Fatal(err)
				}
				// The screen's colour 100 ms before the capture (latency).
				if colour, ok := plan.ColorAt(ts - 100 - start); ok && a.Face != nil {
					data = presencetest.LightUp(t, data, a.Face.Box, colour, 0.15)
				}
			}
			frames = append(frames, map[string]any{"ts": ts, "jpeg": base64.StdEncoding.EncodeToString(data)})
		}
		rec["frames"] = frames
		raw, _ := json.Marshal(rec)
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("lit.json", true)
	write("unlit.json", false)
	labels := "path,label,attack_type,subject\nlit.json,live,none,talker\nunlit.json,spoof,no_reflection,talker\n"
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(labels), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report")
	r := run(t, nil, "eval", "clips", dir, "--modes", "passive", "--quiet", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var report struct {
		Clips []struct {
			Sample struct{ Path string }
			Runs   []struct {
				Decision string
				Reasons  []string
			}
		}
	}
	if err := json.Unmarshal(presencetest.ReadFile(t, out+".json"), &report); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range report.Clips {
		if len(c.Runs) != 1 {
			t.Fatalf("%s: %d runs, want the recording once", c.Sample.Path, len(c.Runs))
		}
		got[c.Sample.Path] = c.Runs[0].Decision + " " + strings.Join(c.Runs[0].Reasons, ",")
	}
	if !strings.HasPrefix(got["lit.json"], "realface") || strings.HasPrefix(got["unlit.json"], "realface") || got["unlit.json"] == "" {
		t.Fatalf("recordings: %v\n%s", got, r.stdout)
	}
}
