package liveness

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"presence"
	"presence/vision"
)

// StepKind is one challenge the server may ask for.
type StepKind string

// Steps the server can ask for. Directions are the person's own: turning
// the head to one's left moves the nose to the right of an unmirrored
// camera image.
const (
	StepBlink      StepKind = "blink"
	StepTurnLeft   StepKind = "turn_left"
	StepTurnRight  StepKind = "turn_right"
	StepLookUp     StepKind = "look_up"
	StepMoveCloser StepKind = "move_closer"
	StepOpenMouth  StepKind = "open_mouth"
)

// AllSteps lists every step kind.
var AllSteps = []StepKind{StepBlink, StepTurnLeft, StepTurnRight, StepLookUp, StepMoveCloser, StepOpenMouth}

// stepMessages are the prompts shown to the person.
var stepMessages = map[StepKind]string{
	StepBlink:      "Now blink",
	StepTurnLeft:   "Turn your head left",
	StepTurnRight:  "Turn your head right",
	StepLookUp:     "Look up",
	StepMoveCloser: "Move closer",
	StepOpenMouth:  "Open your mouth",
}

// Message is the prompt of a step.
func (k StepKind) Message() string { return stepMessages[k] }

// Policy is the operator's choice of what active sessions may ask and how
// strictly they are judged.
type Policy struct {
	// Steps the server may choose from.
	Steps []StepKind `json:"steps"`
	// MinSteps and MaxSteps bound how many steps a session asks.
	MinSteps int `json:"min_steps"`
	MaxSteps int `json:"max_steps"`
	// StepTimeout is how long a person has for each step.
	StepTimeout time.Duration `json:"step_timeout"`
	// AlignTimeout is how long the person has to get a good first view.
	AlignTimeout time.Duration `json:"align_timeout"`
	// FaceLostTimeout ends the session when no face is seen that long.
	FaceLostTimeout time.Duration `json:"face_lost_timeout"`
	// MultiFaceTimeout ends it when several faces stay in view that long.
	MultiFaceTimeout time.Duration `json:"multi_face_timeout"`
	// Liveness is the fused anti-spoofing score a pass needs.
	Liveness float64 `json:"liveness"`
	// ConfidentFake is the fused score below which (with most frames
	// below Liveness) a session is fake; see ScoreRule.
	ConfidentFake float64 `json:"confident_fake"`
	// SameFace is the lowest similarity to the first face seen.
	SameFace float64 `json:"same_face"`
	// MinJudgedFrames is how many frames' anti-spoofing scores the
	// verdict fuses at least.
	MinJudgedFrames int `json:"min_judged_frames"`
	// FlatFit: a head turn whose face one homography explains this well
	// (vision.PlanarFit, normalised correlation) moved as a flat picture
	// does, and the session is fake, flat_face (docs/active.md has the
	// measurements); 0 or above 1 turns the check off.
	FlatFit float64 `json:"flat_fit"`
}

// DefaultPolicy asks 2-4 steps of every kind, 8 s each.
func DefaultPolicy() Policy {
	return Policy{
		Steps: AllSteps, MinSteps: 2, MaxSteps: 4,
		StepTimeout: 8 * time.Second, AlignTimeout: 15 * time.Second,
		FaceLostTimeout: 3 * time.Second, MultiFaceTimeout: 2 * time.Second,
		Liveness: 0.5, ConfidentFake: 0.2, SameFace: 0.3, MinJudgedFrames: 3, FlatFit: 0.96,
	}
}

// Validate checks a policy from configuration.
func (p Policy) Validate() error {
	if len(p.Steps) == 0 {
		return fmt.Errorf("active policy: no steps allowed")
	}
	for _, s := range p.Steps {
		if _, ok := stepMessages[s]; !ok {
			return fmt.Errorf("active policy: unknown step %q (known: blink, turn_left, turn_right, look_up, move_closer, open_mouth)", s)
		}
	}
	if p.MinSteps < 1 || p.MaxSteps < p.MinSteps || p.MaxSteps > 8 {
		return fmt.Errorf("active policy: steps per session must be 1 <= min <= max <= 8")
	}
	if p.StepTimeout < time.Second || p.AlignTimeout < time.Second {
		return fmt.Errorf("active policy: timeouts must be at least a second")
	}
	return nil
}

