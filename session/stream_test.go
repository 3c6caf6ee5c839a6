package session_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/engine/enginetest"
	"presence/liveness"
	"presence/presencetest"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
)

// These tests stream real clips through the real models on a virtual
// clock: a clip of ten seconds takes as long as its frames take to
// analyse, and the verdict does not depend on how fast this machine is.

func blinkPolicy() liveness.Policy {
	p := liveness.DefaultPolicy()
	p.Steps, p.MinSteps, p.MaxSteps = []liveness.StepKind{liveness.StepBlink}, 2, 2
	return p
}

type streamEnv struct {
	t     *testing.T
	svc   *session.Service
	store *sqlstore.DB
	clock *clock.Virtual
}

func newStreamEnv(t *testing.T, policy liveness.Policy) *streamEnv {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), t.TempDir()+"/p.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	k, _, _ := seal.NewKey()
	sealer, _ := seal.New(k)
	clk := clock.NewVirtual(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	svc := session.New(session.Config{Store: store, Engine: enginetest.Engine(t), Sealer: sealer, Clock: clk, Policy: policy})
	return &streamEnv{t: t, svc: svc, store: store, clock: clk}
}

func (e *streamEnv) create(mode presence.Mode, audit int) (string, string) {
	e.t.Helper()
	c, err := e.svc.Create(context.Background(), &presence.APIKey{ID: "k"}, session.CreateRequest{Mode: mode, AuditImages: audit})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Session.ID, c.ClientToken
}

// play streams frames into session id and returns the device's view and
// the stored session.
func (e *streamEnv) play(id string, p *session.Playback) *presence.Session {
	e.t.Helper()
	p.Clock = e.clock
	e.svc.Stream(context.Background(), id, p)
	sess, err := e.store.Session(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return sess
}

// clip reads a clip's frames at fps, captured 1/fps apart.
func clip(t *testing.T, name string, fps int) []session.RecordedFrame {
	var out []session.RecordedFrame
	for i, f := range presencetest.Frames(t, name, fps, 640) {
		out = append(out, session.RecordedFrame{At: time.Duration(i) * time.Second / time.Duration(fps), Data: presencetest.ReadFile(t, f)})
	}
	return out
}

func reasons(v *presence.Verdict) string {
	if v == nil {
		return ""
	}
	var codes []string
	for _, r := range v.Reasons {
		codes = append(codes, string(r.Code))
	}
	return strings.Join(codes, ",")
}

func TestActiveBlinkSession(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 15)
	id, token := e.create(presence.ModeActive, 1)
	p := &session.Playback{Token: token, Frames: talk}
	sess := e.play(id, p)
	events := p.Events()
	if events[0]["type"] != "ready" || events[0]["steps"] != 2.0 || events[0]["mode"] != "active" {
		t.Fatalf("ready: %v", events[0])
	}
	var steps []string
	for _, ev := range events {
		if ev["type"] == "step" {
			steps = append(steps, ev["step"].(string)+":"+ev["message"].(string))
		}
		for _, leak := range []string{"score", "decision"} {
			if _, ok := ev[leak]; ok {
				t.Errorf("the device received %s: %v", leak, ev)
			}
		}
	}
	if strings.Join(steps, ",") != "blink:Now blink,blink:Now blink" {
		t.Errorf("steps %v", steps)
	}
	if last := events[len(events)-1]; last["type"] != "done" || last["status"] != "succeeded" {
		t.Fatalf("done: %v", last)
	}
	var transcript struct {
		Transcript []json.RawMessage `json:"transcript"`
	}
	json.Unmarshal(sess.Verdict.Challenge, &transcript)
	images, _ := e.store.AuditImages(context.Background(), id)
	if sess.Verdict.Decision != presence.DecisionRealFace || sess.Status != presence.StatusSucceeded || len(transcript.Transcript) != 2 || len(images) != 1 {
		t.Fatalf("verdict %s %s %+v, %d audit images", sess.Status, sess.Verdict.Decision, reasons(sess.Verdict), len(images))
	}

	// The same recording in a new session replays frames of a passed one.
	id2, token2 := e.create(presence.ModeActive, 0)
	if s := e.play(id2, &session.Playback{Token: token2, Frames: talk}); s.Verdict.Decision != presence.DecisionFake || !strings.Contains(reasons(s.Verdict), "replayed_frame") {
		t.Fatalf("replay of a passed session: %s %s", s.Verdict.Decision, reasons(s.Verdict))
	}
}

