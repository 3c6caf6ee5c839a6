package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"presence"
)

// RecordShadow stores a shadow result (one per session).
func (s *DB) RecordShadow(ctx context.Context, r presence.ShadowResult) error {
	real, _ := json.Marshal(r.Real)
	shadow, _ := json.Marshal(r.Shadow)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO shadow_results (session_id, api_key_id, correlation_id, mode, candidate, real_verdict, shadow_verdict, audit_images, at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)`),
		r.SessionID, r.APIKeyID, r.CorrelationID, r.Mode, r.Candidate, string(real), string(shadow), r.AuditImages, millis(r.At), r.SessionID)
	return translate(err, "shadow result")
}

// ShadowResults lists shadow results at or after since, oldest first.
func (s *DB) ShadowResults(ctx context.Context, since time.Time, limit int) ([]presence.ShadowResult, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT session_id, api_key_id, correlation_id, mode, candidate, real_verdict, shadow_verdict, audit_images, at
		FROM shadow_results WHERE at >= ? ORDER BY at, session_id LIMIT ?`), millis(since), max(1, limit))
	if err != nil {
		return nil, translate(err, "shadow results")
	}
	defer rows.Close()
	var out []presence.ShadowResult
	for rows.Next() {
		var r presence.ShadowResult
		var real, shadow string
		var at int64
		if err := rows.Scan(&r.SessionID, &r.APIKeyID, &r.CorrelationID, &r.Mode, &r.Candidate, &real, &shadow, &r.AuditImages, &at); err != nil {
			return nil, translate(err, "shadow results")
		}
		if json.Unmarshal([]byte(real), &r.Real) != nil || json.Unmarshal([]byte(shadow), &r.Shadow) != nil {
			return nil, presence.Errorf(presence.ErrInternal, "stored shadow result of %s unreadable", r.SessionID)
		}
		r.At = fromMillis(at)
		out = append(out, r)
	}
	return out, translate(rows.Err(), "shadow results")
}

// dropOrphanShadows deletes the shadow results whose session is gone, in
// the transaction that removed it.
func (s *DB) dropOrphanShadows(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM shadow_results WHERE session_id NOT IN (SELECT id FROM sessions)`)
	return translate(err, "shadow results")
}
