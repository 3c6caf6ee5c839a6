package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"presence"
)

// CreateSubject stores a new subject.
func (s *DB) CreateSubject(ctx context.Context, sub *presence.Subject) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO subjects (id, created_at) VALUES (?, ?)`), sub.ID, millis(sub.CreatedAt))
	return translate(err, "subject "+sub.ID)
}

// Subject returns a subject with its template count.
func (s *DB) Subject(ctx context.Context, id string) (*presence.Subject, error) {
	var sub presence.Subject
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, created_at, (SELECT COUNT(*) FROM subject_templates t WHERE t.subject_id = subjects.id)
		FROM subjects WHERE id = ?`), id).Scan(&sub.ID, &created, &sub.Templates)
	if err != nil {
		return nil, translate(err, "subject "+id)
	}
	sub.CreatedAt = fromMillis(created)
	return &sub, nil
}

// ListSubjects returns subjects after the given id, in id order.
func (s *DB) ListSubjects(ctx context.Context, after string, limit int) ([]*presence.Subject, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, created_at, (SELECT COUNT(*) FROM subject_templates t WHERE t.subject_id = subjects.id)
		FROM subjects WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, translate(err, "subjects")
	}
	defer rows.Close()
	var out []*presence.Subject
	for rows.Next() {
		var sub presence.Subject
		var created int64
		if err := rows.Scan(&sub.ID, &created, &sub.Templates); err != nil {
			return nil, translate(err, "subjects")
		}
		sub.CreatedAt = fromMillis(created)
		out = append(out, &sub)
	}
	return out, translate(rows.Err(), "subjects")
}

// AddTemplate enrols a template, refusing past max templates a subject.
func (s *DB) AddTemplate(ctx context.Context, t *presence.Template, max int, rec presence.AuditRecord) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM subject_templates WHERE subject_id = ?`), t.SubjectID).Scan(&n); err != nil {
			return translate(err, "templates")
		}
		if n >= max {
			return presence.Errorf(presence.ErrConflict, "subject %s already has %d templates, the most allowed", t.SubjectID, max)
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO subject_templates (subject_id, template, session_id, created_at) VALUES (?, ?, ?, ?) RETURNING seq`),
			t.SubjectID, t.Sealed, t.SessionID, millis(t.CreatedAt)).Scan(&t.Seq)
		if err != nil {
			return translate(err, "template")
		}
		// The session enrolled from now belongs to the subject: erasing the
		// subject erases it too.
		if t.SessionID != "" {
			if err := s.linkSession(ctx, tx, t.SessionID, t.SubjectID); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, rec)
	})
}

func scanTemplates(rows *sql.Rows) ([]presence.Template, error) {
	defer rows.Close()
	var out []presence.Template
	for rows.Next() {
		var t presence.Template
		var created int64
		if err := rows.Scan(&t.Seq, &t.SubjectID, &t.Sealed, &t.SessionID, &created); err != nil {
			return nil, translate(err, "templates")
		}
		t.CreatedAt = fromMillis(created)
		out = append(out, t)
	}
	return out, translate(rows.Err(), "templates")
}

// SubjectTemplates returns a subject's templates.
func (s *DB) SubjectTemplates(ctx context.Context, subjectID string) ([]presence.Template, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, subject_id, template, session_id, created_at FROM subject_templates WHERE subject_id = ? ORDER BY seq`), subjectID)
	if err != nil {
		return nil, translate(err, "templates")
	}
	return scanTemplates(rows)
}

// TemplatesSince returns templates inserted after afterSeq, in order.
func (s *DB) TemplatesSince(ctx context.Context, afterSeq int64, limit int) ([]presence.Template, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, subject_id, template, session_id, created_at FROM subject_templates WHERE seq > ? ORDER BY seq LIMIT ?`), afterSeq, limit)
	if err != nil {
		return nil, translate(err, "templates")
	}
	return scanTemplates(rows)
}

