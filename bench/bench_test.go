package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 50, 0.95: 95, 0.99: 99, 1: 100, 0.001: 1} {
		if got := Percentile(v, p); got != want*time.Millisecond {
			t.Errorf("p%v = %v, want %vms", p, got, want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty")
	}
}

func TestRunCountsErrorsAndRequests(t *testing.T) {
	calls := 0
	s := Run(context.Background(), 1, 10, func(context.Context) error {
		calls++
		if calls%5 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	if s.Requests != 8 || s.Errors != 2 || s.FirstError != "boom" || calls != 10 {
		t.Errorf("%+v after %d calls", s, calls)
	}
}

func TestRunConcurrency(t *testing.T) {
	// The first four calls wait for each other: they can only all return
	// if Run keeps four clients busy at once. A call that waits too long
	// fails, so a broken Run fails the test instead of hanging it.
	var arrived atomic.Int32
	all := make(chan struct{})
	s := Run(context.Background(), 4, 12, func(context.Context) error {
		if n := arrived.Add(1); n > 4 {
			return nil
		} else if n == 4 {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("fewer than four calls in flight")
		}
	})
	if s.Requests != 12 || s.Errors != 0 {
		t.Errorf("%+v", s)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if s := Summarize(nil, time.Second); s.Requests != 0 || s.Throughput != 0 {
		t.Errorf("%+v", s)
	}
}
