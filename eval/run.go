package eval

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"presence"
)

// AnalyzeFunc judges one image file, the way the server judges a frame.
type AnalyzeFunc func(ctx context.Context, path string) (*presence.Analysis, error)

// Outcome is what the pipeline said about one image.
type Outcome struct {
	Decision presence.Decision     `json:"decision,omitempty"`
	Score    *float64              `json:"score,omitempty"`
	Reasons  []presence.ReasonCode `json:"reasons,omitempty"`
	Error    string                `json:"error,omitempty"`
	// Quality is what the gates read of the primary face.
	Quality *presence.Quality `json:"quality,omitempty"`
	// Models are each liveness model's own score, before fusion.
	Models []presence.ModelScore `json:"model_scores,omitempty"`
	// Embedding is kept in memory for verification only.
	Embedding presence.Embedding `json:"-"`
}

// analyzeAll runs fn over paths with n workers, calling progress after each
// image; results are in the order of paths.
func analyzeAll(ctx context.Context, fn AnalyzeFunc, paths []string, n int, progress func(done, total int)) []Outcome {
	out := make([]Outcome, len(paths))
	if n < 1 {
		n = 1
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) || ctx.Err() != nil {
					return
				}
				out[i] = outcomeOf(fn(ctx, paths[i]))
				if progress != nil {
					progress(int(done.Add(1)), len(paths))
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func outcomeOf(a *presence.Analysis, err error) Outcome {
	if err != nil {
		return Outcome{Error: presence.ErrorMessage(err)}
	}
	o := Outcome{Decision: a.Decision, Score: a.Score}
	for _, r := range a.Reasons {
		o.Reasons = append(o.Reasons, r.Code)
	}
	if a.Face != nil {
		o.Embedding = a.Face.Embedding
		q := a.Face.Quality
		o.Quality = &q
		o.Models = a.Face.Liveness
	}
	return o
}

// RunPAD analyses every sample and builds the report at the configured
// liveness threshold.
func RunPAD(ctx context.Context, fn AnalyzeFunc, samples []Sample, workers int, threshold float64, by []string, progress func(done, total int)) *PADReport {
	paths := make([]string, len(samples))
	for i, s := range samples {
		paths[i] = s.File
	}
	outcomes := analyzeAll(ctx, fn, paths, workers, progress)
	results := make([]PADResult, len(samples))
	for i := range samples {
		results[i] = PADResult{Sample: samples[i], Outcome: outcomes[i]}
	}
	return NewPADReport(results, threshold, by)
}

// RunVerify analyses every image of the pairs once and scores the pairs.
func RunVerify(ctx context.Context, fn AnalyzeFunc, pairs []Pair, workers int, threshold float64, progress func(done, total int)) *VerifyReport {
	seen := map[string]int{}
	var paths []string
	for _, p := range pairs {
		for _, f := range []string{p.FileA, p.FileB} {
			if _, ok := seen[f]; !ok {
				seen[f] = len(paths)
				paths = append(paths, f)
			}
		}
	}
	outcomes := analyzeAll(ctx, fn, paths, workers, progress)
	byPath := map[string]Outcome{}
	for i, p := range paths {
		byPath[p] = outcomes[i]
	}
	return NewVerifyReport(pairs, byPath, threshold)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
