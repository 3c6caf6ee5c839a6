// Package client is a Go client of the Presence API for a relying party's
// backend: create sessions, read verdicts, enrol, verify, identify and
// erase people. It uses only the standard library. Every call takes a
// context first; every error answer of the API is an *Error carrying the
// API's code (CodeOf reads it), so a caller can switch on
// "session_expired" or "duplicate_face" without parsing messages.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one Presence server with one API key.
type Client struct {
	baseURL string
	apiKey  string
	http    *http.Client
}

// Option changes a Client.
type Option func(*Client)

// WithHTTPClient uses hc (timeouts, proxies, TLS) instead of a client with
// a 30-second timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the server at baseURL (e.g.
// "https://presence.example.com") using apiKey.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{baseURL: strings.TrimRight(baseURL, "/"), apiKey: apiKey, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is an error answer of the API.
type Error struct {
	Status  int             `json:"-"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("presence: %d %s: %s", e.Status, e.Code, e.Message)
}

// CodeOf is the API error code of err ("session_expired",
// "duplicate_face", ...), or "" when err is not an answer of the API (a
// network failure, a context cancelled).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// maxAnswer bounds what is read of one answer (a session with four audit
// images is well under it).
const maxAnswer = 32 << 20

func (c *Client) do(ctx context.Context, method, path, auth, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+auth)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("presence: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("presence: reading %s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error Error `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return &Error{Status: res.StatusCode, Code: "http_" + fmt.Sprint(res.StatusCode), Message: http.StatusText(res.StatusCode)}
		}
		e.Error.Status = res.StatusCode
		return &e.Error
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("presence: %s %s: %w", method, path, err)
	}
	return nil
}

func (c *Client) json(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	contentType := ""
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	return c.do(ctx, method, path, c.apiKey, contentType, body, out)
}

func esc(s string) string { return url.PathEscape(s) }

// SessionRequest is what a session is started with; every field is
// optional.
type SessionRequest struct {
	Mode           string `json:"mode,omitempty"` // "passive" (default) or "active"
	ReferenceImage []byte `json:"reference_image,omitempty"`
	SubjectID      string `json:"subject_id,omitempty"`
	AuditImages    int    `json:"audit_images,omitempty"`
	TTLSeconds     int    `json:"ttl_seconds,omitempty"`
	CorrelationID  string `json:"correlation_id,omitempty"`
	// Enrolable keeps the live face's template, to enrol, verify or
	// identify the session later.
	Enrolable      bool            `json:"enrolable,omitempty"`
	LightChallenge bool            `json:"light_challenge,omitempty"`
	Capture        *Capture        `json:"capture,omitempty"`
	Notice         json.RawMessage `json:"notice,omitempty"`
}

// Capture narrows the key's capture policy for a session.
type Capture struct {
	Frames               string `json:"frames,omitempty"` // "stream" or "any"
	RefuseVirtualCameras bool   `json:"refuse_virtual_cameras,omitempty"`
}

// CreatedSession is a new session; hand ID and ClientToken to the
// person's device (the token works once).
type CreatedSession struct {
	ID          string    `json:"id"`
	ClientToken string    `json:"client_token"`
	Mode        string    `json:"mode"`
	Status      string    `json:"status"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Reason is a machine-readable cause with a message for people.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Match is a face comparison's outcome.
type Match struct {
	Similarity float64 `json:"similarity"`
	Threshold  float64 `json:"threshold"`
	Match      bool    `json:"match"`
}

// Session is a session as the relying party reads it.
type Session struct {
	ID            string          `json:"id"`
	Mode          string          `json:"mode"`
	Status        string          `json:"status"` // created, in_progress, succeeded, failed, expired, declined
	CorrelationID string          `json:"correlation_id"`
	CreatedAt     time.Time       `json:"created_at"`
	ExpiresAt     time.Time       `json:"expires_at"`
	CompletedAt   *time.Time      `json:"completed_at"`
	Decision      string          `json:"decision"` // realface, fake, inconclusive
	Score         *float64        `json:"score"`
	Reasons       []Reason        `json:"reasons"`
	SubjectID     string          `json:"subject_id"`
	Match         *Match          `json:"match"`
	Capture       json.RawMessage `json:"capture"`
	Consent       json.RawMessage `json:"consent"`
	AuditImages   []struct {
		Index       int    `json:"index"`
		ContentType string `json:"content_type"`
		Data        []byte `json:"data"`
	} `json:"audit_images"`
}

// Erased says what a deletion removed.
type Erased struct {
	Session           bool `json:"session"`
	AuditImages       int  `json:"audit_images"`
	ReferenceTemplate bool `json:"reference_template"`
	Templates         int  `json:"templates"`
	Sessions          int  `json:"sessions"`
	ProbeTemplates    int  `json:"probe_templates"`
	FrameFingerprints int  `json:"frame_fingerprints"`
}

// CreateSession starts a session.
func (c *Client) CreateSession(ctx context.Context, r SessionRequest) (*CreatedSession, error) {
	var out CreatedSession
	return &out, c.json(ctx, http.MethodPost, "/v1/sessions", r, &out)
}

// Session reads a session and its verdict.
func (c *Client) Session(ctx context.Context, id string) (*Session, error) {
	var out Session
	return &out, c.json(ctx, http.MethodGet, "/v1/sessions/"+esc(id), nil, &out)
}

// DeleteSession erases a session.
func (c *Client) DeleteSession(ctx context.Context, id string) (Erased, error) {
	var out struct {
		Erased Erased `json:"erased"`
	}
	err := c.json(ctx, http.MethodDelete, "/v1/sessions/"+esc(id), nil, &out)
	return out.Erased, err
}

// UploadFrames sends one to five frames (JPEG, PNG or WebP) to a passive
// session with its client token, as a device would; it returns the
// session's status and, when the frames were too poor to judge, guidance.
// Backends use it for uploads they receive themselves.
func (c *Client) UploadFrames(ctx context.Context, sessionID, clientToken string, frames ...[]byte) (status string, guidance []Reason, err error) {
	var body bytes.Buffer
	contentType := "image/jpeg"
	switch len(frames) {
	case 0:
		return "", nil, errors.New("presence: no frame to upload")
	case 1:
		body.Write(frames[0])
	default:
		w := multipart.NewWriter(&body)
		for i, f := range frames {
			part, err := w.CreateFormFile("frame", fmt.Sprintf("frame%d", i+1))
			if err != nil {
				return "", nil, err
			}
			part.Write(f)
		}
		w.Close()
		contentType = w.FormDataContentType()
	}
	var out struct {
		Status   string   `json:"status"`
		Guidance []Reason `json:"guidance"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/sessions/"+esc(sessionID)+"/frames", clientToken, contentType, &body, &out)
	return out.Status, out.Guidance, err
}