func TestPassiveStream(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)
	id, token := e.create(presence.ModePassive, 0)
	p := &session.Playback{Token: token, Frames: talk[10:]} // one second in, after the first blink
	sess := e.play(id, p)
	if events := p.Events(); events[0]["mode"] != "passive" || events[len(events)-1]["status"] != "succeeded" {
		t.Fatalf("events %v", events)
	}
	if sess.Verdict.Decision != presence.DecisionRealFace {
		t.Fatalf("verdict %s %s", sess.Verdict.Decision, reasons(sess.Verdict))
	}
}

func TestStreamRefusesStillPicturesAndForeignNonces(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	still := presencetest.ReadFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg"))
	repeated := func(n int) []session.RecordedFrame {
		var out []session.RecordedFrame
		for i := range n {
			out = append(out, session.RecordedFrame{At: time.Duration(i) * 100 * time.Millisecond, Data: still})
		}
		return out
	}

	// A still picture sent as a stream.
	id, token := e.create(presence.ModeActive, 0)
	if s := e.play(id, &session.Playback{Token: token, Frames: repeated(60)}); s.Verdict.Decision != presence.DecisionFake || !strings.Contains(reasons(s.Verdict), "replayed_frame") {
		t.Fatalf("still picture: %s %s", s.Verdict.Decision, reasons(s.Verdict))
	}
	// The token was spent by that stream.
	p := &session.Playback{Token: token}
	e.play(id, p)
	if ev := p.Events(); len(ev) != 1 || ev[0]["type"] != "error" || ev[0]["code"] != "token_used" {
		t.Fatalf("reused token: %v", ev)
	}
	// Wrong credentials in the hello.
	id, _ = e.create(presence.ModeActive, 0)
	for cred, code := range map[string]string{"pk_key_secret": "wrong_credential", "pct_nope": "invalid_token", "": "unauthorized"} {
		p := &session.Playback{Token: cred}
		e.play(id, p)
		if ev := p.Events(); len(ev) != 1 || ev[0]["code"] != code {
			t.Errorf("%s: %v", code, ev)
		}
	}
	// Frames bound to another nonce.
	id, token = e.create(presence.ModePassive, 0)
	if s := e.play(id, &session.Playback{Token: token, Frames: repeated(5), Nonce: "not-the-nonce"}); s.Verdict.Decision != presence.DecisionFake || !strings.Contains(reasons(s.Verdict), "replayed_frame") {
		t.Fatalf("foreign nonce: %s %s", s.Verdict.Decision, reasons(s.Verdict))
	}
}

func TestStreamEndsFailedWhenTheDeviceGoes(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)
	id, token := e.create(presence.ModeActive, 0)
	s := e.play(id, &session.Playback{Token: token, Frames: talk, DropAfter: 1})
	if s.Status != presence.StatusFailed || reasons(s.Verdict) != "connection_lost" {
		t.Fatalf("disconnect: %s %s", s.Status, reasons(s.Verdict))
	}
}

func TestStreamTimesOutOnAnEmptyScene(t *testing.T) {
	// A device that connects and then sends nothing: the session ends
	// failed on the server's deadline, reached in virtual time.
	e := newStreamEnv(t, blinkPolicy())
	id, token := e.create(presence.ModePassive, 0)
	start := e.clock.Now()
	s := e.play(id, &session.Playback{Token: token})
	if s.Status != presence.StatusFailed || reasons(s.Verdict) != "session_timeout" {
		t.Fatalf("idle device: %s %s", s.Status, reasons(s.Verdict))
	}
	if waited := e.clock.Now().Sub(start); waited < liveness.DefaultPolicy().AlignTimeout || waited > time.Minute {
		t.Fatalf("timed out after %v of virtual time", waited)
	}
}