// DeletionsSince returns the template seqs deleted after the deletion-log
// position afterSeq, and the newest position.
func (s *DB) DeletionsSince(ctx context.Context, afterSeq int64) ([]int64, int64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, template_id FROM template_deletions WHERE seq > ? ORDER BY seq`), afterSeq)
	if err != nil {
		return nil, afterSeq, translate(err, "template deletions")
	}
	defer rows.Close()
	last := afterSeq
	var ids []int64
	for rows.Next() {
		var seq, id int64
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, afterSeq, translate(err, "template deletions")
		}
		ids, last = append(ids, id), seq
	}
	return ids, last, translate(rows.Err(), "template deletions")
}

// DeleteSubject erases a subject and everything derived from it: its
// templates (logged for the indexes), the sessions that named it as their
// reference or enrolled it, with their audit images, templates and frame
// hashes. The audit record of the erasure is the only thing added.
func (s *DB) DeleteSubject(ctx context.Context, id string, rec presence.AuditRecord) (presence.Erased, error) {
	var erased presence.Erased
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.subjectTx(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO template_deletions (template_id) SELECT seq FROM subject_templates WHERE subject_id = ?`), id); err != nil {
			return translate(err, "template deletions")
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM subject_templates WHERE subject_id = ?`), id)
		if err != nil {
			return translate(err, "templates")
		}
		n, _ := res.RowsAffected()
		erased.Templates = int(n)
		// Sessions of this subject: named as its reference, or enrolled
		// from (enrolment links the session to the subject).
		const ofSubject = `session_id IN (SELECT id FROM sessions WHERE subject_id = ?)`
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM sessions WHERE subject_id = ? AND probe_template IS NOT NULL`), id).Scan(&erased.ProbeTemplates); err != nil {
			return translate(err, "sessions")
		}
		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM frame_fingerprints WHERE subject_id = ? OR `+ofSubject), id, id)
		if err != nil {
			return translate(err, "frame fingerprints")
		}
		n, _ = res.RowsAffected()
		erased.FrameFingerprints = int(n)
		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM audit_images WHERE `+ofSubject), id)
		if err != nil {
			return translate(err, "audit images")
		}
		n, _ = res.RowsAffected()
		erased.AuditImages = int(n)
		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE subject_id = ?`), id)
		if err != nil {
			return translate(err, "sessions")
		}
		n, _ = res.RowsAffected()
		erased.Sessions = int(n)
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM subjects WHERE id = ?`), id); err != nil {
			return translate(err, "subject")
		}
		if err := s.dropOrphanShadows(ctx, tx); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	return erased, err
}

// linkSession makes a session, and the fingerprints of its frames, the
// subject's, unless they already belong to one.
func (s *DB) linkSession(ctx context.Context, tx *sql.Tx, sessionID, subjectID string) error {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET subject_id = ? WHERE id = ? AND subject_id = ''`), subjectID, sessionID); err != nil {
		return translate(err, "session")
	}
	_, err := tx.ExecContext(ctx, s.q(`UPDATE frame_fingerprints SET subject_id = ? WHERE session_id = ? AND subject_id = ''`), subjectID, sessionID)
	return translate(err, "frame fingerprints")
}

func (s *DB) subjectTx(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var got string
	err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM subjects WHERE id = ?`), id).Scan(&got)
	return got, translate(err, "subject "+id)
}

