package webapp

import (
	"context"
	"errors"
	"time"
)

// Names the external tests use for the answers of the Presence API.
type (
	CreatedSession = createdSession
	Verdict        = verdict
	Match          = match
	Reason         = reason
	Candidate      = candidate
	Enrolment      = enrolment
	Erased         = erased
)

// APIError is an error answer of the Presence API with an error code.
func APIError(status int, code string) error {
	return &apiError{Status: status, Code: code, Message: code}
}

// FakeAPI stands in for Presence in the app's rule tests: a test sets the
// calls it expects; any other call fails.
type FakeAPI struct {
	CreateSession func(ctx context.Context, mode, subjectID string, ttl time.Duration, correlation string) (*CreatedSession, error)
	Session       func(ctx context.Context, id string) (*Verdict, error)
	DeleteSession func(ctx context.Context, id string) error
	CreateSubject func(ctx context.Context, id string) error
	Enrol         func(ctx context.Context, subjectID, sessionID string) (*Enrolment, error)
	Identify      func(ctx context.Context, sessionID string) ([]Candidate, error)
	DeleteSubject func(ctx context.Context, id string) (Erased, error)
}

var errUnexpected = errors.New("fake Presence API: unexpected call")

func (f *FakeAPI) createSession(ctx context.Context, mode, subjectID string, ttl time.Duration, correlation string) (*createdSession, error) {
	if f.CreateSession == nil {
		return nil, errUnexpected
	}
	return f.CreateSession(ctx, mode, subjectID, ttl, correlation)
}

func (f *FakeAPI) session(ctx context.Context, id string) (*verdict, error) {
	if f.Session == nil {
		return nil, errUnexpected
	}
	return f.Session(ctx, id)
}

func (f *FakeAPI) deleteSession(ctx context.Context, id string) error {
	if f.DeleteSession == nil {
		return nil // the app deletes every session it read: not worth a field in each test
	}
	return f.DeleteSession(ctx, id)
}

func (f *FakeAPI) createSubject(ctx context.Context, id string) error {
	if f.CreateSubject == nil {
		return errUnexpected
	}
	return f.CreateSubject(ctx, id)
}

func (f *FakeAPI) enrol(ctx context.Context, subjectID, sessionID string) (*enrolment, error) {
	if f.Enrol == nil {
		return nil, errUnexpected
	}
	return f.Enrol(ctx, subjectID, sessionID)
}

func (f *FakeAPI) identify(ctx context.Context, sessionID string) ([]candidate, error) {
	if f.Identify == nil {
		return nil, errUnexpected
	}
	return f.Identify(ctx, sessionID)
}

func (f *FakeAPI) deleteSubject(ctx context.Context, id string) error {
	_, err := f.deleteSubjectCounts(ctx, id)
	return err
}

func (f *FakeAPI) deleteSubjectCounts(ctx context.Context, id string) (erased, error) {
	if f.DeleteSubject == nil {
		return erased{}, errUnexpected
	}
	return f.DeleteSubject(ctx, id)
}

// NewWithAPI builds the app on a fake Presence.
func NewWithAPI(cfg Config, api *FakeAPI) (*App, error) { return newApp(cfg, api) }

// TOTPCode is RFC 6238's code of a secret at a time step (tests check it
// against the RFC's vectors and compute codes as an authenticator app).
var TOTPCode = totpCode
