package session

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"

	"presence"
	"presence/engine"
	"presence/liveness"
	"presence/vision"
)

// StreamConn is the device's message connection (a WebSocket): text
// messages carry JSON, binary ones carry frames.
type StreamConn interface {
	Read(ctx context.Context) (binary bool, data []byte, err error)
	WriteJSON(ctx context.Context, v any) error
}

// AuthenticatedConn is a connection that is told when the hello's client
// token was accepted: until then it holds its peer to a small message
// size, so unauthenticated peers cannot make the server buffer frames.
type AuthenticatedConn interface {
	StreamConn
	Authenticated()
}

// PacedConn is a connection that plays a recording rather than a live
// camera (clip evaluation, tests on a virtual clock). It is told when each
// message it delivered has been handled, and delivers the next only then:
// the stream never drops a frame of it for falling behind, and a clock the
// connection advances between messages gives the same verdict on any
// machine.
type PacedConn interface {
	StreamConn
	Handled()
}

// Protocol limits of a stream.
const (
	helloTimeout = 10 * time.Second
	maxStreamFPS = 10
)

// streamError is the message a refused stream gets before it is closed.
type streamError struct {
	Type    string             `json:"type"`
	Code    presence.ErrorCode `json:"code"`
	Message string             `json:"message"`
}

func sendError(ctx context.Context, conn StreamConn, err error) error {
	conn.WriteJSON(ctx, streamError{Type: "error", Code: presence.ErrorCodeOf(err), Message: presence.ErrorMessage(err)})
	return err
}

// ready opens the stream for the device: the nonce every frame must carry,
// how many steps there are (not which), and how fast to send.
type ready struct {
	Type   string        `json:"type"`
	Mode   presence.Mode `json:"mode"`
	Nonce  string        `json:"nonce"`
	Steps  int           `json:"steps,omitempty"`
	MaxFPS int           `json:"max_fps"`
	// Light is the light challenge the screen shows, starting at once;
	// the device says when it showed the first colour
	// ({"type":"light_start","ts":...}, on the frames' clock).
	Light *liveness.LightPlan `json:"light,omitempty"`
}

// done ends the stream. The device learns that the check ended and, only
// when it was too poor to judge, what to do better: never the decision.
type done struct {
	Type     string            `json:"type"`
	Status   presence.Status   `json:"status"`
	Guidance []presence.Reason `json:"guidance"`
}

// frameHeader is the JSON header of a binary frame message: a 2-byte
// big-endian length, the header, then the image bytes.
type frameHeader struct {
	Seq   int     `json:"seq"`
	TS    float64 `json:"ts"`
	Nonce string  `json:"nonce"`
}

func parseFrame(data []byte) (frameHeader, []byte, error) {
	var h frameHeader
	if len(data) < 2 {
		return h, nil, presence.Errorf(presence.ErrInvalid, "frame message too short")
	}
	n := int(binary.BigEndian.Uint16(data))
	if n == 0 || 2+n > len(data) {
		return h, nil, presence.Errorf(presence.ErrInvalid, "frame header length out of range")
	}
	if err := json.Unmarshal(data[2:2+n], &h); err != nil {
		return h, nil, presence.Errorf(presence.ErrInvalid, "frame header is not JSON")
	}
	return h, data[2+n:], nil
}

