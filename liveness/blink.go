package liveness

import (
	"sort"
	"time"
)

// BlinkDetector finds blinks in a stream of eye aspect ratios (EAR),
// relative to the person's own open-eye level: narrow eyes have a low EAR
// when open, so a fixed threshold would call them closed.
type BlinkDetector struct {
	// CloseRatio: the eyes count as closing below CloseRatio x baseline.
	CloseRatio float64
	// OpenRatio: they count as open again above OpenRatio x baseline.
	OpenRatio float64
	// MaxClosed is the longest closure that is still a blink; longer ones
	// are eyes kept shut or a downward gaze.
	MaxClosed time.Duration
	// Window is how far back the baseline looks.
	Window time.Duration

	samples     []earSample
	closed      bool
	closedSince time.Duration
}

type earSample struct {
	at  time.Duration
	ear float64
}

// NewBlinkDetector returns a detector with the defaults evaluated in
// docs/active.md.
func NewBlinkDetector() *BlinkDetector {
	return &BlinkDetector{CloseRatio: 0.78, OpenRatio: 0.88, MaxClosed: 600 * time.Millisecond, Window: 3 * time.Second}
}

// minBaselineSamples is how many frames the baseline needs first.
const minBaselineSamples = 5

// Baseline is the open-eye level: the 80th percentile of recent EAR values,
// which blinks (a small share of frames) do not pull down. Zero until
// enough frames were seen.
func (d *BlinkDetector) Baseline(now time.Duration) float64 {
	var recent []float64
	for _, s := range d.samples {
		if s.at >= now-d.Window && s.at < now {
			recent = append(recent, s.ear)
		}
	}
	if len(recent) < minBaselineSamples {
		return 0
	}
	sort.Float64s(recent)
	return recent[len(recent)*4/5]
}

// Observe adds one frame at time at: its eye aspect ratio and the eye
// model's open probability of the less open eye. It reports a blink when
// the eyes reopen after a short closure; closedAt is when the closure
// began. A closure needs both signals: the EAR well below the person's
// baseline, and the eye model not sure the eyes are open. Squints, head
// turns and downward glances lower the EAR with open eyes, which the model
// sees; for eyes the model misreads as always closed (narrow eyes), its
// condition always holds and the EAR decides alone.
func (d *BlinkDetector) Observe(at time.Duration, ear, eyeOpen float64) (blink bool, closedAt time.Duration) {
	base := d.Baseline(at)
	d.samples = append(d.samples, earSample{at, ear})
	for len(d.samples) > 0 && d.samples[0].at < at-d.Window {
		d.samples = d.samples[1:]
	}
	if base == 0 {
		return false, 0
	}
	switch {
	case !d.closed && ear < d.CloseRatio*base && eyeOpen < 0.5:
		d.closed, d.closedSince = true, at
	case d.closed && ear > d.OpenRatio*base:
		d.closed = false
		if at-d.closedSince <= d.MaxClosed {
			return true, d.closedSince
		}
	}
	return false, 0
}

// Reset forgets the eyes (after the face was lost).
func (d *BlinkDetector) Reset() {
	d.samples, d.closed = nil, false
}
