package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"presence"
)

// CreateAPIKey stores a key (its secret's hash only).
func (s *DB) CreateAPIKey(ctx context.Context, k *presence.APIKey) error {
	policy, err := json.Marshal(k.Policy)
	if err != nil {
		return presence.WrapError(presence.ErrInternal, err, "encoding the key's policy")
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO api_keys (id, name, secret_hash, created_at, policy) VALUES (?, ?, ?, ?, ?)`),
		k.ID, k.Name, k.SecretHash, millis(k.CreatedAt), string(policy))
	return translate(err, "API key")
}

// SetAPIKeyPolicy replaces a key's policy; sessions already created keep
// theirs.
func (s *DB) SetAPIKeyPolicy(ctx context.Context, id string, p presence.KeyPolicy) error {
	policy, err := json.Marshal(p)
	if err != nil {
		return presence.WrapError(presence.ErrInternal, err, "encoding the key's policy")
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE api_keys SET policy = ? WHERE id = ?`), string(policy), id)
	if err != nil {
		return translate(err, "API key")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return presence.Errorf(presence.ErrNotFound, "API key %s not found", id)
	}
	return nil
}

func scanKey(row scanner) (*presence.APIKey, error) {
	var k presence.APIKey
	var created int64
	var used, revoked sql.NullInt64
	var policy string
	if err := row.Scan(&k.ID, &k.Name, &k.SecretHash, &created, &used, &revoked, &policy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(policy), &k.Policy); err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "stored key policy unreadable")
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMillis(created), optTime(used), optTime(revoked)
	return &k, nil
}

// APIKey returns a key by id.
func (s *DB) APIKey(ctx context.Context, id string) (*presence.APIKey, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q(`SELECT id, name, secret_hash, created_at, last_used_at, revoked_at, policy FROM api_keys WHERE id = ?`), id))
	return k, translate(err, "API key")
}

// ListAPIKeys returns every key, oldest first.
func (s *DB) ListAPIKeys(ctx context.Context) ([]*presence.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, secret_hash, created_at, last_used_at, revoked_at, policy FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, translate(err, "API keys")
	}
	defer rows.Close()
	var out []*presence.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, translate(err, "API keys")
		}
		out = append(out, k)
	}
	return out, translate(rows.Err(), "API keys")
}

// RevokeAPIKey revokes a key; revoking twice keeps the first time.
func (s *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`), millis(at), id)
	if err != nil {
		return translate(err, "API key")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return presence.Errorf(presence.ErrNotFound, "API key %s not found", id)
	}
	return nil
}

// TouchAPIKey records the last use of a key, at most once a minute so a
// busy key does not write on every request.
func (s *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`),
		millis(at), id, millis(at.Add(-time.Minute)))
	return translate(err, "API key")
}

// CountRequest adds one request to key's window and returns the count, with
// one atomic upsert shared by every node.
func (s *DB) CountRequest(ctx context.Context, key string, window time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO rate_windows (key, window_start, count) VALUES (?, ?, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1 RETURNING count`),
		key, millis(window)).Scan(&n)
	return n, translate(err, "rate window")
}