// Plan is what the server fixes at session creation: the steps, in
// order, and the nonce every frame of the stream must carry.
type Plan struct {
	Nonce       string     `json:"nonce"`
	Steps       []StepKind `json:"steps"`
	StepTimeout int64      `json:"step_timeout_ms"`
	// Light is the light challenge, when the session asked for one.
	Light *LightPlan `json:"light,omitempty"`
}

// NewPlan draws 2-4 (per policy) random steps and a nonce from random (use
// crypto/rand.Reader). A step is not asked twice in a row unless the
// policy allows only one kind.
func NewPlan(p Policy, random io.Reader) (Plan, error) {
	if random == nil {
		random = rand.Reader
	}
	draw := func(n int) (int, error) {
		var b [8]byte
		if _, err := io.ReadFull(random, b[:]); err != nil {
			return 0, err
		}
		return int(binary.BigEndian.Uint64(b[:]) % uint64(n)), nil
	}
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(random, nonce); err != nil {
		return Plan{}, err
	}
	k, err := draw(p.MaxSteps - p.MinSteps + 1)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Nonce: base64.RawURLEncoding.EncodeToString(nonce), StepTimeout: p.StepTimeout.Milliseconds()}
	for len(plan.Steps) < p.MinSteps+k {
		i, err := draw(len(p.Steps))
		if err != nil {
			return Plan{}, err
		}
		s := p.Steps[i]
		if len(plan.Steps) > 0 && plan.Steps[len(plan.Steps)-1] == s && len(distinct(p.Steps)) > 1 {
			continue
		}
		plan.Steps = append(plan.Steps, s)
	}
	return plan, nil
}

func distinct(steps []StepKind) map[StepKind]bool {
	m := map[StepKind]bool{}
	for _, s := range steps {
		m[s] = true
	}
	return m
}

// Frame is one analysed frame of the stream. At is server time since the
// stream started: timeouts never trust the device's clock.
type Frame struct {
	At       time.Duration
	Analysis *presence.Analysis
	// Image is the decoded frame, for the checks that read pixels (the
	// flat-face check of head turns); nil skips them.
	Image *presence.Image
}

// EventType names what the machine tells the device.
type EventType string

// Event types.
const (
	EventGuidance EventType = "guidance"
	EventStep     EventType = "step"
	EventStepDone EventType = "step_done"
	EventDone     EventType = "done"
)

// Event is a message for the device: guidance, the next step, a step
// completed, or the end. It never carries a score or a decision.
type Event struct {
	Type      EventType
	Code      presence.ReasonCode
	Message   string
	Index     int
	Total     int
	Step      StepKind
	TimeoutMS int64
	Guidance  []presence.Reason
}

// MarshalJSON writes the fields of the event's type and no others (a step
// index of 0 is still written).
func (e Event) MarshalJSON() ([]byte, error) {
	switch e.Type {
	case EventGuidance:
		return json.Marshal(struct {
			Type    EventType           `json:"type"`
			Code    presence.ReasonCode `json:"code"`
			Message string              `json:"message"`
		}{e.Type, e.Code, e.Message})
	case EventStep:
		return json.Marshal(struct {
			Type      EventType `json:"type"`
			Index     int       `json:"index"`
			Total     int       `json:"total"`
			Step      StepKind  `json:"step"`
			Message   string    `json:"message"`
			TimeoutMS int64     `json:"timeout_ms"`
		}{e.Type, e.Index, e.Total, e.Step, e.Message, e.TimeoutMS})
	case EventStepDone:
		return json.Marshal(struct {
			Type  EventType `json:"type"`
			Index int       `json:"index"`
			Total int       `json:"total"`
		}{e.Type, e.Index, e.Total})
	}
	return json.Marshal(struct {
		Type     EventType         `json:"type"`
		Guidance []presence.Reason `json:"guidance,omitempty"`
	}{e.Type, e.Guidance})
}

// StepRecord is the transcript of one step for the relying party.
type StepRecord struct {
	Step        StepKind `json:"step"`
	StartedMS   int64    `json:"started_ms"`
	CompletedMS int64    `json:"completed_ms,omitempty"`
	Passed      bool     `json:"passed"`
	// PlanarFit is how well one homography explained the face's change
	// in a head turn (near 1: flat).
	PlanarFit *float64 `json:"planar_fit,omitempty"`
}

