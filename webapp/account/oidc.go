package account

import (
	"context"
	"time"
)

// Client is an application that logs its users in through the app (an
// OpenID Connect relying party). A public client (no secret: a browser or
// mobile app) proves itself with PKCE alone; every client must use PKCE.
type Client struct {
	ID         string
	Name       string
	SecretHash []byte // nil for a public client
	// RedirectURIs and PostLogoutURIs are compared exactly.
	RedirectURIs   []string
	PostLogoutURIs []string
	CreatedAt      time.Time
}

// SigningKey signs ID tokens; retired keys stay published a while so
// tokens signed just before a rotation still verify.
type SigningKey struct {
	ID         string
	PrivatePEM []byte
	CreatedAt  time.Time
	RetiredAt  *time.Time
}

// AuthRequest is an authorization request waiting for its browser's face
// login and consent.
type AuthRequest struct {
	ID string
	// Browser is the hash of the binding cookie of the browser that made
	// it: no other browser can continue it.
	Browser     []byte
	ClientID    string
	RedirectURI string
	Scope       string
	State       string
	Nonce       string
	Challenge   string // PKCE S256 code challenge
	// FreshAfter: the face login must be at or after this time (max_age,
	// prompt=login); zero accepts any current login.
	FreshAfter time.Time
	// ACR is the level the client asked for (acr_values), "" for any.
	ACR       string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthCode is a single-use authorization code, stored hashed.
type AuthCode struct {
	Hash        []byte
	ClientID    string
	UserID      string
	RedirectURI string
	Challenge   string
	Nonce       string
	Scope       string
	AuthTime    time.Time
	// AMR is how the person logged in.
	AMR       []string
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// AccessToken lets a client read the userinfo of one user; stored
// hashed, revoked with the code it came from when that code is replayed.
type AccessToken struct {
	Hash      []byte
	CodeHash  []byte
	ClientID  string
	UserID    string
	Scope     string
	ExpiresAt time.Time
}

// ProviderStore keeps the app's OpenID Provider records.
type ProviderStore interface {
	CreateClient(ctx context.Context, c *Client) error
	Client(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context) ([]*Client, error)
	DeleteClient(ctx context.Context, id string) error

	SigningKeys(ctx context.Context) ([]SigningKey, error)
	AddSigningKey(ctx context.Context, k *SigningKey) error
	RetireSigningKey(ctx context.Context, id string, at time.Time) error

	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	AuthRequest(ctx context.Context, id string) (*AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error

	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// RedeemAuthCode marks the code used and returns it; a code already
	// used is returned with a conflict error (a replay: the caller
	// revokes what the first use gave).
	RedeemAuthCode(ctx context.Context, hash []byte, at time.Time) (*AuthCode, error)

	CreateAccessToken(ctx context.Context, t *AccessToken) error
	AccessToken(ctx context.Context, hash []byte) (*AccessToken, error)
	RevokeTokensOfCode(ctx context.Context, codeHash []byte) (int, error)

	// Consent is the scope the user granted the client ("" if none).
	Consent(ctx context.Context, userID, clientID string) (string, error)
	SaveConsent(ctx context.Context, userID, clientID, scope string, at time.Time) error
}
