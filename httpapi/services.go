package httpapi

import (
	"context"
	"time"

	"presence"
	"presence/session"
	"presence/subjects"
)

// Sessions is what the API asks of the session service. The HTTP layer's
// own rules (authentication, rate limits, parsing, errors) are tested
// against fakes of it; end-to-end tests use the real one.
type Sessions interface {
	Now() time.Time
	AuthenticateAPIKey(ctx context.Context, bearer string) (*presence.APIKey, error)
	Create(ctx context.Context, key *presence.APIKey, req session.CreateRequest) (*session.Created, error)
	Get(ctx context.Context, id string) (*session.View, error)
	Delete(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error)
	SessionForToken(ctx context.Context, id, token string) (*presence.Session, error)
	SubmitFrames(ctx context.Context, id, token string, frames []session.Frame) (*presence.Session, error)
	Stream(ctx context.Context, id string, conn session.StreamConn) error
}

// Subjects is what the API asks of enrolment and matching.
type Subjects interface {
	Create(ctx context.Context, key *presence.APIKey, id string) (*presence.Subject, error)
	Get(ctx context.Context, id string) (*presence.Subject, error)
	List(ctx context.Context, after string, limit int) ([]*presence.Subject, error)
	Enrol(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*subjects.Enrolment, error)
	Verify(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*subjects.Verification, error)
	Identify(ctx context.Context, key *presence.APIKey, sessionID string, topK int) (*subjects.Identification, error)
	Delete(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error)
	Export(ctx context.Context, key *presence.APIKey, id string) (*subjects.Export, error)
}

// Store is the little the API reads from the store itself: the shared
// request counts of the rate limit, and whether it answers.
type Store interface {
	presence.RateLimiter
	Ping(ctx context.Context) error
}

var (
	_ Sessions = (*session.Service)(nil)
	_ Subjects = (*subjects.Service)(nil)
)