// Result is the machine's verdict.
type Result struct {
	Decision   presence.Decision
	Score      *float64
	Reasons    []presence.Reason
	Embedding  presence.Embedding
	Transcript []StepRecord
	Frames     int
	Judged     int
}

type phase int

const (
	aligning phase = iota
	stepping
	finished
)

// Machine runs one active session over its frames: a first aligned view
// fixes the person's baselines, then each step is revealed only when due
// and checked against those baselines within its time limit, while every
// frame is checked for one face, the same face, and anti-spoofing.
type Machine struct {
	plan   Plan
	policy Policy
	phase  phase
	step   int

	stepStarted time.Duration
	held        int

	// Baselines from the aligned view.
	base struct {
		n                       int
		yaw, pitch, size, mouth float64
		// The most frontal aligned frame, for the flat-face check.
		image     *presence.Image
		landmarks []presence.Point
		frontal   float64
	}
	identity   presence.Embedding
	mismatches int
	embSum     presence.Embedding
	blink      *BlinkDetector

	noFaceSince, multiSince time.Duration
	hadFace, hadMulti       bool
	guidance                guidance
	lastReasons             []presence.Reason

	scores     []float64
	frames     int
	transcript []StepRecord
	result     *Result
}

// NewMachine starts a machine for a plan.
func NewMachine(plan Plan, p Policy) *Machine {
	return &Machine{plan: plan, policy: p, blink: NewBlinkDetector()}
}

// Done reports whether the session has its verdict.
func (m *Machine) Done() bool { return m.phase == finished }

// Result is the verdict once Done.
func (m *Machine) Result() *Result { return m.result }

// WantFull says whether the next frame should get the full analysis
// (anti-spoofing and template) rather than the light one: every frame
// until the face is known, then every third.
func (m *Machine) WantFull() bool { return m.identity == nil || m.frames%3 == 0 }

// relaxed reasons do not stop a step: turning or coming closer is the
// point of it.
var relaxed = map[presence.ReasonCode]bool{
	presence.ReasonPoseOutOfRange: true,
	presence.ReasonFaceTooSmall:   true,
	presence.ReasonFaceCutOff:     true,
	presence.ReasonFaceTooClose:   true,
	presence.ReasonEyesClosed:     true,
}

