package subjects

import (
	"context"
	"encoding/json"
	"time"

	"presence"
	"presence/seal"
)

// Export is everything Presence holds about a subject, for the person's
// right of access: the subject, its templates described (never their
// values, which a client could misuse), the sessions linked to it with
// their verdicts and any audit images kept (decrypted), the audit
// entries naming it or those sessions, and how many replay fingerprints
// are kept for it.
type Export struct {
	Subject   ExportSubject    `json:"subject"`
	Templates []ExportTemplate `json:"templates"`
	Sessions  []ExportSession  `json:"sessions"`
	// Consents: the answers to notices shown before the camera opened, in
	// the subject's sessions.
	Consents          []ExportConsent `json:"consents"`
	Audit             []ExportAudit   `json:"audit"`
	FrameFingerprints int             `json:"frame_fingerprints"`
	Generated         time.Time       `json:"generated"`
}

// ExportConsent is an answer to a notice, with its session.
type ExportConsent struct {
	SessionID string `json:"session_id"`
	presence.Consent
}

// ExportSubject is the subject's own record.
type ExportSubject struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// ExportTemplate describes one enrolled template.
type ExportTemplate struct {
	Model     string    `json:"model"`
	SessionID string    `json:"enrolled_from_session,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ExportSession is a session linked to the subject, as its verdict read.
type ExportSession struct {
	ID            string            `json:"id"`
	Mode          presence.Mode     `json:"mode"`
	Status        presence.Status   `json:"status"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	CompletedAt   *time.Time        `json:"completed_at,omitempty"`
	Decision      presence.Decision `json:"decision,omitempty"`
	Score         *float64          `json:"score,omitempty"`
	Reasons       []presence.Reason `json:"reasons"`
	Match         *presence.Match   `json:"match,omitempty"`
	KeptTemplate  bool              `json:"kept_face_template"`
	AuditImages   []ExportImage     `json:"audit_images"`
}

// ExportImage is an audit image kept with a session.
type ExportImage struct {
	Index       int    `json:"index"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"` // base64 in JSON
}

// ExportAudit is one audit entry (never an image or a template).
type ExportAudit struct {
	At        time.Time         `json:"at"`
	Action    string            `json:"action"`
	SessionID string            `json:"session_id,omitempty"`
	Decision  presence.Decision `json:"decision,omitempty"`
	Score     *float64          `json:"score,omitempty"`
	Detail    json.RawMessage   `json:"detail,omitempty"`
}

// ExportStore is what an export reads beyond the subject store.
type ExportStore interface {
	SubjectSessions(ctx context.Context, subjectID string) ([]*presence.Session, error)
	SubjectAudit(ctx context.Context, subjectID string, sessions []string) ([]presence.AuditRecord, error)
	SubjectFingerprints(ctx context.Context, subjectID string) (int, error)
	AuditImages(ctx context.Context, sessionID string) ([]presence.AuditImage, error)
}

// Export gathers everything held about a subject; an unknown (or erased)
// subject is not found. The export itself is audited.
func (s *Service) Export(ctx context.Context, key *presence.APIKey, id string) (*Export, error) {
	store, ok := s.cfg.Store.(ExportStore)
	if !ok {
		return nil, presence.Errorf(presence.ErrInternal, "this store cannot export subjects")
	}
	sub, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &Export{Subject: ExportSubject{ID: sub.ID, CreatedAt: sub.CreatedAt}, Templates: []ExportTemplate{}, Sessions: []ExportSession{},
		Consents: []ExportConsent{}, Audit: []ExportAudit{}, Generated: s.cfg.Now().UTC()}
	ts, err := s.cfg.Store.SubjectTemplates(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		out.Templates = append(out.Templates, ExportTemplate{Model: s.cfg.TemplateModel, SessionID: t.SessionID, CreatedAt: t.CreatedAt})
	}
	sessions, err := store.SubjectSessions(ctx, id)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, sess := range sessions {
		ids = append(ids, sess.ID)
		e := ExportSession{ID: sess.ID, Mode: sess.Mode, Status: sess.Status, CorrelationID: sess.CorrelationID, CreatedAt: sess.CreatedAt,
			CompletedAt: sess.CompletedAt, Reasons: []presence.Reason{}, KeptTemplate: sess.ProbeTemplate != nil, AuditImages: []ExportImage{}}
		if v := sess.Verdict; v != nil {
			e.Decision, e.Score, e.Reasons, e.Match = v.Decision, v.Score, v.Reasons, v.Match
		}
		if sess.Consent != nil {
			out.Consents = append(out.Consents, ExportConsent{SessionID: sess.ID, Consent: *sess.Consent})
		}
		imgs, err := store.AuditImages(ctx, sess.ID)
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			data := img.Data
			if seal.IsSealed(data) {
				if data, err = s.cfg.Sealer.Open(img.Data, seal.ImageOwner(sess.ID, img.Index)); err != nil {
					return nil, presence.WrapError(presence.ErrInternal, err, "an audit image of session %s does not open", sess.ID)
				}
			}
			e.AuditImages = append(e.AuditImages, ExportImage{Index: img.Index, ContentType: img.ContentType, Data: data})
		}
		out.Sessions = append(out.Sessions, e)
	}
	recs, err := store.SubjectAudit(ctx, id, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		out.Audit = append(out.Audit, ExportAudit{At: r.At, Action: r.Action, SessionID: r.SessionID, Decision: r.Decision, Score: r.Score, Detail: json.RawMessage(r.Detail)})
	}
	if out.FrameFingerprints, err = store.SubjectFingerprints(ctx, id); err != nil {
		return nil, err
	}
	if err := s.cfg.Store.RecordMatch(ctx, presence.AuditRecord{At: s.cfg.Now(), Action: presence.AuditSubjectExported, APIKeyID: key.ID, SubjectID: id}, ""); err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "the audit record could not be written; the export is not answered")
	}
	return out, nil
}