// The attack of issue 15: a relying party deletes each session once it
// has read the verdict, and the attacker replays the frames byte for byte.
// The fingerprints outlive the session, so the replay is refused; a person
// checking again a moment later, in the same room, is not.
func TestReplaysOutliveTheirSession(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	ctx := context.Background()
	key := &presence.APIKey{ID: "k"}
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)

	id, token := e.create(presence.ModePassive, 0)
	if s := e.play(id, &session.Playback{Token: token, Frames: talk[10:40]}); s.Verdict.Decision != presence.DecisionRealFace {
		t.Fatalf("first check: %s %s", s.Verdict.Decision, reasons(s.Verdict))
	}
	if _, err := e.svc.Delete(ctx, key, id); err != nil {
		t.Fatal(err)
	}
	// The same frames streamed again, into a passive and an active session.
	for _, mode := range []presence.Mode{presence.ModePassive, presence.ModeActive} {
		id, token = e.create(mode, 0)
		if s := e.play(id, &session.Playback{Token: token, Frames: talk[10:40]}); s.Verdict.Decision != presence.DecisionFake || reasons(s.Verdict) != "replayed_frame" {
			t.Fatalf("%s replay after deletion: %s %s", mode, s.Verdict.Decision, reasons(s.Verdict))
		}
	}
	// The same person, later in the clip: new frames, no replay.
	id, token = e.create(presence.ModePassive, 0)
	if s := e.play(id, &session.Playback{Token: token, Frames: talk[60:90]}); s.Verdict.Decision != presence.DecisionRealFace {
		t.Fatalf("a later, live check: %s %s", s.Verdict.Decision, reasons(s.Verdict))
	}

	// An upload: the same JPEG in a second session, after the first was
	// deleted, whatever the first verdict.
	photo := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img1.jpg"))
	id, token = e.create(presence.ModePassive, 0)
	first, err := e.svc.SubmitFrames(ctx, id, token, []session.Frame{{Data: photo}})
	if err != nil || first.Verdict.Decision != presence.DecisionRealFace {
		t.Fatalf("first upload: %v %v", first, err)
	}
	e.svc.Delete(ctx, key, id)
	id, token = e.create(presence.ModePassive, 0)
	again, err := e.svc.SubmitFrames(ctx, id, token, []session.Frame{{Data: photo}})
	if err != nil || again.Verdict.Decision != presence.DecisionFake || reasons(again.Verdict) != "replayed_frame" {
		t.Fatalf("the same upload again: %v %v", again.Verdict, err)
	}
	// A frame of a deleted stream, uploaded.
	id, token = e.create(presence.ModePassive, 0)
	again, err = e.svc.SubmitFrames(ctx, id, token, []session.Frame{{Data: talk[11].Data}})
	if err != nil || again.Verdict.Decision != presence.DecisionFake || reasons(again.Verdict) != "replayed_frame" {
		t.Fatalf("a streamed frame uploaded: %v %v", again.Verdict, err)
	}
}