// Observe feeds one frame and returns the events for the device.
func (m *Machine) Observe(f Frame) []Event {
	if m.phase == finished {
		return nil
	}
	m.frames++
	a := f.Analysis
	var events []Event
	if ev := m.Tick(f.At); len(ev) > 0 || m.phase == finished {
		return ev
	}
	// Presence of exactly one face, continuously.
	if a.Face == nil {
		if !m.hadFace {
			m.hadFace, m.noFaceSince = true, f.At
		}
		m.blink.Reset()
		return m.guide(events, presence.ReasonNoFace)
	}
	m.hadFace = false
	q := a.Face.Quality
	if q.FaceCount > 1 {
		if !m.hadMulti {
			m.hadMulti, m.multiSince = true, f.At
		}
		return m.guide(events, presence.ReasonMultipleFaces)
	}
	m.hadMulti = false

	// The same person throughout, checked on full frames good enough for a
	// template: a bowed head or strong blur gives a template that does not
	// look like anyone.
	if e := a.Face.Embedding; len(e) > 0 && len(blockingReasons(a.Reasons, false)) == 0 {
		if m.identity == nil {
			m.identity = e
			m.embSum = make(presence.Embedding, len(e))
		}
		if e.Similarity(m.identity) < m.policy.SameFace {
			if m.mismatches++; m.mismatches >= 2 {
				return append(events, m.finish(f.At, presence.DecisionFake, presence.ReasonFaceChanged))
			}
		} else {
			m.mismatches = 0
			for i, v := range e {
				m.embSum[i] += v
			}
		}
	}
	blocking := blockingReasons(a.Reasons, m.phase == stepping)
	if a.Score != nil && len(blocking) == 0 {
		m.scores = append(m.scores, *a.Score)
	}
	blinked, closedAt := m.blink.Observe(f.At, q.EyeAspectRatio, min(q.LeftEyeOpen, q.RightEyeOpen))
	if len(blocking) > 0 {
		return m.guide(events, blocking[0].Code)
	}

	switch m.phase {
	case aligning:
		frontal := math.Abs(q.Yaw) < 20 && math.Abs(q.Pitch) < 25
		if !frontal {
			return m.guide(events, presence.ReasonPoseOutOfRange)
		}
		m.base.n++
		if f.Image != nil && len(a.Face.Landmarks) >= 68 && (m.base.image == nil || math.Abs(q.Yaw) < m.base.frontal) {
			m.base.image, m.base.landmarks, m.base.frontal = f.Image, a.Face.Landmarks, math.Abs(q.Yaw)
		}
		m.base.yaw += q.Yaw
		m.base.pitch += q.Pitch
		m.base.size += q.FaceSize
		m.base.mouth += q.MouthOpen
		if m.base.n >= 3 && m.identity != nil {
			n := float64(m.base.n)
			m.base.yaw, m.base.pitch, m.base.size, m.base.mouth = m.base.yaw/n, m.base.pitch/n, m.base.size/n, m.base.mouth/n
			m.phase = stepping
			events = append(events, Event{Type: EventGuidance, Code: "ok", Message: "Hold still"})
			return append(events, m.startStep(f.At))
		}
		return m.guide(events, "ok")
	case stepping:
		if m.stepDone(q, blinked, closedAt) {
			m.held++
		} else {
			m.held = 0
		}
		need := 2
		if m.plan.Steps[m.step] == StepBlink {
			need = 1 // the detector already saw it close and reopen
		}
		if m.held < need {
			return events
		}
		if step := m.plan.Steps[m.step]; (step == StepTurnLeft || step == StepTurnRight) && m.base.image != nil && f.Image != nil {
			if fit, ok := vision.PlanarFit(m.base.image, m.base.landmarks, f.Image, a.Face.Landmarks); ok {
				m.transcript[m.step].PlanarFit = &fit
				if m.policy.FlatFit > 0 && fit >= m.policy.FlatFit {
					return append(events, m.finish(f.At, presence.DecisionFake, presence.ReasonFlatFace))
				}
			}
		}
		m.transcript[m.step].Passed = true
		m.transcript[m.step].CompletedMS = f.At.Milliseconds()
		events = append(events, Event{Type: EventStepDone, Index: m.step, Total: len(m.plan.Steps)})
		m.step++
		m.held = 0
		if m.step == len(m.plan.Steps) {
			return append(events, m.complete(f.At))
		}
		return append(events, m.startStep(f.At))
	}
	return events
}