// Stream runs a session over a live connection: the first message must be
// {"type":"hello","token":...} with the session's client token, which it
// spends; then the device sends frames and receives guidance, steps and
// the end. The session ends failed if the device goes away first.
func (s *Service) Stream(ctx context.Context, id string, conn StreamConn) error {
	helloCtx, cancel := context.WithTimeout(ctx, helloTimeout)
	isBinary, msg, err := conn.Read(helloCtx)
	cancel()
	if err != nil {
		return err
	}
	var hello struct {
		Type   string        `json:"type"`
		Token  string        `json:"token"`
		Camera *cameraReport `json:"camera"`
		// Peek asks for the session's notice without spending the token:
		// the SDK shows it before it asks for the camera.
		Peek bool `json:"peek"`
	}
	if isBinary || json.Unmarshal(msg, &hello) != nil || hello.Type != "hello" {
		return sendError(ctx, conn, presence.Errorf(presence.ErrInvalid, `the first message must be {"type":"hello","token":"..."}`))
	}
	sess, err := s.SessionForToken(ctx, id, hello.Token)
	if err != nil {
		return sendError(ctx, conn, err)
	}
	if hello.Peek {
		return conn.WriteJSON(ctx, struct {
			Type   string           `json:"type"`
			Notice *presence.Notice `json:"notice"`
		}{"notice", sess.Notice})
	}
	if err := s.cfg.Store.StartSession(ctx, id, secretHash(hello.Token), s.cfg.Clock.Now()); err != nil {
		return sendError(ctx, conn, err)
	}
	if a, ok := conn.(AuthenticatedConn); ok {
		a.Authenticated()
	}
	// The model set in service now judges every frame of the stream.
	eng, release := s.pin()
	defer release()
	st := &stream{svc: s, eng: eng, sess: sess, conn: conn, start: s.cfg.Clock.Now(), camera: hello.Camera}
	if err := st.setUp(); err != nil {
		// A stored plan that does not parse: the session stays in
		// progress and expires; the device is told it cannot go on.
		return sendError(ctx, conn, err)
	}
	if sess.Notice != nil {
		agreed, err := st.askConsent(ctx)
		if err != nil || !agreed {
			return err
		}
		st.start = s.cfg.Clock.Now() // the check's time starts when the camera may open
	}
	if cam := st.camera; cam != nil && sess.Capture.RefuseVirtualCameras && virtualCamera(cam.Label) != "" {
		// Refused before any frame: the relying party does not accept
		// this kind of camera at all.
		s.cfg.Log.Warn("virtual camera refused", "session", sess.ID, "camera", virtualCamera(cam.Label))
		st.judge.Fail(0, presence.DecisionFake, presence.ReasonInjectionSuspected)
		return st.end(ctx, liveness.Frame{}, nil)
	}
	if err := conn.WriteJSON(ctx, ready{Type: "ready", Mode: sess.Mode, Nonce: st.plan.Nonce, Steps: len(st.plan.Steps), MaxFPS: maxStreamFPS, Light: st.plan.Light}); err != nil {
		st.end(context.WithoutCancel(ctx), liveness.Frame{}, err)
		return err
	}
	return st.run(ctx)
}

// stream is one connected session.
type stream struct {
	svc   *Service
	eng   Analyzer // the session's model set
	sess  *presence.Session
	conn  StreamConn
	start time.Time
	plan  liveness.Plan
	judge liveness.Judge
	guard *liveness.StreamGuard

	timings  presence.Timings
	audit    []presence.AuditImage
	keep     []presence.FrameHash
	replays  *liveness.ReplayTally
	deadline time.Duration
	camera   *cameraReport
	light    *liveness.LightCheck
	// shadow judges the same frames with a candidate (nil: not sampled).
	shadow *streamShadow
	// captureMS are the device's capture times of the frames judged.
	captureMS []float64
}

func (st *stream) setUp() error {
	cfg := st.svc.cfg
	switch st.sess.Mode {
	case presence.ModeActive:
		if err := json.Unmarshal(st.sess.Challenge, &st.plan); err != nil || len(st.plan.Steps) == 0 {
			return presence.WrapError(presence.ErrInternal, err, "the session's challenge is unreadable")
		}
		p := cfg.Policy
		st.judge = st.newJudge(st.eng.Thresholds())
		st.deadline = p.AlignTimeout + time.Duration(len(st.plan.Steps))*p.StepTimeout + 5*time.Second
	default:
		st.plan = liveness.Plan{Nonce: randomID("", 16)}
		if len(st.sess.Challenge) > 0 { // a light challenge
			if err := json.Unmarshal(st.sess.Challenge, &st.plan); err != nil {
				return presence.WrapError(presence.ErrInternal, err, "the session's challenge is unreadable")
			}
		}
		st.judge = st.newJudge(st.eng.Thresholds())
		st.deadline = cfg.Policy.AlignTimeout + 5*time.Second
	}
	if sh := cfg.Shadow; sh.sampled(st.sess.ID) {
		st.shadow = &streamShadow{eng: sh.Engine, judge: st.newJudge(sh.Engine.Thresholds())}
	}
	if st.plan.Light != nil {
		if err := st.plan.Light.Validate(); err != nil {
			return presence.WrapError(presence.ErrInternal, err, "the session's light challenge is unreadable")
		}
		st.light = liveness.NewLightCheck(*st.plan.Light, cfg.Light)
	}
	st.guard = liveness.NewStreamGuard(st.plan.Nonce, cfg.Guard)
	st.replays = liveness.NewReplayTally(st.sess.ID, cfg.Guard)
	return nil
}