// Subject is an enrolled person.
type Subject struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Templates int       `json:"templates"`
}

// Candidate is a subject and its similarity to a probe.
type Candidate struct {
	SubjectID  string  `json:"subject_id"`
	Similarity float64 `json:"similarity"`
	Match      bool    `json:"match"`
}

// Enrolment is the outcome of an enrolment: the subject's template count
// and the same face under other subjects.
type Enrolment struct {
	SubjectID  string      `json:"subject_id"`
	Templates  int         `json:"templates"`
	Duplicates []Candidate `json:"duplicates"`
}

// CreateSubject creates a person under your own id.
func (c *Client) CreateSubject(ctx context.Context, id string) (*Subject, error) {
	var out Subject
	return &out, c.json(ctx, http.MethodPost, "/v1/subjects", map[string]string{"id": id}, &out)
}

// Subject reads a person.
func (c *Client) Subject(ctx context.Context, id string) (*Subject, error) {
	var out Subject
	return &out, c.json(ctx, http.MethodGet, "/v1/subjects/"+esc(id), nil, &out)
}

// Enrol adds the face of a session that ended realface (and kept its
// template) to a subject.
func (c *Client) Enrol(ctx context.Context, subjectID, sessionID string) (*Enrolment, error) {
	var out Enrolment
	return &out, c.json(ctx, http.MethodPost, "/v1/subjects/"+esc(subjectID)+"/enrol", map[string]string{"session_id": sessionID}, &out)
}

// Verification is a 1:1 result: the match, and the session's liveness
// decision (a match on a session that was not realface verifies no one).
type Verification struct {
	SubjectID  string  `json:"subject_id"`
	SessionID  string  `json:"session_id"`
	Decision   string  `json:"decision"`
	Similarity float64 `json:"similarity"`
	Threshold  float64 `json:"threshold"`
	Match      bool    `json:"match"`
}

// Verify compares a session's face with a subject (1:1).
func (c *Client) Verify(ctx context.Context, subjectID, sessionID string) (*Verification, error) {
	var out Verification
	return &out, c.json(ctx, http.MethodPost, "/v1/subjects/"+esc(subjectID)+"/verify", map[string]string{"session_id": sessionID}, &out)
}

// Identify finds the subjects most like a session's face (1:N), best
// first, at most topK (1-50).
func (c *Client) Identify(ctx context.Context, sessionID string, topK int) ([]Candidate, error) {
	var out struct {
		Candidates []Candidate `json:"candidates"`
	}
	err := c.json(ctx, http.MethodPost, "/v1/identify", map[string]any{"session_id": sessionID, "top_k": topK}, &out)
	return out.Candidates, err
}

// DeleteSubject erases a person and everything derived from them.
func (c *Client) DeleteSubject(ctx context.Context, id string) (Erased, error) {
	var out struct {
		Erased Erased `json:"erased"`
	}
	err := c.json(ctx, http.MethodDelete, "/v1/subjects/"+esc(id), nil, &out)
	return out.Erased, err
}

// ExportSubject returns everything held about a person, as the JSON
// document the API answers (for a subject access request).
func (c *Client) ExportSubject(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.json(ctx, http.MethodGet, "/v1/subjects/"+esc(id)+"/export", nil, &out)
}
