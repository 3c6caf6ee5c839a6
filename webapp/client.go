package webapp

import (
	"context"
	"net/http"
	"time"

	"presence/client"
)

// apiClient calls the Presence API with the app's API key through the Go
// client package, as any relying party's backend can. It knows only the
// public API.
type apiClient struct {
	api *client.Client
}

func newAPIClient(base, key string, hc *http.Client) *apiClient {
	var opts []client.Option
	if hc != nil {
		opts = append(opts, client.WithHTTPClient(hc))
	}
	return &apiClient{api: client.New(base, key, opts...)}
}

// apiError is an error answer of the API (the client package's).
type apiError = client.Error

// codeOf is the API error code of err, or "" for other failures.
func codeOf(err error) string { return client.CodeOf(err) }

type createdSession struct {
	ID          string
	ClientToken string
	ExpiresAt   time.Time
}

type reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type match struct {
	Similarity float64
	Match      bool
}

type verdict struct {
	ID        string
	Status    string
	Decision  string
	Reasons   []reason
	SubjectID string
	Match     *match
}

type candidate struct {
	SubjectID  string  `json:"subject_id"`
	Similarity float64 `json:"similarity"`
	Match      bool    `json:"match"`
}

type enrolment struct {
	Duplicates []candidate
}

type erased struct {
	Templates int
	Sessions  int
}

func (c *apiClient) createSession(ctx context.Context, mode, subjectID string, ttl time.Duration, correlation string) (*createdSession, error) {
	// Registration enrols the face and face-only login identifies it:
	// both need the template kept.
	s, err := c.api.CreateSession(ctx, client.SessionRequest{Mode: mode, SubjectID: subjectID, TTLSeconds: int(ttl / time.Second), CorrelationID: correlation, Enrolable: true})
	if err != nil {
		return nil, err
	}
	return &createdSession{ID: s.ID, ClientToken: s.ClientToken, ExpiresAt: s.ExpiresAt}, nil
}

func (c *apiClient) session(ctx context.Context, id string) (*verdict, error) {
	s, err := c.api.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &verdict{ID: s.ID, Status: s.Status, Decision: s.Decision, SubjectID: s.SubjectID}
	for _, r := range s.Reasons {
		v.Reasons = append(v.Reasons, reason{Code: r.Code, Message: r.Message})
	}
	if s.Match != nil {
		v.Match = &match{Similarity: s.Match.Similarity, Match: s.Match.Match}
	}
	return v, nil
}

func (c *apiClient) deleteSession(ctx context.Context, id string) error {
	_, err := c.api.DeleteSession(ctx, id)
	return err
}

func (c *apiClient) createSubject(ctx context.Context, id string) error {
	_, err := c.api.CreateSubject(ctx, id)
	return err
}

func (c *apiClient) enrol(ctx context.Context, subjectID, sessionID string) (*enrolment, error) {
	en, err := c.api.Enrol(ctx, subjectID, sessionID)
	if err != nil {
		return nil, err
	}
	return &enrolment{Duplicates: candidates(en.Duplicates)}, nil
}

func candidates(in []client.Candidate) []candidate {
	out := make([]candidate, len(in))
	for i, c := range in {
		out[i] = candidate{SubjectID: c.SubjectID, Similarity: c.Similarity, Match: c.Match}
	}
	return out
}

func (c *apiClient) identify(ctx context.Context, sessionID string) ([]candidate, error) {
	cands, err := c.api.Identify(ctx, sessionID, 5)
	return candidates(cands), err
}

func (c *apiClient) deleteSubject(ctx context.Context, id string) error {
	_, err := c.deleteSubjectCounts(ctx, id)
	return err
}

func (c *apiClient) deleteSubjectCounts(ctx context.Context, id string) (erased, error) {
	e, err := c.api.DeleteSubject(ctx, id)
	return erased{Templates: e.Templates, Sessions: e.Sessions}, err
}
