package sqlstore

import (
	"context"
	"database/sql"

	"presence"
)

const changeColumns = `c.seq, c.set_id, c.manifest, c.action, c.changed_by, c.at, c.previous_seq, COALESCE(p.set_id, '')`

func scanChange(row scanner) (presence.ModelSetChange, error) {
	var c presence.ModelSetChange
	var manifest string
	var at int64
	err := row.Scan(&c.Seq, &c.SetID, &manifest, &c.Action, &c.By, &at, &c.PreviousSeq, &c.PreviousID)
	c.Manifest, c.At = []byte(manifest), fromMillis(at)
	return c, err
}

// ActiveModelSet returns the newest change of model set.
func (s *DB) ActiveModelSet(ctx context.Context) (*presence.ModelSetChange, error) {
	c, err := scanChange(s.db.QueryRowContext(ctx, `SELECT `+changeColumns+` FROM model_set_changes c
		LEFT JOIN model_set_changes p ON p.seq = c.previous_seq ORDER BY c.seq DESC LIMIT 1`))
	if err != nil {
		return nil, translate(err, "model set")
	}
	return &c, nil
}

// ChangeModelSet appends a change if the one it replaces is still the
// newest: the unique previous_seq refuses a second change of the same
// set, whichever node writes it.
func (s *DB) ChangeModelSet(ctx context.Context, c *presence.ModelSetChange, rec presence.AuditRecord) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var newest int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM model_set_changes`).Scan(&newest); err != nil {
			return translate(err, "model set")
		}
		if newest != c.PreviousSeq {
			return presence.Errorf(presence.ErrConflict, "the model set changed meanwhile; look again and retry")
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO model_set_changes (set_id, manifest, action, changed_by, at, previous_seq)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`), c.SetID, string(c.Manifest), c.Action, c.By, millis(c.At), c.PreviousSeq).Scan(&c.Seq)
		if err != nil {
			if errCode(err) == presence.ErrConflict {
				return presence.Errorf(presence.ErrConflict, "the model set changed meanwhile; look again and retry")
			}
			return translate(err, "model set")
		}
		return s.appendAudit(ctx, tx, rec)
	})
}

// ModelSetHistory lists changes of model set, newest first.
func (s *DB) ModelSetHistory(ctx context.Context, limit int) ([]presence.ModelSetChange, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+changeColumns+` FROM model_set_changes c
		LEFT JOIN model_set_changes p ON p.seq = c.previous_seq ORDER BY c.seq DESC LIMIT ?`), max(1, min(limit, 1000)))
	if err != nil {
		return nil, translate(err, "model sets")
	}
	defer rows.Close()
	var out []presence.ModelSetChange
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, translate(err, "model sets")
		}
		out = append(out, c)
	}
	return out, translate(rows.Err(), "model sets")
}

// errCode is the error code translate gives err.
func errCode(err error) presence.ErrorCode { return presence.ErrorCodeOf(translate(err, "")) }
