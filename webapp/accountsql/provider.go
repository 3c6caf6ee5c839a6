package accountsql

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"presence"
	"presence/sqldb"
	"presence/webapp/account"
)

var _ account.ProviderStore = (*DB)(nil)

func joinURIs(u []string) string { return strings.Join(u, "\n") }

func splitURIs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// CreateClient registers a client application.
func (s *DB) CreateClient(ctx context.Context, c *account.Client) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO oidc_clients (id, name, secret_hash, redirect_uris, post_logout_uris, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		c.ID, c.Name, c.SecretHash, joinURIs(c.RedirectURIs), joinURIs(c.PostLogoutURIs), millis(c.CreatedAt))
	return translate(err, "client "+c.ID)
}

func scanClient(row scanner) (*account.Client, error) {
	var c account.Client
	var redirects, logouts string
	var created int64
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &redirects, &logouts, &created); err != nil {
		return nil, err
	}
	c.RedirectURIs, c.PostLogoutURIs, c.CreatedAt = splitURIs(redirects), splitURIs(logouts), fromMillis(created)
	return &c, nil
}

// Client returns a client application.
func (s *DB) Client(ctx context.Context, id string) (*account.Client, error) {
	c, err := scanClient(s.db.QueryRowContext(ctx, s.q(`SELECT id, name, secret_hash, redirect_uris, post_logout_uris, created_at FROM oidc_clients WHERE id = ?`), id))
	return c, translate(err, "client")
}

// ListClients returns every client application.
func (s *DB) ListClients(ctx context.Context) ([]*account.Client, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, secret_hash, redirect_uris, post_logout_uris, created_at FROM oidc_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, translate(err, "clients")
	}
	defer rows.Close()
	var out []*account.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, translate(err, "clients")
		}
		out = append(out, c)
	}
	return out, translate(rows.Err(), "clients")
}

// DeleteClient removes a client with its codes, tokens and consents.
func (s *DB) DeleteClient(ctx context.Context, id string) error {
	return sqldb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM oidc_clients WHERE id = ?`), id)
		if err != nil {
			return translate(err, "client")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return presence.Errorf(presence.ErrNotFound, "client not found")
		}
		for _, table := range []string{"oidc_codes", "oidc_tokens", "oidc_consents", "oidc_requests"} {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE client_id = ?`), id); err != nil {
				return translate(err, table)
			}
		}
		return nil
	})
}

// SigningKeys lists the signing keys, newest first.
func (s *DB) SigningKeys(ctx context.Context) ([]account.SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, private_pem, created_at, retired_at FROM oidc_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, translate(err, "signing keys")
	}
	defer rows.Close()
	var out []account.SigningKey
	for rows.Next() {
		var k account.SigningKey
		var created int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.ID, &k.PrivatePEM, &created, &retired); err != nil {
			return nil, translate(err, "signing keys")
		}
		k.CreatedAt, k.RetiredAt = fromMillis(created), optTime(retired)
		out = append(out, k)
	}
	return out, translate(rows.Err(), "signing keys")
}

// AddSigningKey stores a new signing key.
func (s *DB) AddSigningKey(ctx context.Context, k *account.SigningKey) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO oidc_keys (id, private_pem, created_at) VALUES (?, ?, ?)`), k.ID, k.PrivatePEM, millis(k.CreatedAt))
	return translate(err, "signing key")
}

// RetireSigningKey stops a key signing (it stays published a while).
func (s *DB) RetireSigningKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE oidc_keys SET retired_at = ? WHERE id = ? AND retired_at IS NULL`), millis(at), id)
	return translate(err, "signing key")
}

