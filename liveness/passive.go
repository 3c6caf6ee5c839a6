// Package liveness turns per-frame analyses into a session verdict: the
// fusion of a passive check's frames, and (active.go) the challenge state
// machine of an active check.
package liveness

import (
	"sort"

	"presence"
)

// PassiveRule configures the fusion of a passive check's frames.
type PassiveRule struct {
	// Liveness is the fused score a realface verdict needs.
	Liveness float64
	// SameFace is the lowest embedding similarity between two frames of
	// one person within a burst.
	SameFace float64
}

// Fused is the verdict of a passive check.
type Fused struct {
	Decision presence.Decision
	Score    *float64
	Reasons  []presence.Reason
	// Embedding is the mean template of the judged frames, for matching;
	// nil when no frame was judged.
	Embedding presence.Embedding
	// Judged lists the frames that passed the quality gates.
	Judged []int
}

// FusePassive combines the analyses of a passive check's frames so that no
// single frame decides a multi-frame session:
//   - frames failing the quality gates are set aside; if they are the
//     majority the check is inconclusive with their guidance;
//   - every judged frame must show the same face;
//   - the fused score is the lower median of the judged frames' scores,
//     so at least half of them (all of two, three of four) must pass.
func FusePassive(frames []*presence.Analysis, rule PassiveRule) Fused {
	var judged []int
	for i, a := range frames {
		if a.Decision != presence.DecisionInconclusive && a.Score != nil {
			judged = append(judged, i)
		}
	}
	if len(judged) == 0 || 2*len(judged) < len(frames) {
		return Fused{Decision: presence.DecisionInconclusive, Reasons: commonReasons(frames), Judged: judged}
	}
	first := frames[judged[0]].Face.Embedding
	var mean presence.Embedding
	if len(first) > 0 {
		mean = make(presence.Embedding, len(first))
	}
	scores := make([]float64, 0, len(judged))
	for _, i := range judged {
		f := frames[i]
		scores = append(scores, *f.Score)
		e := f.Face.Embedding
		if len(first) == 0 || len(e) != len(first) {
			continue
		}
		if e.Similarity(first) < rule.SameFace {
			return Fused{Decision: presence.DecisionInconclusive, Reasons: []presence.Reason{presence.NewReason(presence.ReasonFaceChanged)}, Judged: judged}
		}
		for k, v := range e {
			mean[k] += v
		}
	}
	if mean != nil {
		mean.Normalize()
	}
	sort.Float64s(scores)
	score := scores[(len(scores)-1)/2]
	out := Fused{Score: &score, Embedding: mean, Judged: judged, Reasons: []presence.Reason{}}
	if score >= rule.Liveness {
		out.Decision = presence.DecisionRealFace
	} else {
		out.Decision = presence.DecisionFake
		out.Reasons = []presence.Reason{presence.NewReason(presence.ReasonSpoofSuspected)}
	}
	return out
}

// commonReasons lists the reasons of the frames, most frequent first, each
// once: the guidance for a person whose frames did not pass the gates.
func commonReasons(frames []*presence.Analysis) []presence.Reason {
	count := map[presence.ReasonCode]int{}
	first := map[presence.ReasonCode]int{}
	var order []presence.Reason
	for _, a := range frames {
		for _, r := range a.Reasons {
			if _, ok := count[r.Code]; !ok {
				first[r.Code] = len(order)
				order = append(order, r)
			}
			count[r.Code]++
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		ci, cj := count[order[i].Code], count[order[j].Code]
		if ci != cj {
			return ci > cj
		}
		return first[order[i].Code] < first[order[j].Code]
	})
	if order == nil {
		order = []presence.Reason{presence.NewReason(presence.ReasonNoFace)}
	}
	return order
}