// SealedBlobs lists sealed values of one kind ("subject", "reference",
// "probe") after a key, for key rotation.
func (s *DB) SealedBlobs(ctx context.Context, kind, after string, limit int) ([]presence.SealedBlob, error) {
	var query string
	var arg any = after
	switch kind {
	case "subject":
		n, _ := strconv.ParseInt(after, 10, 64)
		arg = n
		query = `SELECT CAST(seq AS TEXT), subject_id, template FROM subject_templates WHERE seq > ? ORDER BY seq LIMIT ?`
	case "reference":
		query = `SELECT id, id, reference_template FROM sessions WHERE id > ? AND reference_template IS NOT NULL ORDER BY id LIMIT ?`
	case "probe":
		query = `SELECT id, id, probe_template FROM sessions WHERE id > ? AND probe_template IS NOT NULL ORDER BY id LIMIT ?`
	case "webhook":
		query = `SELECT id, 'webhook/' || id, secret FROM webhook_endpoints WHERE id > ? ORDER BY id LIMIT ?`
	case "webhook_previous":
		query = `SELECT id, 'webhook/' || id, previous_secret FROM webhook_endpoints WHERE id > ? AND previous_secret IS NOT NULL ORDER BY id LIMIT ?`
	case "image":
		// Key "session/index" (at most 4 images: one digit), owner as
		// seal.ImageOwner.
		query = `SELECT session_id || '/' || CAST(idx AS TEXT) AS k, session_id || '/image/' || CAST(idx AS TEXT), data FROM audit_images
			WHERE session_id || '/' || CAST(idx AS TEXT) > ? ORDER BY k LIMIT ?`
	default:
		return nil, presence.Errorf(presence.ErrInvalid, "unknown sealed kind %q", kind)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), arg, limit)
	if err != nil {
		return nil, translate(err, "sealed values")
	}
	defer rows.Close()
	var out []presence.SealedBlob
	for rows.Next() {
		b := presence.SealedBlob{Kind: kind}
		if err := rows.Scan(&b.Key, &b.Owner, &b.Data); err != nil {
			return nil, translate(err, "sealed values")
		}
		out = append(out, b)
	}
	return out, translate(rows.Err(), "sealed values")
}

// ReplaceSealed swaps a sealed value if it is still b.Data (a concurrent
// change wins; the caller runs again).
func (s *DB) ReplaceSealed(ctx context.Context, b presence.SealedBlob, data []byte) error {
	var query string
	var key any = b.Key
	switch b.Kind {
	case "subject":
		n, err := strconv.ParseInt(b.Key, 10, 64)
		if err != nil {
			return presence.Errorf(presence.ErrInvalid, "bad template key %q", b.Key)
		}
		key = n
		query = `UPDATE subject_templates SET template = ? WHERE seq = ? AND template = ?`
	case "reference":
		query = `UPDATE sessions SET reference_template = ? WHERE id = ? AND reference_template = ?`
	case "probe":
		query = `UPDATE sessions SET probe_template = ? WHERE id = ? AND probe_template = ?`
	case "webhook":
		query = `UPDATE webhook_endpoints SET secret = ? WHERE id = ? AND secret = ?`
	case "webhook_previous":
		query = `UPDATE webhook_endpoints SET previous_secret = ? WHERE id = ? AND previous_secret = ?`
	case "image":
		sid, idx, ok := strings.Cut(b.Key, "/")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil {
			return presence.Errorf(presence.ErrInvalid, "bad image key %q", b.Key)
		}
		res, err := s.db.ExecContext(ctx, s.q(`UPDATE audit_images SET data = ? WHERE session_id = ? AND idx = ? AND data = ?`), data, sid, n, b.Data)
		if err != nil {
			return translate(err, "sealed value")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return presence.Errorf(presence.ErrConflict, "the sealed value changed meanwhile")
		}
		return nil
	default:
		return presence.Errorf(presence.ErrInvalid, "unknown sealed kind %q", b.Kind)
	}
	res, err := s.db.ExecContext(ctx, s.q(query), data, key, b.Data)
	if err != nil {
		return translate(err, "sealed value")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return presence.Errorf(presence.ErrConflict, "the sealed value changed meanwhile")
	}
	return nil
}

// SubjectSessions returns the sessions linked to a subject (named as its
// reference, enrolled from, or matched to it), oldest first.
func (s *DB) SubjectSessions(ctx context.Context, subjectID string) ([]*presence.Session, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE subject_id = ? ORDER BY created_at, id`), subjectID)
	if err != nil {
		return nil, translate(err, "sessions")
	}
	return scanSessions(rows)
}

// SubjectFingerprints counts the replay fingerprints kept for a subject's
// sessions (including sessions already deleted).
func (s *DB) SubjectFingerprints(ctx context.Context, subjectID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM frame_fingerprints WHERE subject_id = ? OR session_id IN (SELECT id FROM sessions WHERE subject_id = ?)`), subjectID, subjectID).Scan(&n)
	return n, translate(err, "frame fingerprints")
}
