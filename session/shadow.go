package session

import (
	"context"
	"hash/fnv"
	"time"

	"presence"
	"presence/engine"
	"presence/liveness"
)

// Shadow is a candidate judging a share of sessions beside the model set
// in service: its decisions are recorded with the real ones and never
// change a verdict or reach the device.
type Shadow struct {
	// Name says what the candidate is (model set id, threshold).
	Name string
	// Engine is the candidate's model set, with its thresholds.
	Engine Analyzer
	// Share of sessions judged in shadow, 0-1, chosen by session id.
	Share float64
	// Store keeps the results.
	Store presence.ShadowStore
}

// sampled says whether session id is judged in shadow: a hash of the id,
// so every node picks the same sessions.
func (sh *Shadow) sampled(id string) bool {
	if sh == nil || sh.Share <= 0 {
		return false
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return float64(h.Sum32()%10000) < sh.Share*10000
}

func shadowVerdictOf(d presence.Decision, score *float64, reasons []presence.Reason) presence.ShadowVerdict {
	if reasons == nil {
		reasons = []presence.Reason{}
	}
	return presence.ShadowVerdict{Decision: d, Score: score, Reasons: reasons}
}

// record stores one result; a failure is logged, never the session's.
func (s *Service) recordShadow(ctx context.Context, sess *presence.Session, real *presence.Verdict, shadow presence.ShadowVerdict) {
	sh := s.cfg.Shadow
	r := presence.ShadowResult{SessionID: sess.ID, APIKeyID: sess.APIKeyID, CorrelationID: sess.CorrelationID, Mode: sess.Mode, Candidate: sh.Name,
		Real: shadowVerdictOf(real.Decision, real.Score, real.Reasons), Shadow: shadow, AuditImages: min(sess.AuditImages, len(real.Frames)), At: s.cfg.Clock.Now().UTC()}
	if err := sh.Store.RecordShadow(context.WithoutCancel(ctx), r); err != nil {
		s.cfg.Log.Warn("shadow result not stored", "session", sess.ID, "err", err)
	}
}

// shadowUpload judges an upload's frames with the candidate, after the
// verdict was stored and answered, one upload at a time: when the
// candidate is busy the session is skipped rather than queued.
func (s *Service) shadowUpload(ctx context.Context, sess *presence.Session, frames []Frame, decodes []decoded, real *presence.Verdict) {
	select {
	case s.shadowSlot <- struct{}{}:
	default:
		s.shadowSkipped.Add(1)
		return
	}
	own := *sess // the caller goes on with its session
	sess = &own
	go func() {
		defer func() { <-s.shadowSlot }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		v, _, _, err := s.judgePassive(ctx, s.cfg.Shadow.Engine, sess, frames, decodes, false)
		if err != nil {
			s.cfg.Log.Warn("shadow judgement failed", "session", sess.ID, "err", err)
			return
		}
		s.recordShadow(ctx, sess, real, shadowVerdictOf(v.Decision, v.Score, v.Reasons))
	}()
}

// streamShadow judges a stream's frames with the candidate as they come,
// with a judge of its own: its events are never sent.
type streamShadow struct {
	eng   Analyzer
	judge liveness.Judge
}

func (sh *streamShadow) observe(ctx context.Context, at time.Duration, img *presence.Image, active bool) {
	full := sh.judge.WantFull()
	a, err := sh.eng.Analyze(ctx, img, engine.Options{SkipLiveness: !full, SkipEmbedding: !full, Landmarks: active})
	if err != nil {
		return
	}
	f := liveness.Frame{At: at, Analysis: a}
	if active {
		f.Image = img
	}
	sh.judge.Observe(f)
}

// ShadowSkipped counts upload sessions sampled for shadow but skipped
// because the candidate was busy.
func (s *Service) ShadowSkipped() int64 { return s.shadowSkipped.Load() }

// decidedByProtocol says whether a verdict came from the protocol's own
// defences (replays, timing, injection, the light), not from the
// models: a candidate model has nothing to say about those.
func decidedByProtocol(v *presence.Verdict) bool {
	for _, r := range v.Reasons {
		switch r.Code {
		case presence.ReasonReplayedFrame, presence.ReasonTimingAnomaly, presence.ReasonInjectionSuspected,
			presence.ReasonLightMismatch, presence.ReasonLightUnmeasurable:
			return true
		}
	}
	return false
}
