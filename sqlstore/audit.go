package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"presence"
)

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// AppendAudit appends one record to the audit log.
func (s *DB) AppendAudit(ctx context.Context, r presence.AuditRecord) error {
	if r.Event != nil {
		return s.inTx(ctx, func(tx *sql.Tx) error { return s.appendAudit(ctx, tx, r) })
	}
	return s.appendAudit(ctx, s.db, r)
}

func (s *DB) appendAudit(ctx context.Context, e execer, r presence.AuditRecord) error {
	if r.Action == "" {
		return nil
	}
	detail := string(r.Detail)
	if detail == "" {
		detail = "{}"
	}
	at := r.At
	if at.IsZero() {
		at = s.Now()
	}
	_, err := e.ExecContext(ctx, s.q(`INSERT INTO audit_log (at, action, api_key_id, session_id, subject_id, correlation_id, decision, score, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		millis(at), r.Action, r.APIKeyID, r.SessionID, r.SubjectID, r.CorrelationID, string(r.Decision), r.Score, detail)
	if err != nil || r.Event == nil {
		return translate(err, "audit record")
	}
	return s.raiseEvent(ctx, e, r.APIKeyID, r.Event, at)
}

// ListAudit returns up to limit records with id above afterID, in order.
func (s *DB) ListAudit(ctx context.Context, afterID int64, limit int) ([]presence.AuditRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, at, action, api_key_id, session_id, subject_id, correlation_id, decision, score, detail
		FROM audit_log WHERE id > ? ORDER BY id LIMIT ?`), afterID, limit)
	if err != nil {
		return nil, translate(err, "audit log")
	}
	return scanAudit(rows)
}

// SubjectAudit returns the audit records that name a subject, or one of
// sessions, oldest first.
func (s *DB) SubjectAudit(ctx context.Context, subjectID string, sessions []string) ([]presence.AuditRecord, error) {
	query := `SELECT id, at, action, api_key_id, session_id, subject_id, correlation_id, decision, score, detail
		FROM audit_log WHERE subject_id = ?`
	args := []any{subjectID}
	for _, id := range sessions {
		query += ` OR session_id = ?`
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	if err != nil {
		return nil, translate(err, "audit log")
	}
	return scanAudit(rows)
}

func scanAudit(rows *sql.Rows) ([]presence.AuditRecord, error) {
	defer rows.Close()
	var out []presence.AuditRecord
	for rows.Next() {
		var r presence.AuditRecord
		var at int64
		var score sql.NullFloat64
		var decision, detail string
		if err := rows.Scan(&r.ID, &at, &r.Action, &r.APIKeyID, &r.SessionID, &r.SubjectID, &r.CorrelationID, &decision, &score, &detail); err != nil {
			return nil, translate(err, "audit log")
		}
		r.At, r.Decision, r.Detail = fromMillis(at), presence.Decision(decision), []byte(detail)
		if score.Valid {
			v := score.Float64
			r.Score = &v
		}
		out = append(out, r)
	}
	return out, translate(rows.Err(), "audit log")
}

// RecordMatch appends the audit record of a verification or
// identification and, when subjectID is set, links the session to that
// subject (if it names none) in the same transaction, so erasing the
// subject erases the session that showed their face.
func (s *DB) RecordMatch(ctx context.Context, r presence.AuditRecord, subjectID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if subjectID != "" {
			if err := s.linkSession(ctx, tx, r.SessionID, subjectID); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, r)
	})
}

// SessionAudit returns a session's audit trail, oldest first.
func (s *DB) SessionAudit(ctx context.Context, sessionID string) ([]presence.AuditRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, at, action, api_key_id, session_id, subject_id, correlation_id, decision, score, detail
		FROM audit_log WHERE session_id = ? ORDER BY id`), sessionID)
	if err != nil {
		return nil, translate(err, "audit log")
	}
	return scanAudit(rows)
}

// AuditBetween returns up to limit records at or after from and before to,
// with ids above afterID, oldest first.
func (s *DB) AuditBetween(ctx context.Context, from, to time.Time, afterID int64, limit int) ([]presence.AuditRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, at, action, api_key_id, session_id, subject_id, correlation_id, decision, score, detail
		FROM audit_log WHERE at >= ? AND at < ? AND id > ? ORDER BY id LIMIT ?`), millis(from), millis(to), afterID, max(1, min(limit, 1000)))
	if err != nil {
		return nil, translate(err, "audit log")
	}
	return scanAudit(rows)
}
