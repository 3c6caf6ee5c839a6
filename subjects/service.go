// Package subjects manages enrolled people: enrolment from a live session,
// 1:1 verification, 1:N identification over an in-memory index, the
// same-face-on-several-accounts check, and erasure. Templates are sealed
// (AES-256-GCM) and bound to their subject.
package subjects

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"time"

	"presence"
	"presence/seal"
)

// MaxTemplatesLimit is the most templates a subject may ever have.
const MaxTemplatesLimit = 5

// Duplicate policies at enrolment.
const (
	DuplicateWarn   = "warn"
	DuplicateRefuse = "refuse"
)

// Store is what enrolment and matching keep and read: subjects and their
// templates, the sessions they are enrolled or verified from, and the
// audit log.
type Store interface {
	presence.SubjectStore
	Session(ctx context.Context, id string) (*presence.Session, error)
}

// Config wires a Service.
type Config struct {
	Store  Store
	Sealer *seal.Sealer
	Now    func() time.Time
	Log    *slog.Logger
	// Match is the similarity a face match needs.
	Match float64
	// Duplicates says what enrolling a face already enrolled under
	// another subject does: warn (enrol and report) or refuse.
	Duplicates string
	// MaxTemplates a subject may have (at most MaxTemplatesLimit).
	MaxTemplates int
	// TemplateModel names the model that makes templates, for exports.
	TemplateModel string
}

// Service runs subject operations.
type Service struct {
	cfg   Config
	index *Index
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Duplicates == "" {
		cfg.Duplicates = DuplicateWarn
	}
	if cfg.MaxTemplates <= 0 || cfg.MaxTemplates > MaxTemplatesLimit {
		cfg.MaxTemplates = MaxTemplatesLimit
	}
	return &Service{cfg: cfg, index: NewIndex(cfg.Store, cfg.Sealer)}
}

// Index is the service's search index (benchmarks fill it directly).
func (s *Service) Index() *Index { return s.index }

