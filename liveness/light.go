package liveness

import (
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"time"

	"presence"
	"presence/vision"
)

// LightPlan is a light challenge: the colours the device's screen shows,
// one after the other, and for how long each. The server draws it per
// session; the device learns it when the stream opens, so a recording made
// before cannot carry it.
type LightPlan struct {
	Colors      []string `json:"colors"`
	DurationsMS []int    `json:"durations_ms"`
}

// lightPalette: the primaries and their complements, whose reflections
// pull the face's chroma six different ways (a complement the opposite way
// of its primary), so a sequence carries more than one bit a colour.
var lightPalette = map[string][3]float64{
	"#ff0000": {1, 0, 0}, "#00ff00": {0, 1, 0}, "#0000ff": {0, 0, 1},
	"#00ffff": {0, 1, 1}, "#ff00ff": {1, 0, 1}, "#ffff00": {1, 1, 0},
}
var lightOrder = []string{"#ff0000", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffff00"}

// NewLightPlan draws twelve colours, no colour twice in a row, each shown
// 350-550 ms (about 5.4 s in all; under three changes a second, the
// photosensitive-seizure limit): enough changes that another sequence
// (a recording made for another session, or a guess) does not follow
// this one by chance (TestLightChallengeRefusesOtherSequences measures
// it).
func NewLightPlan(random io.Reader) (LightPlan, error) {
	if random == nil {
		random = rand.Reader
	}
	var p LightPlan
	prev := -1
	for range 12 {
		var b [2]byte
		if _, err := io.ReadFull(random, b[:]); err != nil {
			return p, err
		}
		n := len(lightOrder)
		c := int(b[0]) % n
		if prev >= 0 {
			c = int(b[0]) % (n - 1)
			if c >= prev {
				c++ // one of the colours that differ from the last
			}
		}
		prev = c
		p.Colors = append(p.Colors, lightOrder[c])
		p.DurationsMS = append(p.DurationsMS, 350+50*(int(b[1])%5))
	}
	return p, nil
}

// Validate checks a stored plan.
func (p LightPlan) Validate() error {
	if len(p.Colors) == 0 || len(p.Colors) != len(p.DurationsMS) {
		return fmt.Errorf("light plan: %d colours, %d durations", len(p.Colors), len(p.DurationsMS))
	}
	for i, c := range p.Colors {
		if _, ok := lightPalette[c]; !ok || p.DurationsMS[i] <= 0 {
			return fmt.Errorf("light plan: bad segment %d", i)
		}
	}
	return nil
}

// Total is how long the sequence runs.
func (p LightPlan) Total() time.Duration {
	ms := 0
	for _, d := range p.DurationsMS {
		ms += d
	}
	return time.Duration(ms) * time.Millisecond
}

// ColorAt returns the colour (RGB, 0-1) shown ms after the start.
func (p LightPlan) ColorAt(ms float64) ([3]float64, bool) {
	c, _, ok := p.at(ms)
	return c, ok
}

// at returns the colour shown ms after the start and how far that moment
// is from the nearest change of colour.
func (p LightPlan) at(ms float64) ([3]float64, float64, bool) {
	start := 0.0
	for i, d := range p.DurationsMS {
		end := start + float64(d)
		if ms >= start && ms < end {
			return lightPalette[p.Colors[i]], math.Min(ms-start, end-ms), true
		}
		start = end
	}
	return [3]float64{}, 0, false
}

// LightRule holds the light challenge's thresholds (docs/active.md has
// the measurements behind them).
type LightRule struct {
	// MinCorrelation: the face's chroma, against the background's, must
	// follow the screen's colours at least this well (normalised
	// correlation at the best lag).
	MinCorrelation float64
	// MinResponse is the least chroma change per unit of screen chroma a
	// passing face shows; below it and with the frames this still
	// (NoiseFloor), the light could not be measured: inconclusive.
	MinResponse, NoiseFloor float64
	// MaxLag is the longest capture latency allowed between a colour on
	// the screen and the frame stamped with it; Settle is how long around
	// each change of colour frames are ignored (a frame may straddle it).
	MaxLag, Settle time.Duration
	// MinFrames usable frames, covering at least two colours, are needed.
	MinFrames int
}

// DefaultLightRule is measured in session tests on real clip frames with
// a simulated reflection (docs/active.md).
func DefaultLightRule() LightRule {
	return LightRule{MinCorrelation: 0.85, MinResponse: 0.02, NoiseFloor: 0.004, MaxLag: 300 * time.Millisecond, Settle: 80 * time.Millisecond, MinFrames: 8}
}

// LightCheck follows one stream's frames against its light plan.
type LightCheck struct {
	plan    LightPlan
	rule    LightRule
	started bool
	startTS float64
	obs     []lightObs
}

type lightObs struct {
	ts     float64
	chroma [3]float64 // the face's chroma less the background's
}

// LightOutcome is what the check measured, recorded with the verdict.
type LightOutcome struct {
	Correlation float64 `json:"correlation"`
	Response    float64 `json:"response"`
	Spread      float64 `json:"spread"`
	LagMS       float64 `json:"lag_ms"`
	Frames      int     `json:"frames"`
	Started     bool    `json:"started"`
}

// NewLightCheck checks frames against plan.
func NewLightCheck(plan LightPlan, rule LightRule) *LightCheck {
	return &LightCheck{plan: plan, rule: rule}
}

// Plan is the plan being checked.
func (c *LightCheck) Plan() LightPlan { return c.plan }

// Start records the device's time (the frames' clock) when its screen
// showed the first colour; only the first start counts.
func (c *LightCheck) Start(ts float64) {
	if !c.started {
		c.started, c.startTS = true, ts
	}
}

// Observe adds a frame captured at ts (device milliseconds).
func (c *LightCheck) Observe(ts float64, s vision.LightSample) {
	face, bg := chroma(s.Face), chroma(s.Background)
	c.obs = append(c.obs, lightObs{ts: ts, chroma: [3]float64{face[0] - bg[0], face[1] - bg[1], face[2] - bg[2]}})
}

// Complete says whether frames cover the whole sequence and its latency.
func (c *LightCheck) Complete() bool {
	if !c.started || len(c.obs) == 0 {
		return false
	}
	return c.obs[len(c.obs)-1].ts >= c.startTS+float64((c.plan.Total()+c.rule.MaxLag).Milliseconds())
}

func chroma(v [3]float64) [3]float64 {
	s := v[0] + v[1] + v[2]
	if s <= 0 {
		return [3]float64{1.0 / 3, 1.0 / 3, 1.0 / 3}
	}
	return [3]float64{v[0] / s, v[1] / s, v[2] / s}
}

// Judge decides: "" when the face followed the light, ReasonLightMismatch
// (fake) when it visibly did something else, ReasonLightUnmeasurable
// (inconclusive) when too little light or too few frames reached it.
func (c *LightCheck) Judge() (LightOutcome, presence.ReasonCode) {
	out := LightOutcome{Started: c.started, Correlation: -1}
	if !c.started {
		return out, presence.ReasonLightUnmeasurable
	}
	best := -2.0
	for lag := 0.0; lag <= float64(c.rule.MaxLag.Milliseconds()); lag += 20 {
		r, resp, spread, n, colours := c.fit(lag)
		if n < c.rule.MinFrames || colours < 2 {
			continue
		}
		if r > best {
			best = r
			out = LightOutcome{Correlation: r, Response: resp, Spread: spread, LagMS: lag, Frames: n, Started: true}
		}
	}
	switch {
	case best == -2:
		return out, presence.ReasonLightUnmeasurable
	case out.Correlation >= c.rule.MinCorrelation && out.Response >= c.rule.MinResponse:
		return out, ""
	case out.Spread < c.rule.NoiseFloor:
		return out, presence.ReasonLightUnmeasurable
	}
	return out, presence.ReasonLightMismatch
}

// fit correlates the observed chroma with the screen's at one lag.
func (c *LightCheck) fit(lag float64) (corr, response, spread float64, n, colours int) {
	var xs, ys [][3]float64
	seen := map[[3]float64]bool{}
	settle := float64(c.rule.Settle.Milliseconds())
	for _, o := range c.obs {
		col, edge, ok := c.plan.at(o.ts - lag - c.startTS)
		if !ok || edge < settle {
			continue
		}
		seen[col] = true
		e := chroma(col)
		xs = append(xs, [3]float64{e[0] - 1.0/3, e[1] - 1.0/3, e[2] - 1.0/3})
		ys = append(ys, o.chroma)
	}
	n, colours = len(xs), len(seen)
	if n == 0 {
		return 0, 0, 0, 0, 0
	}
	var mx, my [3]float64
	for i := range xs {
		for k := range 3 {
			mx[k] += xs[i][k] / float64(n)
			my[k] += ys[i][k] / float64(n)
		}
	}
	var sxy, sxx, syy float64
	for i := range xs {
		for k := range 3 {
			dx, dy := xs[i][k]-mx[k], ys[i][k]-my[k]
			sxy += dx * dy
			sxx += dx * dx
			syy += dy * dy
		}
	}
	spread = math.Sqrt(syy / float64(n))
	if sxx == 0 || syy == 0 {
		return 0, 0, spread, n, colours
	}
	return sxy / math.Sqrt(sxx*syy), sxy / sxx, spread, n, colours
}