// newJudge makes the session's judge with thresholds t: the real one, or
// a candidate's in shadow.
func (st *stream) newJudge(t engine.Thresholds) liveness.Judge {
	cfg := st.svc.cfg
	if st.sess.Mode == presence.ModeActive {
		p := cfg.Policy
		p.Liveness, p.ConfidentFake = t.Liveness, t.ConfidentFake
		return liveness.NewMachine(st.plan, p)
	}
	window := cfg.PassiveWindow
	if st.plan.Light != nil {
		// Judge for as long as the colours run, every frame.
		window.MaxJudged = 1 << 20
		window.Span = max(window.Span, st.plan.Light.Total()+cfg.Light.MaxLag+500*time.Millisecond)
	}
	return liveness.NewPassiveStream(liveness.PassiveRule{Liveness: t.Liveness, ConfidentFake: t.ConfidentFake, SameFace: cfg.SameFace}, window, cfg.Policy.AlignTimeout)
}

type incoming struct {
	binary bool
	data   []byte
	err    error
	at     time.Duration
}

// since is the stream time of t.
func (st *stream) since(t time.Time) time.Duration { return t.Sub(st.start) }

// run reads frames on one goroutine and judges them on this one; when
// judging falls behind a live camera, the oldest waiting frame is dropped
// rather than letting latency grow.
func (st *stream) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clk := st.svc.cfg.Clock
	paced, _ := st.conn.(PacedConn)
	frames := make(chan incoming, 2)
	go func() {
		defer close(frames)
		for {
			b, data, err := st.conn.Read(ctx)
			msg := incoming{binary: b, data: data, err: err, at: st.since(clk.Now())}
			select {
			case frames <- msg:
			default:
				select { // full: drop the oldest, keep the newest
				case <-frames:
				default:
				}
				frames <- msg
			}
			if err != nil {
				return
			}
		}
	}()
	tick := clk.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	// A tick reads the clock rather than its own time: a virtual clock
	// has already moved to the next frame's time, and an offset clock's
	// ticker runs on the system time.
	onTick := func() (bool, error) {
		at := st.since(clk.Now())
		events := st.judge.Tick(at)
		if len(events) == 0 && at > st.deadline {
			events = []liveness.Event{st.judge.Fail(at, presence.DecisionInconclusive, presence.ReasonSessionTimeout)}
		}
		if err := st.send(ctx, events); err != nil || st.judge.Done() {
			return true, st.end(ctx, liveness.Frame{At: at}, err)
		}
		return false, nil
	}
	for {
		// A tick already due goes first, so a frame that arrived after it
		// is judged after it, whatever order the channels are read in.
		select {
		case <-tick.C():
			if stop, err := onTick(); stop {
				return err
			}
			continue
		default:
		}
		select {
		case <-tick.C():
			if stop, err := onTick(); stop {
				return err
			}
		case msg, ok := <-frames:
			if !ok || msg.err != nil {
				at := st.since(clk.Now())
				st.judge.Fail(at, presence.DecisionInconclusive, presence.ReasonConnectionLost)
				return st.end(context.WithoutCancel(ctx), liveness.Frame{At: at}, errors.New("connection lost"))
			}
			if msg.binary {
				events, err := st.frame(ctx, msg)
				if err != nil {
					st.judge.Fail(msg.at, presence.DecisionInconclusive, presence.ReasonConnectionLost)
					st.end(context.WithoutCancel(ctx), liveness.Frame{At: msg.at}, err)
					return sendError(ctx, st.conn, err)
				}
				if err := st.send(ctx, events); err != nil || st.judge.Done() {
					return st.end(ctx, liveness.Frame{At: msg.at}, err)
				}
			} else if done, err := st.textMessage(ctx, msg); done {
				return err
			} // other text messages are ignored; "cancel" is a close
			if paced != nil {
				paced.Handled()
			}
		}
	}
}

