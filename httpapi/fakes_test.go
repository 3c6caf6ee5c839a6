package httpapi_test

import (
	"context"
	"errors"
	"time"

	"presence"
	"presence/session"
	"presence/subjects"
)

// The fakes below are made of function fields: a test sets the ones it
// expects to be called; any other call fails loudly. They let the HTTP
// layer's own rules be tested without models.

var errUnexpected = errors.New("fake: unexpected call")

type fakeSessions struct {
	now             func() time.Time
	authenticate    func(ctx context.Context, bearer string) (*presence.APIKey, error)
	create          func(ctx context.Context, key *presence.APIKey, req session.CreateRequest) (*session.Created, error)
	get             func(ctx context.Context, id string) (*session.View, error)
	delete          func(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error)
	sessionForToken func(ctx context.Context, id, token string) (*presence.Session, error)
	submitFrames    func(ctx context.Context, id, token string, frames []session.Frame) (*presence.Session, error)
	stream          func(ctx context.Context, id string, conn session.StreamConn) error
}

func (f *fakeSessions) Now() time.Time {
	if f.now == nil {
		return time.Now()
	}
	return f.now()
}

func (f *fakeSessions) AuthenticateAPIKey(ctx context.Context, bearer string) (*presence.APIKey, error) {
	if f.authenticate == nil {
		return nil, errUnexpected
	}
	return f.authenticate(ctx, bearer)
}

func (f *fakeSessions) Create(ctx context.Context, key *presence.APIKey, req session.CreateRequest) (*session.Created, error) {
	if f.create == nil {
		return nil, errUnexpected
	}
	return f.create(ctx, key, req)
}

func (f *fakeSessions) Get(ctx context.Context, id string) (*session.View, error) {
	if f.get == nil {
		return nil, errUnexpected
	}
	return f.get(ctx, id)
}

func (f *fakeSessions) Delete(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error) {
	if f.delete == nil {
		return presence.Erased{}, errUnexpected
	}
	return f.delete(ctx, key, id)
}

func (f *fakeSessions) SessionForToken(ctx context.Context, id, token string) (*presence.Session, error) {
	if f.sessionForToken == nil {
		return nil, errUnexpected
	}
	return f.sessionForToken(ctx, id, token)
}

func (f *fakeSessions) SubmitFrames(ctx context.Context, id, token string, frames []session.Frame) (*presence.Session, error) {
	if f.submitFrames == nil {
		return nil, errUnexpected
	}
	return f.submitFrames(ctx, id, token, frames)
}

func (f *fakeSessions) Stream(ctx context.Context, id string, conn session.StreamConn) error {
	if f.stream == nil {
		return errUnexpected
	}
	return f.stream(ctx, id, conn)
}

type fakeSubjects struct {
	create   func(ctx context.Context, key *presence.APIKey, id string) (*presence.Subject, error)
	get      func(ctx context.Context, id string) (*presence.Subject, error)
	list     func(ctx context.Context, after string, limit int) ([]*presence.Subject, error)
	enrol    func(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*subjects.Enrolment, error)
	verify   func(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*subjects.Verification, error)
	identify func(ctx context.Context, key *presence.APIKey, sessionID string, topK int) (*subjects.Identification, error)
	delete   func(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error)
	export   func(ctx context.Context, key *presence.APIKey, id string) (*subjects.Export, error)
}

func (f *fakeSubjects) Export(ctx context.Context, key *presence.APIKey, id string) (*subjects.Export, error) {
	if f.export == nil {
		return nil, errUnexpected
	}
	return f.export(ctx, key, id)
}

func (f *fakeSubjects) Create(ctx context.Context, key *presence.APIKey, id string) (*presence.Subject, error) {
	if f.create == nil {
		return nil, errUnexpected
	}
	return f.create(ctx, key, id)
}

func (f *fakeSubjects) Get(ctx context.Context, id string) (*presence.Subject, error) {
	if f.get == nil {
		return nil, errUnexpected
	}
	return f.get(ctx, id)
}

func (f *fakeSubjects) List(ctx context.Context, after string, limit int) ([]*presence.Subject, error) {
	if f.list == nil {
		return nil, errUnexpected
	}
	return f.list(ctx, after, limit)
}

func (f *fakeSubjects) Enrol(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*subjects.Enrolment, error) {
	if f.enrol == nil {
		return nil, errUnexpected
	}
	return f.enrol(ctx, key, subjectID, sessionID)
}

func (f *fakeSubjects) Verify(ctx context.Context, key *presence.APIKey, subjectID, sessionID string) (*subjects.Verification, error) {
	if f.verify == nil {
		return nil, errUnexpected
	}
	return f.verify(ctx, key, subjectID, sessionID)
}

func (f *fakeSubjects) Identify(ctx context.Context, key *presence.APIKey, sessionID string, topK int) (*subjects.Identification, error) {
	if f.identify == nil {
		return nil, errUnexpected
	}
	return f.identify(ctx, key, sessionID, topK)
}

func (f *fakeSubjects) Delete(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error) {
	if f.delete == nil {
		return presence.Erased{}, errUnexpected
	}
	return f.delete(ctx, key, id)
}

type fakeStore struct {
	countRequest func(ctx context.Context, key string, window time.Time) (int, error)
	ping         func(ctx context.Context) error
}

func (f *fakeStore) CountRequest(ctx context.Context, key string, window time.Time) (int, error) {
	if f.countRequest == nil {
		return 0, errUnexpected
	}
	return f.countRequest(ctx, key, window)
}

func (f *fakeStore) Ping(ctx context.Context) error {
	if f.ping == nil {
		return nil
	}
	return f.ping(ctx)
}