// The capture policy: a stream-only key refuses uploads (the token stays
// unspent) and sessions cannot widen it; a key that refuses virtual
// cameras ends a stream whose device reports one as fake; every verdict
// records how its frames arrived.
func TestCapturePolicy(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	ctx := context.Background()
	streamOnly := &presence.APIKey{ID: "k2", Policy: presence.KeyPolicy{Capture: presence.CapturePolicy{Frames: presence.FramesStream, RefuseVirtualCameras: true}}}
	if _, err := e.svc.Create(ctx, streamOnly, session.CreateRequest{Capture: &presence.CapturePolicy{Frames: presence.FramesAny}}); presence.ErrorCodeOf(err) != presence.ErrForbidden {
		t.Fatalf("a session widened its key's policy: %v", err)
	}
	c, err := e.svc.Create(ctx, streamOnly, session.CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	photo := presencetest.Recapture(t, presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img1.jpg")), 1)
	if _, err := e.svc.SubmitFrames(ctx, c.Session.ID, c.ClientToken, []session.Frame{{Data: photo}}); presence.ErrorCodeOf(err) != presence.ErrForbidden {
		t.Fatalf("upload to a stream-only session: %v", err)
	}
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)
	// The token survived the refused upload; the device reports
	// Chromium's test camera, a file played as a camera.
	s := e.play(c.Session.ID, &session.Playback{Token: c.ClientToken, Frames: talk[10:40], Camera: map[string]any{"label": "fake_device_0", "width": 640, "height": 480, "frame_rate": 30}})
	if s.Verdict.Decision != presence.DecisionFake || reasons(s.Verdict) != "injection_suspected" {
		t.Fatalf("virtual camera: %s %s", s.Verdict.Decision, reasons(s.Verdict))
	}
	if cr := s.Verdict.Capture; cr == nil || cr.VirtualCamera != "fake_device" || !cr.Reported || cr.Source != "stream" {
		t.Fatalf("capture record: %+v", cr)
	}
	// A real camera's label under the same key: judged as usual, and the
	// verdict records the report and the measured frame interval.
	c, _ = e.svc.Create(ctx, streamOnly, session.CreateRequest{})
	s = e.play(c.Session.ID, &session.Playback{Token: c.ClientToken, Frames: talk[10:40], Camera: map[string]any{"label": "Integrated Webcam (0bda:58c2)", "width": 640, "height": 480}})
	if s.Verdict.Decision != presence.DecisionRealFace {
		t.Fatalf("a webcam: %s %s", s.Verdict.Decision, reasons(s.Verdict))
	}
	if cr := s.Verdict.Capture; cr == nil || cr.VirtualCamera != "" || cr.Label != "Integrated Webcam (0bda:58c2)" || cr.MeasuredFrameIntervalMS != 100 {
		t.Fatalf("capture record: %+v", cr)
	}
	// The default key takes uploads and records them as such.
	id, token := e.create(presence.ModePassive, 0)
	up, err := e.svc.SubmitFrames(ctx, id, token, []session.Frame{{Data: photo}})
	if err != nil || up.Verdict.Capture == nil || up.Verdict.Capture.Source != "upload" {
		t.Fatalf("upload: %v %v", up, err)
	}
}

// TestNoticeBeforeCapture: a session with a notice reads no frame before
// the person answers it; a decline ends it declined, with nothing judged
// or kept; an agreement is recorded, audited and carried by the verdict.
func TestNoticeBeforeCapture(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	ctx := context.Background()
	talk := clip(t, "video_live/blink_talking_1face_720p.mp4", 10)
	notice := &presence.Notice{Version: "2026-12", PolicyURL: "https://rp.example/privacy", Texts: map[string]presence.NoticeText{
		"en": {Controller: "Example Bank", Purpose: "checks that you are present", Kept: "the result, 30 days"},
		"fr": {Controller: "Banque Exemple", Purpose: "vérifie que vous êtes présent", Kept: "le résultat, 30 jours"},
	}}
	key := &presence.APIKey{ID: "k", Policy: presence.KeyPolicy{Notice: notice}}
	c, err := e.svc.Create(ctx, key, session.CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p := &session.Playback{Token: c.ClientToken, Frames: talk[10:40], Answer: map[string]any{"type": "consent", "agree": false, "language": "fr"}}
	s := e.play(c.Session.ID, p)
	if s.Status != presence.StatusDeclined || s.Verdict != nil || s.Consent == nil || s.Consent.Agreed || s.Consent.Language != "fr" || p.Events()[0]["type"] != "notice" {
		t.Fatalf("declined: %s %+v %+v %v", s.Status, s.Verdict, s.Consent, p.Events())
	}
	// Nothing of the frames was kept: the same frames in a new session are
	// no replay.
	c2, _ := e.svc.Create(ctx, key, session.CreateRequest{})
	p = &session.Playback{Token: c2.ClientToken, Frames: talk[10:40], Answer: map[string]any{"type": "consent", "agree": true, "language": "en"}}
	s = e.play(c2.Session.ID, p)
	if s.Verdict == nil || s.Verdict.Decision != presence.DecisionRealFace || s.Verdict.Consent == nil || !s.Verdict.Consent.Agreed || s.Verdict.Consent.NoticeVersion != "2026-12" {
		t.Fatalf("agreed: %s %+v", s.Status, s.Verdict)
	}
	recs, _ := e.store.ListAudit(ctx, 0, 100)
	actions := map[string]int{}
	for _, r := range recs {
		actions[r.Action]++
	}
	if actions[presence.AuditConsentDeclined] != 1 || actions[presence.AuditConsentGiven] != 1 {
		t.Fatalf("audit: %v", actions)
	}
	// Frames before an answer are refused; uploads to a noticed session too.
	c3, _ := e.svc.Create(ctx, key, session.CreateRequest{})
	p = &session.Playback{Token: c3.ClientToken, Frames: talk[10:20]}
	s = e.play(c3.Session.ID, p)
	if s.Verdict != nil || s.Consent != nil {
		t.Fatalf("frames without an answer: %s %+v", s.Status, s.Verdict)
	}
	c4, _ := e.svc.Create(ctx, key, session.CreateRequest{})
	photo := presencetest.Recapture(t, presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img1.jpg")), 9)
	if _, err := e.svc.SubmitFrames(ctx, c4.Session.ID, c4.ClientToken, []session.Frame{{Data: photo}}); presence.ErrorCodeOf(err) != presence.ErrForbidden {
		t.Fatalf("upload to a noticed session: %v", err)
	}
}

// TestKeyRetention: a key's retention is copied onto its sessions within
// the server's bounds; its fingerprints expire on the key's schedule; a
// key asking for more than the server keeps is refused.
func TestKeyRetention(t *testing.T) {
	e := newStreamEnv(t, blinkPolicy())
	ctx := context.Background()
	if _, _, err := e.svc.CreateAPIKeyWithPolicy(ctx, "greedy", presence.KeyPolicy{Retention: presence.Retention{Sessions: 365 * 24 * time.Hour}}); presence.ErrorCodeOf(err) != presence.ErrInvalid {
		t.Fatalf("a year, beyond the server's 30 days: %v", err)
	}
	_, key, err := e.svc.CreateAPIKeyWithPolicy(ctx, "brief", presence.KeyPolicy{Retention: presence.Retention{Sessions: 48 * time.Hour, Fingerprints: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.Create(ctx, key, session.CreateRequest{})
	if err != nil || c.Session.Retention.Sessions != 48*time.Hour {
		t.Fatalf("session retention: %+v %v", c.Session.Retention, err)
	}
	photo := presencetest.Recapture(t, presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img1.jpg")), 31)
	if _, err := e.svc.SubmitFrames(ctx, c.Session.ID, c.ClientToken, []session.Frame{{Data: photo}}); err != nil {
		t.Fatal(err)
	}
	// Two hours later the fingerprints are gone: the same photo is no
	// replay any more.
	e.clock.Advance(2 * time.Hour)
	c2, _ := e.svc.Create(ctx, key, session.CreateRequest{})
	s, err := e.svc.SubmitFrames(ctx, c2.Session.ID, c2.ClientToken, []session.Frame{{Data: photo}})
	if err != nil || s.Verdict.Decision != presence.DecisionRealFace {
		t.Fatalf("after the key's fingerprint retention: %v %v", s, err)
	}
}
