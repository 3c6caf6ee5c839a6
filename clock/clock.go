// Package clock gives the time to code that waits: the system clock in
// production, and a virtual clock in tests and in clip evaluation, where a
// minute of video is replayed in milliseconds and nothing sleeps.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers the time at intervals, dropping ticks a slow reader
// misses, as time.Ticker does.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// System is the real clock.
func System() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (t systemTicker) C() <-chan time.Time { return t.t.C }
func (t systemTicker) Stop()               { t.t.Stop() }

// Virtual is a clock that moves only when told to. Advancing it delivers
// every tick that falls due, in time order, before Advance returns, so a
// reader of the ticker sees the tick before anything the caller does next.
type Virtual struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*virtualTicker
}

// NewVirtual returns a virtual clock reading start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now is the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// NewTicker makes a ticker whose first tick is d from now.
func (v *Virtual) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval") // as time.NewTicker
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t := &virtualTicker{clock: v, every: d, next: v.now.Add(d), c: make(chan time.Time, 1)}
	v.tickers = append(v.tickers, t)
	return t
}

// Advance moves the clock forward by d (never back).
func (v *Virtual) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	v.Set(v.Now().Add(d))
}

// Set moves the clock to t; a t in the past is ignored, since time that
// went backwards would break every interval measured with it.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for {
		// The earliest due tick first, so ticks of several tickers
		// arrive in time order.
		var due *virtualTicker
		for _, tk := range v.tickers {
			if !tk.next.After(t) && (due == nil || tk.next.Before(due.next)) {
				due = tk
			}
		}
		if due == nil {
			break
		}
		if due.next.After(v.now) {
			v.now = due.next
		}
		select {
		case due.c <- due.next:
		default: // the reader is behind: the tick is dropped
		}
		due.next = due.next.Add(due.every)
	}
	if t.After(v.now) {
		v.now = t
	}
}

// Pending is how many tickers are running (tests check none leak).
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.tickers)
}

type virtualTicker struct {
	clock *Virtual
	every time.Duration
	next  time.Time
	c     chan time.Time
}

func (t *virtualTicker) C() <-chan time.Time { return t.c }

func (t *virtualTicker) Stop() {
	v := t.clock
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, tk := range v.tickers {
		if tk == t {
			v.tickers = append(v.tickers[:i], v.tickers[i+1:]...)
			return
		}
	}
}

// Offset is the system clock moved forward by an adjustable amount: time
// passes and tickers tick in real time, and a test can still jump ahead
// (browser tests stream in real time, and test expiry too).
type Offset struct {
	mu    sync.Mutex
	ahead time.Duration
}

// Now is the system time plus the offset.
func (o *Offset) Now() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Now().Add(o.ahead)
}

// NewTicker ticks in real time.
func (o *Offset) NewTicker(d time.Duration) Ticker { return systemClock{}.NewTicker(d) }

// Advance moves the clock forward by d.
func (o *Offset) Advance(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d > 0 {
		o.ahead += d
	}
}

// Adjustable is a clock tests move forward.
type Adjustable interface {
	Clock
	Advance(d time.Duration)
}

var (
	_ Adjustable = (*Virtual)(nil)
	_ Adjustable = (*Offset)(nil)
)