// CreateAuthRequest stores a pending authorization request; expired
// ones are dropped on the way.
func (s *DB) CreateAuthRequest(ctx context.Context, r *account.AuthRequest) error {
	return sqldb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM oidc_requests WHERE expires_at < ?`), millis(r.CreatedAt)); err != nil {
			return translate(err, "authorization requests")
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO oidc_requests (id, browser, client_id, redirect_uri, scope, state, nonce, challenge, fresh_after, created_at, expires_at, acr)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), r.ID, r.Browser, r.ClientID, r.RedirectURI, r.Scope, r.State, r.Nonce, r.Challenge,
			millis(r.FreshAfter), millis(r.CreatedAt), millis(r.ExpiresAt), r.ACR)
		return translate(err, "authorization request")
	})
}

// AuthRequest returns a pending authorization request.
func (s *DB) AuthRequest(ctx context.Context, id string) (*account.AuthRequest, error) {
	var r account.AuthRequest
	var fresh, created, expires int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, browser, client_id, redirect_uri, scope, state, nonce, challenge, fresh_after, created_at, expires_at, acr
		FROM oidc_requests WHERE id = ?`), id).Scan(&r.ID, &r.Browser, &r.ClientID, &r.RedirectURI, &r.Scope, &r.State, &r.Nonce, &r.Challenge, &fresh, &created, &expires, &r.ACR)
	if err != nil {
		return nil, translate(err, "authorization request")
	}
	if fresh > 0 {
		r.FreshAfter = fromMillis(fresh)
	}
	r.CreatedAt, r.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &r, nil
}

// DeleteAuthRequest removes a request once answered.
func (s *DB) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM oidc_requests WHERE id = ?`), id)
	return translate(err, "authorization request")
}

// CreateAuthCode stores a code (hashed).
func (s *DB) CreateAuthCode(ctx context.Context, c *account.AuthCode) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO oidc_codes (hash, client_id, user_id, redirect_uri, challenge, nonce, scope, auth_time, expires_at, amr)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.Challenge, c.Nonce, c.Scope, millis(c.AuthTime), millis(c.ExpiresAt), strings.Join(c.AMR, " "))
	return translate(err, "authorization code")
}

// RedeemAuthCode marks a code used, once: one conditional write, so two
// redemptions racing cannot both win.
func (s *DB) RedeemAuthCode(ctx context.Context, hash []byte, at time.Time) (*account.AuthCode, error) {
	var c account.AuthCode
	var authTime, expires int64
	var used sql.NullInt64
	var amr string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT hash, client_id, user_id, redirect_uri, challenge, nonce, scope, auth_time, expires_at, used_at, amr FROM oidc_codes WHERE hash = ?`), hash).
		Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.Challenge, &c.Nonce, &c.Scope, &authTime, &expires, &used, &amr)
	if err != nil {
		return nil, translate(err, "authorization code")
	}
	c.AuthTime, c.ExpiresAt, c.UsedAt, c.AMR = fromMillis(authTime), fromMillis(expires), optTime(used), strings.Fields(amr)
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE oidc_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL`), millis(at), hash)
	if err != nil {
		return nil, translate(err, "authorization code")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &c, presence.Errorf(presence.ErrConflict, "authorization code already used")
	}
	return &c, nil
}

// CreateAccessToken stores an access token (hashed).
func (s *DB) CreateAccessToken(ctx context.Context, t *account.AccessToken) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO oidc_tokens (hash, code_hash, client_id, user_id, scope, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
		t.Hash, t.CodeHash, t.ClientID, t.UserID, t.Scope, millis(t.ExpiresAt))
	return translate(err, "access token")
}

// AccessToken returns an access token by its hash.
func (s *DB) AccessToken(ctx context.Context, hash []byte) (*account.AccessToken, error) {
	var t account.AccessToken
	var expires int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT hash, code_hash, client_id, user_id, scope, expires_at FROM oidc_tokens WHERE hash = ?`), hash).
		Scan(&t.Hash, &t.CodeHash, &t.ClientID, &t.UserID, &t.Scope, &expires)
	if err != nil {
		return nil, translate(err, "access token")
	}
	t.ExpiresAt = fromMillis(expires)
	return &t, nil
}

// RevokeTokensOfCode deletes the access tokens a code gave.
func (s *DB) RevokeTokensOfCode(ctx context.Context, codeHash []byte) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM oidc_tokens WHERE code_hash = ?`), codeHash)
	if err != nil {
		return 0, translate(err, "access tokens")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Consent is the scope a user granted a client.
func (s *DB) Consent(ctx context.Context, userID, clientID string) (string, error) {
	var scope string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT scope FROM oidc_consents WHERE user_id = ? AND client_id = ?`), userID, clientID).Scan(&scope)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return scope, translate(err, "consent")
}

// SaveConsent records a user's consent to a client.
func (s *DB) SaveConsent(ctx context.Context, userID, clientID, scope string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO oidc_consents (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at`), userID, clientID, scope, millis(at))
	return translate(err, "consent")
}