// Create makes a subject with the relying party's own id.
func (s *Service) Create(ctx context.Context, key *presence.APIKey, id string) (*presence.Subject, error) {
	if !presence.ValidSubjectID(id) {
		return nil, presence.Errorf(presence.ErrInvalid, "a subject id is 1-128 characters of letters, digits and . _ : @ -")
	}
	sub := &presence.Subject{ID: id, CreatedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Store.CreateSubject(ctx, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// Get returns a subject.
func (s *Service) Get(ctx context.Context, id string) (*presence.Subject, error) {
	if !presence.ValidSubjectID(id) {
		return nil, presence.Errorf(presence.ErrInvalid, "malformed subject id")
	}
	return s.cfg.Store.Subject(ctx, id)
}

// List returns up to limit subjects after the given id.
func (s *Service) List(ctx context.Context, after string, limit int) ([]*presence.Subject, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.cfg.Store.ListSubjects(ctx, after, limit)
}

// liveProbe returns the face template of a session that may be used to
// enrol or identify: it must have ended realface.
func (s *Service) liveProbe(ctx context.Context, sessionID string) (*presence.Session, presence.Embedding, error) {
	sess, err := s.cfg.Store.Session(ctx, sessionID)
	if presence.ErrorCodeOf(err) == presence.ErrNotFound {
		return nil, nil, presence.Errorf(presence.ErrNotFound, "session %s not found", sessionID)
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case sess.EffectiveStatus(s.cfg.Now()) == presence.StatusExpired:
		return nil, nil, presence.Errorf(presence.ErrSessionExpired, "session %s expired without a verdict", sessionID)
	case sess.Verdict == nil:
		return nil, nil, presence.Errorf(presence.ErrSessionNotLive, "session %s has no verdict yet", sessionID)
	case sess.Verdict.Decision != presence.DecisionRealFace:
		return nil, nil, presence.Errorf(presence.ErrSessionNotLive, "session %s ended %s, not realface: only a live face can be used", sessionID, sess.Verdict.Decision)
	case sess.ProbeTemplate == nil:
		return nil, nil, presence.Errorf(presence.ErrSessionNotLive, "session %s kept no face template: create the session with \"enrolable\": true (or a reference) to enrol, verify or identify it", sessionID)
	}
	e, err := s.cfg.Sealer.OpenEmbedding(sess.ProbeTemplate, sess.ID)
	if err != nil {
		return nil, nil, presence.WrapError(presence.ErrInternal, err, "the session's template does not open")
	}
	return sess, e, nil
}

// Enrolment is the outcome of an enrolment.
type Enrolment struct {
	SubjectID string `json:"subject_id"`
	Templates int    `json:"templates"`
	// Duplicates are other subjects with the same face: one person behind
	// several accounts.
	Duplicates []Candidate `json:"duplicates"`
}

// Enrol adds the face of a realface session to a subject. The same face
// under other subjects is reported, or refused when the policy says so.
func (s *Service) Enrol(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*Enrolment, error) {
	if _, err := s.Get(ctx, subjectID); err != nil {
		return nil, err
	}
	sess, probe, err := s.liveProbe(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if sess.SubjectID != "" && sess.SubjectID != subjectID {
		return nil, presence.Errorf(presence.ErrConflict, "session %s belongs to another subject", sessionID)
	}
	// One capture is one template: enrolling it again would fill the
	// subject's slots with copies of one look.
	existing, err := s.cfg.Store.SubjectTemplates(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	for _, t := range existing {
		if t.SessionID == sessionID {
			return nil, presence.Errorf(presence.ErrConflict, "session %s is already enrolled in subject %s", sessionID, subjectID)
		}
	}
	if err := s.index.Sync(ctx); err != nil {
		return nil, err
	}
	close, err := s.rerank(ctx, probe, s.index.Search(probe, 5+rerankMargin, subjectID), 5)
	if err != nil {
		return nil, err
	}
	var dups []Candidate
	for _, c := range close {
		if c.Similarity >= s.cfg.Match {
			dups = append(dups, c)
		}
	}
	if dups == nil {
		dups = []Candidate{}
	}
	if len(dups) > 0 && s.cfg.Duplicates == DuplicateRefuse {
		return nil, &presence.Error{Code: presence.ErrDuplicateFace, Message: "this face is already enrolled under subject " + dups[0].SubjectID,
			Details: map[string]any{"duplicates": dups}}
	}
	sealed, err := s.cfg.Sealer.SealEmbedding(probe, subjectID)
	if err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "sealing the template failed")
	}
	now := s.cfg.Now().UTC()
	detail, _ := json.Marshal(map[string]any{"session_id": sessionID, "duplicates": dups})
	t := &presence.Template{SubjectID: subjectID, Sealed: sealed, SessionID: sessionID, CreatedAt: now}
	rec := presence.AuditRecord{At: now, Action: presence.AuditEnrolled, APIKeyID: key.ID, SessionID: sessionID, SubjectID: subjectID, Detail: detail,
		Event: presence.SubjectEvent(presence.EventSubjectEnrolled, subjectID, sessionID)}
	if err := s.cfg.Store.AddTemplate(ctx, t, s.cfg.MaxTemplates, rec); err != nil {
		return nil, err
	}
	if len(dups) > 0 {
		s.cfg.Log.Warn("face enrolled under several subjects", "subject", subjectID, "also", dups[0].SubjectID, "similarity", dups[0].Similarity)
	}
	sub, err := s.cfg.Store.Subject(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	return &Enrolment{SubjectID: subjectID, Templates: sub.Templates, Duplicates: dups}, nil
}

// MatchSubject compares a probe with a subject's templates (best one).
func (s *Service) MatchSubject(ctx context.Context, subjectID string, probe presence.Embedding) (*presence.Match, error) {
	ts, err := s.cfg.Store.SubjectTemplates(ctx, subjectID)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, presence.Errorf(presence.ErrConflict, "subject %s has no enrolled face", subjectID)
	}
	best := -1.0
	for _, t := range ts {
		e, err := s.cfg.Sealer.OpenEmbedding(t.Sealed, subjectID)
		if err != nil {
			return nil, presence.WrapError(presence.ErrInternal, err, "a template of %s does not open", subjectID)
		}
		best = max(best, probe.Similarity(e))
	}
	return &presence.Match{Similarity: best, Threshold: s.cfg.Match, Match: best >= s.cfg.Match}, nil
}

// CheckReference says whether a session may name subjectID as its
// reference: it must exist and have an enrolled face.
func (s *Service) CheckReference(ctx context.Context, subjectID string) error {
	sub, err := s.Get(ctx, subjectID)
	if err != nil {
		return err
	}
	if sub.Templates == 0 {
		return presence.Errorf(presence.ErrConflict, "subject %s has no enrolled face to match against", subjectID)
	}
	return nil
}

// Verification is a 1:1 result.
type Verification struct {
	SubjectID string            `json:"subject_id"`
	SessionID string            `json:"session_id"`
	Decision  presence.Decision `json:"decision"`
	presence.Match
}

// Verify compares the face of a session with a subject (1:1). The
// session's liveness decision is returned with the match: a match on a
// session that was not realface is not a verified person.
func (s *Service) Verify(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*Verification, error) {
	if _, err := s.Get(ctx, subjectID); err != nil {
		return nil, err
	}
	sess, probe, err := s.liveProbe(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	m, err := s.MatchSubject(ctx, subjectID, probe)
	if err != nil {
		return nil, err
	}
	matched := ""
	if m.Match {
		matched = subjectID
	}
	if err := s.audit(ctx, presence.AuditVerified, key, sessionID, subjectID, m, matched); err != nil {
		return nil, err
	}
	return &Verification{SubjectID: subjectID, SessionID: sess.ID, Decision: sess.Verdict.Decision, Match: *m}, nil
}

// Identification is a 1:N result.
type Identification struct {
	SessionID  string    `json:"session_id"`
	Threshold  float64   `json:"threshold"`
	Candidates []Match1N `json:"candidates"`
}

// Match1N is one candidate of an identification.
type Match1N struct {
	Candidate
	Match bool `json:"match"`
}

// Identify finds the subjects most like the face of a realface session.
func (s *Service) Identify(ctx context.Context, key *presence.APIKey, sessionID string, topK int) (*Identification, error) {
	if topK <= 0 || topK > 50 {
		topK = 5
	}
	_, probe, err := s.liveProbe(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if err := s.index.Sync(ctx); err != nil {
		return nil, err
	}
	out := &Identification{SessionID: sessionID, Threshold: s.cfg.Match, Candidates: []Match1N{}}
	ranked, err := s.rerank(ctx, probe, s.index.Search(probe, topK+rerankMargin, ""), topK)
	if err != nil {
		return nil, err
	}
	for _, c := range ranked {
		out.Candidates = append(out.Candidates, Match1N{Candidate: c, Match: c.Similarity >= s.cfg.Match})
	}
	var best *presence.Match
	matched := ""
	if len(out.Candidates) > 0 {
		c := out.Candidates[0]
		best = &presence.Match{Similarity: c.Similarity, Threshold: s.cfg.Match, Match: c.Match}
		if c.Match {
			matched = c.SubjectID
		}
	}
	if err := s.audit(ctx, presence.AuditIdentified, key, sessionID, "", best, matched); err != nil {
		return nil, err
	}
	return out, nil
}

// rerankMargin is how many candidates beyond those asked the index's
// approximate scan hands over: its similarities are within about 1e-3 of
// the exact ones, so the true best are among them.
const rerankMargin = 16

// rerank recomputes each candidate's similarity exactly from its stored
// templates and returns the best k. Every candidate is checked against
// the store on the way: an index can lag behind an erasure committed on
// another node, and an erased person must never be named.
func (s *Service) rerank(ctx context.Context, probe presence.Embedding, cands []Candidate, k int) ([]Candidate, error) {
	var out []Candidate
	for _, c := range cands {
		m, err := s.MatchSubject(ctx, c.SubjectID, probe)
		switch code := presence.ErrorCodeOf(err); {
		case code == presence.ErrNotFound || code == presence.ErrConflict: // erased, or no template left
			s.cfg.Log.Warn("the index named a subject the store no longer has", "subject", c.SubjectID)
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, Candidate{SubjectID: c.SubjectID, Similarity: m.Similarity})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Similarity > out[j].Similarity })
	if len(out) > k {
		out = out[:k]
	}
	return out, nil
}

// Delete erases a subject and everything derived from it.
func (s *Service) Delete(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error) {
	if !presence.ValidSubjectID(id) {
		return presence.Erased{}, presence.Errorf(presence.ErrInvalid, "malformed subject id")
	}
	return s.cfg.Store.DeleteSubject(ctx, id, presence.AuditRecord{
		At: s.cfg.Now(), Action: presence.AuditSubjectDeleted, APIKeyID: key.ID, SubjectID: id,
		Event: presence.SubjectEvent(presence.EventSubjectErased, id, ""),
	})
}

// audit records a decision; a decision whose record cannot be written is
// not answered, as verdicts and enrolments write theirs in the same
// transaction. A session whose face matched a subject is linked to it in
// the same write, so the subject's erasure erases it too.
func (s *Service) audit(ctx context.Context, action string, key *presence.APIKey, sessionID, subjectID string, m *presence.Match, matched string) error {
	detail, _ := json.Marshal(map[string]any{"match": m})
	rec := presence.AuditRecord{At: s.cfg.Now(), Action: action, APIKeyID: key.ID, SessionID: sessionID, SubjectID: subjectID, Detail: detail}
	if err := s.cfg.Store.RecordMatch(ctx, rec, matched); err != nil {
		return presence.WrapError(presence.ErrInternal, err, "the audit record could not be written; the %s is not answered", action)
	}
	return nil
}