// frame checks and judges one frame message.
func (st *stream) frame(ctx context.Context, msg incoming) ([]liveness.Event, error) {
	cfg := st.svc.cfg
	h, data, err := parseFrame(msg.data)
	if err != nil {
		return nil, err
	}
	decodeStart := time.Now()
	img, err := st.svc.decode(ctx, data)
	if err != nil {
		return nil, err
	}
	decode := msSince(decodeStart)
	sum := vision.PixelDigest(img)
	fh := presence.FrameHash{Seq: h.Seq, SHA256: sum[:], Perceptual: vision.PerceptualHash(img)}
	if reason := st.guard.Check(liveness.FrameMeta{Seq: h.Seq, CaptureMS: h.TS, Nonce: h.Nonce, At: msg.at, SHA256: fh.SHA256, Hash: fh.Perceptual}); reason != "" {
		return []liveness.Event{st.judge.Fail(msg.at, presence.DecisionFake, reason)}, nil
	}
	sightings, err := cfg.Store.SeenFrame(ctx, fh, cfg.Guard.LoopDistance, cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	if other, replayed := st.replays.Add(sightings); replayed {
		cfg.Log.Warn("frames replayed from another session", "session", st.sess.ID, "other", other)
		return []liveness.Event{st.judge.Fail(msg.at, presence.DecisionFake, presence.ReasonReplayedFrame)}, nil
	}
	st.captureMS = append(st.captureMS, h.TS)

	full := st.judge.WantFull()
	active := st.sess.Mode == presence.ModeActive
	a, err := st.eng.Analyze(ctx, img, engine.Options{SkipLiveness: !full, SkipEmbedding: !full, Landmarks: active})
	if err != nil {
		return nil, err
	}
	if st.light != nil && a.Face != nil && len(a.Faces) == 1 {
		st.light.Observe(h.TS, vision.SampleLight(img, a.Face.Box))
	}
	a.Timings.Decode = decode
	a.Timings.Total += decode
	addTimings(&st.timings, a.Timings)
	if cfg.Observer != nil {
		cfg.Observer.FrameAnalysed(a.Timings)
	}
	// Every judged frame of one face is remembered, whatever the verdict
	// (an attacker replays what failed too); frames of an empty scene are
	// not: they would match the next person's empty scene.
	if len(a.Faces) == 1 {
		st.keep = append(st.keep, fh)
	}
	if full && a.Decision != presence.DecisionInconclusive && len(st.audit) < st.sess.AuditImages {
		st.audit = append(st.audit, presence.AuditImage{Index: len(st.audit), ContentType: contentType(data), Data: data})
	}
	frame := liveness.Frame{At: msg.at, Analysis: a}
	if active {
		frame.Image = img // the head-turn steps check the face's depth on its pixels
	}
	if st.shadow != nil {
		st.shadow.observe(ctx, msg.at, img, active)
	}
	return st.judge.Observe(frame), nil
}

// consentTimeout is how long a person has to read the notice and answer.
const consentTimeout = 5 * time.Minute

// askConsent shows the session's notice and waits for the answer before
// anything else: no frame is read before the person agrees. A decline
// ends the session, declined, without a verdict.
func (st *stream) askConsent(ctx context.Context) (bool, error) {
	cfg := st.svc.cfg
	if err := st.conn.WriteJSON(ctx, struct {
		Type   string           `json:"type"`
		Notice *presence.Notice `json:"notice"`
	}{"notice", st.sess.Notice}); err != nil {
		return false, err
	}
	readCtx, cancel := context.WithTimeout(ctx, consentTimeout)
	isBinary, msg, err := st.conn.Read(readCtx)
	cancel()
	if err != nil {
		return false, err // the session stays in progress and expires
	}
	var answer struct {
		Type     string `json:"type"`
		Agree    bool   `json:"agree"`
		Language string `json:"language"`
	}
	if isBinary || json.Unmarshal(msg, &answer) != nil || answer.Type != "consent" {
		return false, sendError(ctx, st.conn, presence.Errorf(presence.ErrForbidden, `frames need the person's answer to the notice first: {"type":"consent","agree":true}`))
	}
	lang := answer.Language
	if _, ok := st.sess.Notice.Texts[lang]; !ok {
		lang = ""
	}
	now := cfg.Clock.Now().UTC()
	c := presence.Consent{NoticeVersion: st.sess.Notice.Version, Language: lang, Agreed: answer.Agree, At: now}
	action := presence.AuditConsentGiven
	if !answer.Agree {
		action = presence.AuditConsentDeclined
	}
	detail, _ := json.Marshal(c)
	rec := presence.AuditRecord{At: now, Action: action, APIKeyID: st.sess.APIKeyID, SessionID: st.sess.ID, SubjectID: st.sess.SubjectID, CorrelationID: st.sess.CorrelationID, Detail: detail}
	if !answer.Agree {
		rec.Event = presence.SessionEvent(st.sess, presence.StatusDeclined, nil, now)
	}
	if err := cfg.Store.RecordConsent(ctx, st.sess.ID, c, rec); err != nil {
		return false, sendError(ctx, st.conn, err)
	}
	st.sess.Consent = &c
	if !answer.Agree {
		cfg.Log.Info("notice declined", "session", st.sess.ID)
		st.conn.WriteJSON(ctx, done{Type: "done", Status: presence.StatusDeclined, Guidance: []presence.Reason{}})
		return false, nil
	}
	return true, nil
}

// textMessage reads the device's notes: that its screen started the
// light challenge, or what its camera is (the SDK opens the camera after
// the stream, so a notice can be answered before it opens). It says
// whether the stream ended.
func (st *stream) textMessage(ctx context.Context, msg incoming) (bool, error) {
	var m struct {
		Type string  `json:"type"`
		TS   float64 `json:"ts"`
		cameraReport
	}
	if json.Unmarshal(msg.data, &m) != nil {
		return false, nil
	}
	switch {
	case m.Type == "light_start" && st.light != nil && !math.IsNaN(m.TS) && !math.IsInf(m.TS, 0):
		st.light.Start(m.TS)
	case m.Type == "camera" && st.camera == nil:
		cam := m.cameraReport
		st.camera = &cam
		if st.sess.Capture.RefuseVirtualCameras && virtualCamera(cam.Label) != "" {
			st.svc.cfg.Log.Warn("virtual camera refused", "session", st.sess.ID, "camera", virtualCamera(cam.Label))
			st.judge.Fail(msg.at, presence.DecisionFake, presence.ReasonInjectionSuspected)
			return true, st.end(ctx, liveness.Frame{At: msg.at}, nil)
		}
	}
	return false, nil
}

// send forwards events to the device.
func (st *stream) send(ctx context.Context, events []liveness.Event) error {
	for _, e := range events {
		if e.Type == liveness.EventDone {
			continue // sent by end, with the status
		}
		if err := st.conn.WriteJSON(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// end stores the verdict (or the failure) and tells the device.
func (st *stream) end(ctx context.Context, last liveness.Frame, cause error) error {
	cfg := st.svc.cfg
	res := st.judge.Result()
	status := presence.StatusSucceeded
	if res == nil {
		res = &liveness.Result{Decision: presence.DecisionInconclusive, Reasons: []presence.Reason{presence.NewReason(presence.ReasonConnectionLost)}}
	}
	if len(res.Reasons) > 0 && (res.Reasons[0].Code == presence.ReasonConnectionLost || res.Reasons[0].Code == presence.ReasonSessionTimeout) {
		status = presence.StatusFailed
	}
	var light *liveness.LightOutcome
	if st.light != nil && status == presence.StatusSucceeded {
		outcome, reason := st.light.Judge()
		light = &outcome
		// The light can only take a pass away: a face that did not follow
		// the screen is not shown to be live, whatever the models say.
		if res.Decision == presence.DecisionRealFace && reason != "" {
			judged := *res
			judged.Decision, judged.Reasons = presence.DecisionFake, []presence.Reason{presence.NewReason(reason)}
			if reason == presence.ReasonLightUnmeasurable {
				judged.Decision = presence.DecisionInconclusive
			}
			res = &judged
		}
	}
	v := &presence.Verdict{Decision: res.Decision, Score: res.Score, Reasons: res.Reasons, Models: st.eng.Manifest().Versions(), ModelSet: st.eng.Manifest().ID(), Timings: st.timings,
		Capture: captureReport(st.camera, st.captureMS), Consent: st.sess.Consent}
	v.Challenge, _ = json.Marshal(struct {
		Steps      []liveness.StepKind    `json:"steps,omitempty"`
		Transcript []liveness.StepRecord  `json:"transcript,omitempty"`
		Frames     int                    `json:"frames"`
		Judged     int                    `json:"judged_frames"`
		Light      *liveness.LightOutcome `json:"light,omitempty"`
	}{st.plan.Steps, res.Transcript, res.Frames, res.Judged, light})
	probe, err := st.svc.matchAndProbe(ctx, st.sess, v, res.Embedding)
	if err != nil {
		// The verdict is stored without a match rather than lost.
		cfg.Log.Error("stream verdict: matching failed", "session", st.sess.ID, "err", err)
		probe = nil
	}
	now := cfg.Clock.Now()
	images, err := st.svc.sealImages(st.sess.ID, st.audit)
	if err != nil {
		cfg.Log.Error("stream verdict: sealing audit images failed; the verdict is stored without them", "session", st.sess.ID, "err", err)
		images = nil
	}
	c := presence.Completion{
		SessionID: st.sess.ID, Status: status, Verdict: v, At: now, FromStatus: presence.StatusInProgress, ProbeTemplate: probe,
		AuditImages: images, Audit: auditRecord(st.sess, status, v, now),
	}
	c.Fingerprints, c.FingerprintsExpire = st.svc.keptFingerprints(st.keep), st.svc.fingerprintsExpire(st.sess, now)
	if err := cfg.Store.CompleteSession(ctx, c); err != nil {
		cfg.Log.Warn("stream verdict not stored", "session", st.sess.ID, "err", err)
		return err
	}
	if cfg.Observer != nil {
		cfg.Observer.Verdict(st.sess.Mode, v)
	}
	cfg.Log.Info("verdict", "session", st.sess.ID, "mode", st.sess.Mode, "decision", v.Decision, "status", status, "frames", res.Frames)
	if st.shadow != nil && status == presence.StatusSucceeded && !decidedByProtocol(v) {
		// A candidate that had not decided when the session did counts
		// as inconclusive: it would have needed more of the person's time.
		shadow := shadowVerdictOf(presence.DecisionInconclusive, nil, []presence.Reason{presence.NewReason(presence.ReasonTooFewFrames)})
		if r := st.shadow.judge.Result(); r != nil {
			shadow = shadowVerdictOf(r.Decision, r.Score, r.Reasons)
		}
		st.svc.recordShadow(ctx, st.sess, v, shadow)
	}
	var guidance []presence.Reason
	if v.Decision == presence.DecisionInconclusive {
		guidance = v.Reasons
	}
	if guidance == nil {
		guidance = []presence.Reason{}
	}
	st.conn.WriteJSON(ctx, done{Type: "done", Status: status, Guidance: guidance})
	return cause
}
