package liveness

import (
	"time"

	"presence"
)

// Judge is what a stream drives: the active Machine, or a PassiveStream
// that waits for a few good frames.
type Judge interface {
	Observe(Frame) []Event
	Tick(at time.Duration) []Event
	Fail(at time.Duration, d presence.Decision, code presence.ReasonCode) Event
	Done() bool
	Result() *Result
	WantFull() bool
}

var (
	_ Judge = (*Machine)(nil)
	_ Judge = (*PassiveStream)(nil)
)

// PassiveWindow is how much of a live preview a passive check judges.
type PassiveWindow struct {
	// MinJudged frames must pass the gates before a verdict.
	MinJudged int
	// MaxJudged frames end the check at once.
	MaxJudged int
	// Span: once the first judged frame is this old and MinJudged are in,
	// the check ends. A few seconds of usable frames, not the first three:
	// one blurred or turned frame must not decide.
	Span time.Duration
}

// DefaultPassiveWindow judges up to two seconds or ten usable frames
// (about a second at the SDK's 10 frames a second).
func DefaultPassiveWindow() PassiveWindow {
	return PassiveWindow{MinJudged: 3, MaxJudged: 10, Span: 2 * time.Second}
}

// guidanceHold is how many frames in a row must call for new guidance
// before the device is told: advice that flips every frame helps no one.
const guidanceHold = 3

// PassiveStream runs a passive check over a live preview: it guides the
// person with the quality gates while it collects the frames that pass
// them, then fuses those frames as FusePassive does.
type PassiveStream struct {
	rule    PassiveRule
	window  PassiveWindow
	timeout time.Duration

	judged      []*presence.Analysis
	firstJudged time.Duration
	frames      int
	// multi counts the frames that showed another face: a picture held up
	// beside the person is flagged in some frames and missed in others.
	multi       int
	guidance    guidance
	lastReasons []presence.Reason
	result      *Result
}

// NewPassiveStream judges window's worth of good frames within timeout.
func NewPassiveStream(rule PassiveRule, window PassiveWindow, timeout time.Duration) *PassiveStream {
	if window.MinJudged < 1 {
		window.MinJudged = 1
	}
	if window.MaxJudged < window.MinJudged {
		window.MaxJudged = window.MinJudged
	}
	return &PassiveStream{rule: rule, window: window, timeout: timeout}
}

// WantFull is always true: every passive frame is fully judged.
func (p *PassiveStream) WantFull() bool { return true }

// Done reports whether the verdict is reached.
func (p *PassiveStream) Done() bool { return p.result != nil }

// Result is the verdict once Done.
func (p *PassiveStream) Result() *Result { return p.result }

// Observe judges one frame.
func (p *PassiveStream) Observe(f Frame) []Event {
	if p.result != nil {
		return nil
	}
	p.frames++
	if ev := p.Tick(f.At); len(ev) > 0 {
		return ev
	}
	a := f.Analysis
	if a.Face != nil && a.Face.Quality.FaceCount > 1 {
		p.multi++
	}
	if a.Decision == presence.DecisionInconclusive || a.Score == nil {
		reasons := a.Reasons
		if len(reasons) == 0 {
			reasons = []presence.Reason{presence.NewReason(presence.ReasonNoFace)}
		}
		p.lastReasons = reasons
		return p.guide(reasons[0].Code)
	}
	if len(p.judged) == 0 {
		p.firstJudged = f.At
	}
	p.judged = append(p.judged, a)
	events := p.guide("ok")
	n := len(p.judged)
	if n >= p.window.MaxJudged || (n >= p.window.MinJudged && f.At-p.firstJudged >= p.window.Span) {
		return append(events, p.verdict())
	}
	return events
}

// multiFaceFrames of a check showing another face make it inconclusive:
// the verdict must be about one person alone in view.
const multiFaceFrames = 2

// verdict fuses the judged frames.
func (p *PassiveStream) verdict() Event {
	if p.multi >= multiFaceFrames {
		return p.finish(presence.DecisionInconclusive, nil, []presence.Reason{presence.NewReason(presence.ReasonMultipleFaces)}, nil)
	}
	fused := FusePassive(p.judged, p.rule)
	return p.finish(fused.Decision, fused.Score, fused.Reasons, fused.Embedding)
}

// guide tells the device what to do (see guidance).
func (p *PassiveStream) guide(code presence.ReasonCode) []Event {
	if ev, ok := p.guidance.next(code); ok {
		return []Event{ev}
	}
	return nil
}

// guidance turns each frame's advice into guidance events that do not
// flicker: the first advice goes out at once, a change only once the new
// code has held for guidanceHold frames in a row.
type guidance struct {
	last, pending presence.ReasonCode
	run           int
}

func (g *guidance) next(code presence.ReasonCode) (Event, bool) {
	if code == g.last {
		g.pending, g.run = "", 0
		return Event{}, false
	}
	if code != g.pending {
		g.pending, g.run = code, 0
	}
	g.run++
	if g.last != "" && g.run < guidanceHold {
		return Event{}, false
	}
	g.last, g.pending, g.run = code, "", 0
	if code == "ok" {
		return Event{Type: EventGuidance, Code: "ok", Message: "Hold still"}, true
	}
	r := presence.NewReason(code)
	return Event{Type: EventGuidance, Code: r.Code, Message: r.Message}, true
}

// Tick ends the check when time is up: with a verdict when enough frames
// were judged, else with the last guidance as reason.
func (p *PassiveStream) Tick(at time.Duration) []Event {
	if p.result != nil || at < p.timeout {
		return nil
	}
	if len(p.judged) >= p.window.MinJudged {
		return []Event{p.verdict()}
	}
	reasons := p.lastReasons
	if len(reasons) == 0 {
		reasons = []presence.Reason{presence.NewReason(presence.ReasonSessionTimeout)}
	}
	return []Event{p.finish(presence.DecisionInconclusive, nil, reasons, nil)}
}

// Fail ends the check for a reason outside the frames' content.
func (p *PassiveStream) Fail(at time.Duration, d presence.Decision, code presence.ReasonCode) Event {
	return p.finish(d, nil, []presence.Reason{presence.NewReason(code)}, nil)
}

func (p *PassiveStream) finish(d presence.Decision, score *float64, reasons []presence.Reason, emb presence.Embedding) Event {
	p.result = &Result{Decision: d, Score: score, Reasons: reasons, Embedding: emb, Frames: p.frames, Judged: len(p.judged)}
	var guidance []presence.Reason
	if d == presence.DecisionInconclusive {
		guidance = reasons
	}
	return Event{Type: EventDone, Guidance: guidance}
}