// blockingReasons are the quality problems that stop judging a frame; a
// step relaxes the geometric ones.
func blockingReasons(rs []presence.Reason, stepping bool) []presence.Reason {
	var out []presence.Reason
	for _, r := range rs {
		if r.Code == presence.ReasonSpoofSuspected || (stepping && relaxed[r.Code]) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// stepDone checks the current step against the baselines.
func (m *Machine) stepDone(q presence.Quality, blinked bool, closedAt time.Duration) bool {
	b := m.base
	switch m.plan.Steps[m.step] {
	case StepBlink:
		// The closure must start after the prompt, facing the camera.
		return blinked && closedAt >= m.stepStarted && math.Abs(q.Yaw-b.yaw) < 15
	case StepTurnLeft:
		return q.Yaw-b.yaw >= 20
	case StepTurnRight:
		return q.Yaw-b.yaw <= -20
	case StepLookUp:
		return q.Pitch-b.pitch >= 12
	case StepMoveCloser:
		return q.FaceSize >= 1.25*b.size
	case StepOpenMouth:
		return q.MouthOpen >= 0.3 && q.MouthOpen >= b.mouth+0.2
	}
	return false
}

func (m *Machine) startStep(at time.Duration) Event {
	s := m.plan.Steps[m.step]
	m.stepStarted = at
	m.transcript = append(m.transcript, StepRecord{Step: s, StartedMS: at.Milliseconds()})
	return Event{Type: EventStep, Index: m.step, Total: len(m.plan.Steps), Step: s, Message: s.Message(), TimeoutMS: m.plan.StepTimeout}
}

// guide sends guidance when it changes.
func (m *Machine) guide(events []Event, code presence.ReasonCode) []Event {
	if code != "ok" {
		m.lastReasons = []presence.Reason{presence.NewReason(code)}
	}
	if ev, ok := m.guidance.next(code); ok {
		events = append(events, ev)
	}
	return events
}

// Tick applies the timeouts at time at, with or without a new frame.
func (m *Machine) Tick(at time.Duration) []Event {
	switch {
	case m.phase == finished:
		return nil
	case m.hadFace && at-m.noFaceSince >= m.policy.FaceLostTimeout:
		return []Event{m.finish(at, presence.DecisionInconclusive, presence.ReasonFaceLost)}
	case m.hadMulti && at-m.multiSince >= m.policy.MultiFaceTimeout:
		return []Event{m.finish(at, presence.DecisionInconclusive, presence.ReasonMultipleFaces)}
	case m.phase == aligning && at >= m.policy.AlignTimeout:
		reasons := m.lastReasons
		if len(reasons) == 0 {
			reasons = []presence.Reason{presence.NewReason(presence.ReasonNoFace)}
		}
		return []Event{m.finishWith(at, presence.DecisionInconclusive, reasons)}
	case m.phase == stepping && at-m.stepStarted >= m.policy.StepTimeout:
		// A step not performed in time: a spoof if the frames say so with
		// confidence, otherwise the person simply did not complete the
		// check.
		if d, _, _ := m.scoreVerdict(); d == presence.DecisionFake {
			return []Event{m.finishWith(at, presence.DecisionFake, []presence.Reason{presence.NewReason(presence.ReasonChallengeFailed), presence.NewReason(presence.ReasonSpoofSuspected)})}
		}
		return []Event{m.finish(at, presence.DecisionInconclusive, presence.ReasonChallengeFailed)}
	}
	return nil
}

// Fail ends the session for a reason found outside the frames' content
// (replayed frames, implausible timestamps, a lost connection).
func (m *Machine) Fail(at time.Duration, d presence.Decision, code presence.ReasonCode) Event {
	return m.finish(at, d, code)
}

// complete judges a session whose steps were all performed.
func (m *Machine) complete(at time.Duration) Event {
	d, _, reasons := m.scoreVerdict()
	if d == "" {
		return m.finish(at, presence.DecisionInconclusive, presence.ReasonTooFewFrames)
	}
	return m.finishWith(at, d, reasons)
}

// scoreVerdict judges the scores of the judged frames as passive checks
// do; the decision is "" with too few of them.
func (m *Machine) scoreVerdict() (presence.Decision, float64, []presence.Reason) {
	if len(m.scores) < m.policy.MinJudgedFrames {
		return "", 0, nil
	}
	return ScoreRule{Liveness: m.policy.Liveness, ConfidentFake: m.policy.ConfidentFake}.judgeScores(m.scores)
}

// fusedScore is the lower median of the judged frames' scores, as for
// passive checks; nil with too few of them.
func (m *Machine) fusedScore() *float64 {
	if len(m.scores) < m.policy.MinJudgedFrames {
		return nil
	}
	s := append([]float64(nil), m.scores...)
	sort.Float64s(s)
	v := s[(len(s)-1)/2]
	return &v
}

func (m *Machine) finish(at time.Duration, d presence.Decision, code presence.ReasonCode) Event {
	return m.finishWith(at, d, []presence.Reason{presence.NewReason(code)})
}

func (m *Machine) finishWith(at time.Duration, d presence.Decision, reasons []presence.Reason) Event {
	m.phase = finished
	var emb presence.Embedding
	if m.embSum != nil {
		emb = append(presence.Embedding(nil), m.embSum...)
		emb.Normalize()
	}
	m.result = &Result{
		Decision: d, Score: m.fusedScore(), Reasons: reasons, Embedding: emb,
		Transcript: m.transcript, Frames: m.frames, Judged: len(m.scores),
	}
	var guidance []presence.Reason
	if d == presence.DecisionInconclusive {
		guidance = reasons
	}
	return Event{Type: EventDone, Guidance: guidance}
}
