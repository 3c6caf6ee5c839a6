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

// PassiveStream runs a passive check over a live preview: it guides the
// person with the quality gates until Need frames pass them, then fuses
// those frames as FusePassive does.
type PassiveStream struct {
	rule    PassiveRule
	need    int
	timeout time.Duration

	judged       []*presence.Analysis
	frames       int
	lastGuidance presence.ReasonCode
	lastReasons  []presence.Reason
	result       *Result
}

// NewPassiveStream waits for need good frames within timeout.
func NewPassiveStream(rule PassiveRule, need int, timeout time.Duration) *PassiveStream {
	return &PassiveStream{rule: rule, need: need, timeout: timeout}
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
	if a.Decision == presence.DecisionInconclusive || a.Score == nil {
		reasons := a.Reasons
		if len(reasons) == 0 {
			reasons = []presence.Reason{presence.NewReason(presence.ReasonNoFace)}
		}
		p.lastReasons = reasons
		return p.guide(reasons[0].Code)
	}
	p.judged = append(p.judged, a)
	events := p.guide("ok")
	if len(p.judged) < p.need {
		return events
	}
	fused := FusePassive(p.judged, p.rule)
	return append(events, p.finish(fused.Decision, fused.Score, fused.Reasons, fused.Embedding))
}

func (p *PassiveStream) guide(code presence.ReasonCode) []Event {
	if code == p.lastGuidance {
		return nil
	}
	p.lastGuidance = code
	if code == "ok" {
		return []Event{{Type: EventGuidance, Code: "ok", Message: "Hold still"}}
	}
	r := presence.NewReason(code)
	return []Event{{Type: EventGuidance, Code: r.Code, Message: r.Message}}
}

// Tick ends the check when time is up, with the last guidance as reason.
func (p *PassiveStream) Tick(at time.Duration) []Event {
	if p.result != nil || at < p.timeout {
		return nil
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
