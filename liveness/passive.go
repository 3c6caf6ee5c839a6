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
	// ConfidentFake is the fused score below which (with most frames
	// below Liveness) the check is fake; see ScoreRule.
	ConfidentFake float64
	// SameFace is the lowest embedding similarity of a frame to the
	// session's most typical face.
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
//   - the judged frames must show one face: each is compared with the most
//     typical of them (the one most similar to the others); up to a
//     quarter of them may differ (a turned head, a motion-blurred template
//     in a stream's ten frames) and are set aside; more, and the faces
//     changed (with four frames or fewer, any difference is a change);
//   - the fused score is the lower median of the rest, judged by
//     ScoreRule: fake only on confident evidence.
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
	kept := oneFace(frames, judged, rule.SameFace)
	if len(judged)-len(kept) > len(judged)/4 {
		return Fused{Decision: presence.DecisionInconclusive, Reasons: []presence.Reason{presence.NewReason(presence.ReasonFaceChanged)}, Judged: judged}
	}
	var mean presence.Embedding
	scores := make([]float64, 0, len(kept))
	for _, i := range kept {
		f := frames[i]
		scores = append(scores, *f.Score)
		e := f.Face.Embedding
		if len(e) == 0 {
			continue
		}
		if mean == nil {
			mean = make(presence.Embedding, len(e))
		}
		if len(e) == len(mean) {
			for k, v := range e {
				mean[k] += v
			}
		}
	}
	if mean != nil {
		mean.Normalize()
	}
	d, score, reasons := ScoreRule{Liveness: rule.Liveness, ConfidentFake: rule.ConfidentFake}.judgeScores(scores)
	return Fused{Decision: d, Score: &score, Reasons: reasons, Embedding: mean, Judged: kept}
}

// oneFace returns the judged frames whose face is the session's: those at
// least sameFace similar to the medoid (the frame with the highest summed
// similarity to the others). Frames without a template are kept.
func oneFace(frames []*presence.Analysis, judged []int, sameFace float64) []int {
	var withEmb []int
	for _, i := range judged {
		if len(frames[i].Face.Embedding) > 0 {
			withEmb = append(withEmb, i)
		}
	}
	if len(withEmb) < 2 {
		return judged
	}
	medoid, best := withEmb[0], -1.0
	for _, i := range withEmb {
		sum := 0.0
		for _, j := range withEmb {
			if i != j && len(frames[i].Face.Embedding) == len(frames[j].Face.Embedding) {
				sum += frames[i].Face.Embedding.Similarity(frames[j].Face.Embedding)
			}
		}
		if sum > best {
			medoid, best = i, sum
		}
	}
	ref := frames[medoid].Face.Embedding
	var kept []int
	for _, i := range judged {
		e := frames[i].Face.Embedding
		if len(e) == 0 || (len(e) == len(ref) && e.Similarity(ref) >= sameFace) {
			kept = append(kept, i)
		}
	}
	return kept
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
