// Package bench drives a function with concurrent clients and summarises
// latency (p50/p95/p99) and throughput. `presence bench` uses it for the
// in-process pipeline and for the full HTTP flow.
package bench

import (
	"context"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stats summarises one run. Latencies are in milliseconds.
type Stats struct {
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"per_second"`
	Mean       float64 `json:"mean_ms"`
	P50        float64 `json:"p50_ms"`
	P95        float64 `json:"p95_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	// FirstError is one error message, to say why requests failed.
	FirstError string `json:"first_error,omitempty"`
}

// Sample is the raw outcome of a measured run: the latency of every
// successful call and the wall time.
type Sample struct {
	Latencies  []time.Duration
	Wall       time.Duration
	Errors     int
	FirstError string
}

// Measure calls do requests times from clients goroutines and records
// each call. It stops early when ctx ends.
func Measure(ctx context.Context, clients, requests int, do func(context.Context) error) Sample {
	clients = max(1, min(clients, requests))
	lat := make([]time.Duration, requests)
	ok := make([]bool, requests)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= requests || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := do(ctx)
				lat[i] = time.Since(t)
				ok[i] = err == nil
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	s := Sample{Wall: time.Since(start)}
	for i := 0; i < min(requests, int(next.Load())); i++ {
		if ok[i] {
			s.Latencies = append(s.Latencies, lat[i])
		} else {
			s.Errors++
		}
	}
	if e, _ := firstErr.Load().(string); e != "" {
		s.FirstError = e
	}
	return s
}

// Run measures and summarises in one step.
func Run(ctx context.Context, clients, requests int, do func(context.Context) error) Stats {
	return Merge(Measure(ctx, clients, requests, do))
}

// Merge summarises one or more samples of the same configuration (e.g.
// interleaved rounds): latencies are pooled, throughput is all successful
// calls over the summed wall time.
func Merge(samples ...Sample) Stats {
	var all []time.Duration
	var wall time.Duration
	errors := 0
	first := ""
	for _, s := range samples {
		all = append(all, s.Latencies...)
		wall += s.Wall
		errors += s.Errors
		if first == "" {
			first = s.FirstError
		}
	}
	st := Summarize(all, wall)
	st.Errors, st.FirstError = errors, first
	return st
}

// Summarize computes the statistics of successful latencies over a wall
// time.
func Summarize(lat []time.Duration, wall time.Duration) Stats {
	s := Stats{Requests: len(lat), Seconds: wall.Seconds()}
	if len(lat) == 0 {
		return s
	}
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s.Mean = ms(sum / time.Duration(len(sorted)))
	s.P50 = ms(Percentile(sorted, 0.50))
	s.P95 = ms(Percentile(sorted, 0.95))
	s.P99 = ms(Percentile(sorted, 0.99))
	s.Max = ms(sorted[len(sorted)-1])
	if wall > 0 {
		s.Throughput = float64(len(lat)) / wall.Seconds()
	}
	return s
}

// Percentile is the nearest-rank percentile p (0..1] of ascending values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}
