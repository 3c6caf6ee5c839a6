package clock_test

import (
	"testing"
	"time"

	"presence/clock"
)

func TestVirtualTickerFiresInOrderAndDrops(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	tk := v.NewTicker(250 * time.Millisecond)
	v.Advance(200 * time.Millisecond)
	select {
	case got := <-tk.C():
		t.Fatalf("tick before it was due: %v", got)
	default:
	}
	v.Advance(100 * time.Millisecond)
	if got := <-tk.C(); !got.Equal(start.Add(250 * time.Millisecond)) {
		t.Fatalf("tick at %v", got.Sub(start))
	}
	// Three intervals at once: the unread ticks are dropped, the first is
	// kept, as time.Ticker does.
	v.Advance(time.Second)
	if got := <-tk.C(); !got.Equal(start.Add(500 * time.Millisecond)) {
		t.Fatalf("kept tick at %v", got.Sub(start))
	}
	select {
	case got := <-tk.C():
		t.Fatalf("dropped tick delivered: %v", got)
	default:
	}
	if now := v.Now(); !now.Equal(start.Add(1300 * time.Millisecond)) {
		t.Fatalf("now %v", now.Sub(start))
	}
	tk.Stop()
	if v.Pending() != 0 {
		t.Fatal("stopped ticker still registered")
	}
	v.Set(start) // backwards: ignored
	if !v.Now().Equal(start.Add(1300 * time.Millisecond)) {
		t.Fatal("the clock went backwards")
	}
}

func TestSystemClock(t *testing.T) {
	c := clock.System()
	if d := time.Since(c.Now()); d < 0 || d > time.Minute {
		t.Fatalf("system clock off by %v", d)
	}
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
}
